"""Prune a model into every requested (method, ratio, seed) variant from one calibration per seed.

calibrate (cached) -> score (or, NAEE, search kept sets) -> select -> reconstruction loss of every kept
set -> masked-original reference logits (while the original is loaded) -> free the original -> stream
each pruned checkpoint -> reload and verify.
An output directory whose pruning.json has the same variant key is reused, not rebuilt.
"""

from __future__ import annotations

import gc
import hashlib
import json
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from harness.batching import pad_batch
from harness.data.calibration import CalibrationSource
from harness.models.adapters import adapter_for, require_dead_slots
from harness.models.fingerprint import checkpoint_fingerprint
from harness.models.loading import ResolvedModel, load_model, load_tokenizer, read_config_json
from harness.prune.calibrate import CalibrationSettings, build_calibration, collect_stats, stats_cache_path
from harness.prune.masks import load_mask
from harness.prune.reconstruction import DEFAULT_MAX_SUBSETS, LayerReconstruction, naee_select
from harness.prune.saliency import SEARCH_METHODS, canonical_method, layer_scores
from harness.prune.select import ALLOCATIONS, allocate_global, plan_keep, select_kept, slot_layout
from harness.prune.stats import CalibrationStats
from harness.prune.surgery import moe_layers_on_disk, write_pruned_checkpoint
from harness.prune.verify import logits_of, masked_routing, verify_checkpoint

VERIFY_PROMPTS = 2
VERIFY_TOKENS = 64


@dataclass(frozen=True)
class Variant:
    method: str
    ratio: float
    seed: int
    allocation: str = "uniform"  # or "global": non-uniform keep counts (see select.allocate_global)

    @property
    def ratio_tag(self) -> str:
        text = f"{self.ratio:.3f}".rstrip("0")
        return text + "0" * max(0, 4 - len(text))  # 0.5 -> 0.50, 0.125 -> 0.125

    def dirname(self, model_name: str, calibration: str) -> str:
        tail = "" if self.allocation == "uniform" else f"-{self.allocation}"
        return f"{model_name}-{self.method}-r{self.ratio_tag}-s{self.seed}-{calibration}{tail}"


@dataclass
class VariantResult:
    variant: Variant
    path: Path
    reused: bool
    kept: dict[int, list[int]]
    manifest: dict = field(default_factory=dict)


def library_versions() -> dict[str, str]:
    import safetensors
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__,
            "safetensors": safetensors.__version__, "python": platform.python_version()}


def _variant_key(fingerprint: str, variant: Variant, calibration_hash: str | None, settings: CalibrationSettings,
                 naee_max_subsets: int = DEFAULT_MAX_SUBSETS, mask_sha256: str | None = None) -> str:
    payload = [fingerprint, variant.method, variant.ratio, variant.seed, calibration_hash,
               settings.ean_tokens_per_sample if variant.method == "ean" else None]
    if variant.allocation != "uniform":  # uniform keys stay what they were: existing variants are reused
        payload.append(variant.allocation)
    if variant.method in SEARCH_METHODS:
        payload += [settings.reconstruction_tokens_per_sample, naee_max_subsets]
    if mask_sha256 is not None:
        payload.append(mask_sha256)
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


def _existing(path: Path, key: str) -> dict | None:
    manifest = path / "pruning.json"
    if not manifest.is_file():
        return None
    data = json.loads(manifest.read_text())
    return data if data.get("variant_key") == key and (data.get("verification") or {}).get("ok", True) else None


