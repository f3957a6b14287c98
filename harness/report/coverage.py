"""Calibration-coverage report: how much routing mass the removed experts carried on each evaluation
set and domain (measured on the unpruned model), which domain lost most, and how much the kept expert
sets of different methods / calibration seeds overlap (Jaccard, averaged over layers).
"""

from __future__ import annotations

import hashlib
import json
from itertools import combinations
from pathlib import Path
from typing import Any

from harness.benchmarks import get_task
from harness.generate.base import chat_prompt
from harness.measure.tasks import load_items
from harness.models.adapters import adapter_for
from harness.models.loading import ResolvedModel, load_model, load_tokenizer
from harness.prune.calibrate import CalibrationBatchSet, CalibrationSettings, collect_stats
from harness.prune.manifest import PruningManifest
from harness.prune.methods import get_method


def routing_mass(
    model: ResolvedModel, tasks: list[str], data_dir: Path | None, limit: int = 32, max_length: int = 1024
) -> dict[str, dict[int, list[float]]]:
    """task -> layer -> share of the routing weight each expert receives on the task's prompts."""
    tokenizer = load_tokenizer(model.path)
    domains = {}
    for task in tasks:
        items = load_items(get_task(task), data_dir, limit)
        domains[task] = [
            tokenizer(chat_prompt(tokenizer, it.prompt, model.chat_template_kwargs), add_special_tokens=False)[
                "input_ids"
            ][:max_length]
            for it in items
        ]
    batches = CalibrationBatchSet(
        domains=domains, sources={t: {} for t in tasks}, hash=hashlib.sha256(json.dumps(domains).encode()).hexdigest()
    )
    net = load_model(model.path)
    gate = get_method("gate")
    stats = collect_stats(
        net, adapter_for(net.config), batches, CalibrationSettings(), 0, tokenizer.pad_token_id, gate.statistics, False
    )
    out: dict[str, dict[int, list[float]]] = {}
    for task, layers in stats.layers.items():
        for layer, st in layers.items():
            mass = st.sums[gate.statistics[0].name]
            out.setdefault(task, {})[layer] = (mass / mass.sum()).tolist()
    return out


def kept_experts(variant_dir: Path) -> dict[int, set[int]]:
    return {layer: set(kept) for layer, kept in PruningManifest.read(variant_dir).kept_experts.items()}


def removed_mass(mass: dict[int, list[float]], kept: dict[int, set[int]]) -> float:
    """Mean over layers of the routing share the removed experts received."""
    per_layer = [sum(share for e, share in enumerate(shares) if e not in kept[layer]) for layer, shares in mass.items()]
    return sum(per_layer) / len(per_layer)


def jaccard(a: dict[int, set[int]], b: dict[int, set[int]]) -> float:
    return sum(len(a[layer] & b[layer]) / len(a[layer] | b[layer]) for layer in a) / len(a)


def coverage_report(
    model: ResolvedModel, variant_dirs: list[Path], tasks: list[str], data_dir: Path | None, limit: int = 32
) -> dict:
    mass = routing_mass(model, tasks, data_dir, limit)
    kept = {d.name: kept_experts(d) for d in variant_dirs}
    variants: dict[str, dict[str, Any]] = {}
    for name, k in kept.items():
        per_task = {t: removed_mass(mass[t], k) for t in tasks}
        per_domain: dict[str, list[float]] = {}
        for t, value in per_task.items():
            per_domain.setdefault(get_task(t).domain, []).append(value)
        domain_mean = {d: sum(v) / len(v) for d, v in per_domain.items()}
        variants[name] = {
            "removed_mass_per_task": per_task,
            "removed_mass_per_domain": domain_mean,
            "domain_lost_most": max(domain_mean.items(), key=lambda kv: kv[1])[0],
        }
    overlap = {f"{a} vs {b}": jaccard(kept[a], kept[b]) for a, b in combinations(sorted(kept), 2)}
    return {"model": model.name, "tasks": tasks, "items_per_task": limit, "variants": variants, "jaccard": overlap}
