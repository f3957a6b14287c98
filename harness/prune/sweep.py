"""Prune a model into every requested (method, ratio, seed) variant from one calibration per seed.

calibrate (cached) -> score -> select -> masked-original reference logits (while the original is
loaded) -> free the original -> stream each pruned checkpoint -> reload and verify.
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
from harness.prune.saliency import canonical_method, layer_scores
from harness.prune.select import ALLOCATIONS, allocate_global, plan_keep, select_kept, slot_layout
from harness.prune.stats import CalibrationStats
from harness.prune.surgery import write_pruned_checkpoint
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


def _variant_key(fingerprint: str, variant: Variant, calibration_hash: str | None, settings: CalibrationSettings) -> str:
    payload = [fingerprint, variant.method, variant.ratio, variant.seed, calibration_hash,
               settings.ean_tokens_per_sample if variant.method == "ean" else None]
    if variant.allocation != "uniform":  # uniform keys stay what they were: existing variants are reused
        payload.append(variant.allocation)
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
              log: Callable[[str], None] = print, allocation: str = "uniform") -> list[VariantResult]:
    """Write every variant; returns one result per (method, ratio, seed)."""
    methods = [canonical_method(m) for m in methods]
    config_json = read_config_json(model.path)
    adapter = adapter_for(config_json)
    from transformers import AutoConfig

    routing = adapter.routing_info(AutoConfig.from_pretrained(model.path))
    plans = {r: plan_keep(r, routing) for r in ratios}  # refuse bad ratios before any work
    if allocation not in ALLOCATIONS:
        raise ValueError(f"unknown allocation {allocation!r}; choose from {', '.join(ALLOCATIONS)}")
    if allocation != "uniform":
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
        for method in methods:
            for ratio in ratios:
                variant = Variant(method, ratio, seed, allocation)
                key = _variant_key(fingerprint, variant, batches.hash if batches and method != "random" else None, settings)
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
                           show_progress, log) if batches and data_methods else None
        layers = [b.layer for b in adapter.moe_blocks(loaded)]
        verify_ids, verify_mask = _verify_inputs(batches.domains, pad_id) if batches else _random_inputs(config_json, seed)
        pending = []
        for variant, key, path in todo:
            scores = {l: layer_scores(variant.method, stats, l, routing.num_experts, seed) for l in layers}
            if allocation == "uniform":
                kept = {l: select_kept(scores[l], plans[variant.ratio], routing) for l in layers}
            else:
                kept = allocate_global(scores, plans[variant.ratio], routing)
            slots = slot_layout(kept, routing)
            with masked_routing(loaded, adapter, kept):
                reference = logits_of(loaded, verify_ids.to(loaded.device), verify_mask.to(loaded.device))
            manifest = _manifest(model, fingerprint, variant, key, calibration_name, batches, settings, routing,
                                 kept, scores, slots)
            pending.append((variant, path, kept, manifest, reference))
        del loaded
        gc.collect()
        for variant, path, kept, manifest, reference in pending:
            started = time.perf_counter()
            slots = {int(l): ids for l, ids in manifest["slots"].items()}
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


def _random_inputs(config_json: dict, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    vocab = config_json.get("vocab_size") or config_json.get("text_config", {}).get("vocab_size", 100)
    ids = torch.randint(0, vocab, (VERIFY_PROMPTS, 16), generator=torch.Generator().manual_seed(seed))
    return ids, torch.ones_like(ids)


def _stats_for(model: torch.nn.Module, adapter: Any, batches: Any, settings: CalibrationSettings, seed: int,
               fingerprint: str, cache_dir: Path, pad_id: int, show_progress: bool,
               log: Callable[[str], None]) -> CalibrationStats:
    path = stats_cache_path(cache_dir, fingerprint, batches, settings, seed)
    if path.is_file():
        log(f"calibration statistics reused from {path}")
        return CalibrationStats.load(path)
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
        "live_experts": {str(l): len(ids) for l, ids in kept.items()},
        "calibration": None if batches is None or variant.method == "random" else {
            "name": calibration_name, "hash": batches.hash, "sources": batches.sources,
            "n_samples": settings.n_samples, "max_length": settings.max_length,
            "ean_tokens_per_sample": settings.ean_tokens_per_sample,
        },
        "kept_experts": {str(l): ids for l, ids in kept.items()},
        "slots": {str(l): ids for l, ids in slots.items()},  # checkpoint slot -> original expert (null: dead)
        "scores": {str(l): [round(float(x), 8) for x in s] for l, s in scores.items()},
        "libraries": library_versions(),
    }