def _verify_inputs(batches_domains: dict[str, list[list[int]]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    return pad_batch([s[:VERIFY_TOKENS] for per in batches_domains.values() for s in per][:VERIFY_PROMPTS], pad_id)


def run_sweep(model: ResolvedModel, methods: list[str], ratios: list[float], seeds: list[int],
              sources: list[CalibrationSource], out_dir: Path, cache_dir: Path,
              settings: CalibrationSettings = CalibrationSettings(), calibration_name: str | None = None,
              verify: bool = True, device: str = "cpu", show_progress: bool = True,
              log: Callable[[str], None] = print, allocation: str = "uniform",
              naee_max_subsets: int = DEFAULT_MAX_SUBSETS, masks: dict[str, Path] | None = None) -> list[VariantResult]:
    """Write every variant; returns one result per (method, ratio, seed), then one per (mask, seed): a mask
    NAME's variant has method ``mask-NAME`` and the mask's ratio."""
    methods = [canonical_method(m) for m in methods]
    config_json = read_config_json(model.path)
    adapter = adapter_for(config_json)
    from transformers import AutoConfig

    routing = adapter.routing_info(AutoConfig.from_pretrained(model.path))
    plans = {r: plan_keep(r, routing) for r in ratios}  # refuse bad ratios before any work
    given = {f"mask-{name}": load_mask(name, path, moe_layers_on_disk(model.path, adapter), routing, adapter)
             for name, path in (masks or {}).items()}  # refuse bad masks before any work too
    if allocation not in ALLOCATIONS:
        raise ValueError(f"unknown allocation {allocation!r}; choose from {', '.join(ALLOCATIONS)}")
    if allocation != "uniform":
        searched = [m for m in methods if m in SEARCH_METHODS]
        if searched:
            raise ValueError(f"--allocation {allocation} spreads scores over layers; {', '.join(searched)} chooses "
                             "kept sets per layer and has no scores to spread: use --allocation uniform")
        require_dead_slots(adapter)
    data_methods = [m for m in methods if m != "random"]
    if data_methods and not sources:
        raise ValueError(f"methods {data_methods} need calibration data: pass --calibration, or fetch the default "
                         "biomedical pool once with `python -m harness data download medinst-calibration`")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise PermissionError(f"output directory {out_dir} is not writable: {exc}") from exc
    calibration_name = calibration_name or "+".join(s.domain for s in sources) or "none"

    fingerprint = checkpoint_fingerprint(model.path)
    tokenizer = load_tokenizer(model.path)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    loaded: torch.nn.Module | None = None
    results: list[VariantResult] = []
    for seed in seeds:
        batches = build_calibration(sources, tokenizer, model.chat_template_kwargs, settings, seed) if sources else None
        todo: list[tuple[Variant, str, Path]] = []
        wanted = [Variant(method, ratio, seed, allocation) for method in methods for ratio in ratios]
        wanted += [Variant(name, m.ratio(routing.num_experts), seed, "uniform" if m.uniform else "nonuniform")
                   for name, m in given.items()]
        for variant in wanted:
            data_hash = batches.hash if batches and variant.method != "random" and variant.method not in given else None
            key = _variant_key(fingerprint, variant, data_hash, settings, naee_max_subsets,
                               given[variant.method].sha256 if variant.method in given else None)
            path = out_dir / variant.dirname(model.name, calibration_name)
            found = _existing(path, key)
            if found is not None:
                kept = {int(k): v for k, v in found["kept_experts"].items()}
                results.append(VariantResult(variant, path, True, kept, found))
                log(f"reuse {path.name} (identical variant already written)")
            else:
                todo.append((variant, key, path))
        if not todo:
            continue
        if loaded is None:
            loaded = load_model(model.path, device=device)
        stats = _stats_for(loaded, adapter, batches, settings, seed, fingerprint, cache_dir, pad_id,
                           show_progress, log) if batches else None
        blocks = adapter.moe_blocks(loaded)
        verify_ids, verify_mask = _verify_inputs(batches.domains, pad_id) if batches else _random_inputs(config_json, seed)
        chosen = _choose(todo, stats, adapter, blocks, routing, plans, allocation, seed, naee_max_subsets, log,
                         {name: m.kept for name, m in given.items()})
        pending = []
        for (variant, key, path), (kept, scores, losses, search) in zip(todo, chosen):
            slots = slot_layout(kept, routing)
            with masked_routing(loaded, adapter, kept):
                reference = logits_of(loaded, verify_ids.to(loaded.device), verify_mask.to(loaded.device))
            manifest = _manifest(model, fingerprint, variant, key, calibration_name, batches, settings, routing,
                                 kept, scores, slots)
            manifest["reconstruction_loss"] = losses  # per layer, None without calibration data
            if search is not None:
                manifest["naee"] = search
                manifest["naee_search"] = search["search"]  # exact | greedy (| mixed across layers)
            if variant.method in given:
                mask = given[variant.method]
                manifest |= {"method": "mask", "allocation": variant.allocation,
                             "mask": {"name": mask.name, "path": str(mask.path), "sha256": mask.sha256,
                                      "format": mask.format}}
            pending.append((variant, path, kept, manifest, reference))
        del loaded
        gc.collect()
        for variant, path, kept, manifest, reference in pending:
            started = time.perf_counter()
            slots = {int(layer): ids for layer, ids in manifest["slots"].items()}
            report = write_pruned_checkpoint(model.path, path, adapter, slots, routing.num_experts, manifest)
            manifest["surgery"] = report.as_dict()
            manifest["surgery"]["seconds"] = round(time.perf_counter() - started, 3)
            if verify:
                result = verify_checkpoint(path, reference, verify_ids, verify_mask)
                manifest["verification"] = result.as_dict()
                if not result.ok:
                    (path / "pruning.json").write_text(json.dumps(manifest, indent=2) + "\n")
                    raise RuntimeError(
                        f"{path.name}: verification failed (clean load={result.loaded_cleanly}, max |logit diff| "
                        f"{result.max_abs_logit_diff:.3g} > {result.tolerance}); see {path / 'pruning.json'}"
                    )
            (path / "pruning.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
            shrink = report.expert_bytes_after / max(report.expert_bytes_before, 1)
            log(f"wrote {path.name}: experts {report.expert_bytes_before:,} -> {report.expert_bytes_after:,} bytes "
                f"({shrink:.3f}x, expected {manifest['experts_kept'] / routing.num_experts:.3f}x)"
                + (f", verified max |diff| {manifest['verification']['max_abs_logit_diff']:.2e}" if verify else ""))
            results.append(VariantResult(variant, path, False, kept, manifest))
    return results


Choice = tuple[dict[int, list[int]], dict[int, torch.Tensor], dict[str, float | None], dict | None]


def _choose(todo: list[tuple[Variant, str, Path]], stats: CalibrationStats | None, adapter: Any, blocks: list,
            routing: Any, plans: dict, allocation: str, seed: int, naee_max_subsets: int,
            log: Callable[[str], None], fixed: dict[str, dict[int, list[int]]]) -> list[Choice]:
    """Kept experts, scores, per-layer reconstruction losses and (NAEE) the search, for every variant.
    Layer by layer, so one layer's expert outputs on the token sample are in memory at a time."""
    layers = [b.layer for b in blocks]
    kept: list[dict[int, list[int]]] = []
    scores: list[dict[int, torch.Tensor]] = []
    for variant, _, _ in todo:
        if variant.method in SEARCH_METHODS or variant.method in fixed:
            kept.append(dict(fixed.get(variant.method, {})))
            scores.append({})
            continue
        per_layer = {layer: layer_scores(variant.method, stats, layer, routing.num_experts, seed) for layer in layers}
        scores.append(per_layer)
        kept.append({layer: select_kept(per_layer[layer], plans[variant.ratio], routing) for layer in layers}
                    if allocation == "uniform" else allocate_global(per_layer, plans[variant.ratio], routing))
    losses: list[dict[str, float | None]] = [{str(layer): None for layer in layers} for _ in todo]
    searches: list[dict | None] = [{"search": None, "max_subsets": naee_max_subsets, "evaluations": 0, "seconds": 0.0}
                                   if v.method in SEARCH_METHODS else None for v, _, _ in todo]
    if stats is None:
        if any(v.method in SEARCH_METHODS for v, _, _ in todo):
            raise ValueError("naee needs calibration data (its kept sets are chosen on calibration tokens)")
        return list(zip(kept, scores, losses, searches))
    everything = list(range(routing.num_experts))
    for block in blocks:
        samples = [stats.layers[d][block.layer].hidden_sample for d in stats.domains]
        if any(sample is None for sample in samples):
            raise RuntimeError(f"layer {block.layer}: calibration statistics without a reconstruction token sample")
        recon = [LayerReconstruction(adapter, block, sample, routing.num_experts) for sample in samples if sample is not None]
        for n, (variant, _, _) in enumerate(todo):
            if variant.method in SEARCH_METHODS:
                started = time.perf_counter()
                choice = naee_select(recon, plans[variant.ratio], routing, naee_max_subsets)
                kept[n][block.layer] = choice.kept
                # NAEE's score of an expert: how much the layer's loss grows when it alone is removed
                without = [tuple(e for e in everything if e != i) for i in everything]
                scores[n][block.layer] = torch.tensor(
                    [sum(v) / len(recon) for v in zip(*(r.losses(without) for r in recon))], dtype=torch.float64)
                search = searches[n]
                assert search is not None
                search["search"] = choice.search if search["search"] in (None, choice.search) else "mixed"
                search["evaluations"] += choice.evaluations
                search["seconds"] = round(search["seconds"] + time.perf_counter() - started, 3)
            losses[n][str(block.layer)] = sum(r.loss(kept[n][block.layer]) for r in recon) / len(recon)
        del recon
    for (variant, _, _), search in zip(todo, searches):
        if search is not None:
            log(f"naee {variant.ratio:g}: {search['search']} search, {search['evaluations']:,} kept sets evaluated "
                f"in {search['seconds']:.1f} s")
    return list(zip(kept, scores, losses, searches))


def _random_inputs(config_json: dict, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    vocab = config_json.get("vocab_size") or config_json.get("text_config", {}).get("vocab_size", 100)
    ids = torch.randint(0, vocab, (VERIFY_PROMPTS, 16), generator=torch.Generator().manual_seed(seed))
    return ids, torch.ones_like(ids)


def _stats_for(model: torch.nn.Module, adapter: Any, batches: Any, settings: CalibrationSettings, seed: int,
               fingerprint: str, cache_dir: Path, pad_id: int, show_progress: bool,
               log: Callable[[str], None]) -> CalibrationStats:
    path = stats_cache_path(cache_dir, fingerprint, batches, settings, seed)
    if path.is_file():
        cached = CalibrationStats.load(path)
        if cached.has_hidden_samples():
            log(f"calibration statistics reused from {path}")
            return cached
        log(f"calibration statistics in {path} predate the reconstruction token sample: collecting again")
    stats = collect_stats(model, adapter, batches, settings, seed, pad_id, show_progress)
    stats.save(path)
    return stats


def _manifest(model: ResolvedModel, fingerprint: str, variant: Variant, key: str, calibration_name: str,
              batches: Any, settings: CalibrationSettings, routing: Any, kept: dict[int, list[int]],
              scores: dict[int, torch.Tensor], slots: dict[int, list[int | None]]) -> dict:
    return {
        "format": "moegate-pruning/1",
        "variant_key": key,
        "source": {"name": model.name, "path": str(model.path),
                   "hub_id": model.spec.hub_id if model.spec else None,
                   "revision": model.revision, "fingerprint": fingerprint},
        "method": variant.method, "ratio": variant.ratio, "seed": variant.seed,
        "experts_before": routing.num_experts, "experts_kept": len(next(iter(slots.values()))),
        "top_k": routing.top_k, "n_group": routing.n_group, "allocation": variant.allocation,
        "live_experts": {str(layer): len(ids) for layer, ids in kept.items()},
        "calibration": None if batches is None or variant.method == "random" else {
            "name": calibration_name, "hash": batches.hash, "sources": batches.sources,
            "n_samples": settings.n_samples, "max_length": settings.max_length,
            "ean_tokens_per_sample": settings.ean_tokens_per_sample,
        },
        "kept_experts": {str(layer): ids for layer, ids in kept.items()},
        "slots": {str(layer): ids for layer, ids in slots.items()},  # checkpoint slot -> original expert (null: dead)
        "scores": {str(layer): [round(float(x), 8) for x in s] for layer, s in scores.items()},
        "libraries": library_versions(),
    }
