"""Prune a model into every requested (method, ratio, seed) variant from one calibration per seed.

plan (refuse bad requests before any work) -> calibrate (cached) -> choose (score and select, or search,
plus every kept set's reconstruction loss) -> reference logits of the masked original (while it is
loaded) -> free the original -> write each checkpoint -> verify it -> its pruning.json, written once.
An output directory whose pruning.json has the same variant key is reused, not rebuilt.
"""

from __future__ import annotations

import gc
import hashlib
import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from harness.atomic import atomic_dir
from harness.batching import pad_batch
from harness.data.calibration import CalibrationSource
from harness.models.adapters import MoEAdapter, MoEBlock, RoutingInfo, adapter_for, require_dead_slots
from harness.models.fingerprint import checkpoint_fingerprint
from harness.models.loading import ResolvedModel, load_tokenizer, read_config_json
from harness.models.streaming import (
    CalibrationMode,
    choose_mode,
    model_for_calibration,
    offload_folder,
    weights_on_device,
)
from harness.prune.calibrate import CalibrationBatchSet, CalibrationSettings, build_calibration, calibration_stats
from harness.prune.manifest import CalibrationRecord, ManifestError, PruningManifest, Source
from harness.prune.masks import ExpertMask, load_mask
from harness.prune.methods import (
    MethodOptions,
    PruningMethod,
    ScoringMethod,
    SearchMethod,
    get_method,
    statistics_of,
)
from harness.prune.reconstruction import LayerReconstruction
from harness.prune.select import ALLOCATIONS, KeepPlan, allocate_global, plan_keep, select_kept, slot_layout
from harness.prune.stats import CalibrationStats
from harness.prune.surgery import moe_layers_on_disk, write_pruned_tensors
from harness.prune.verify import logits_of, masked_routing, verify_checkpoint

VERIFY_PROMPTS = 2
VERIFY_TOKENS = 64

Allocation = Literal["uniform", "global"]


@dataclass(frozen=True)
class Variant:
    method: str  # a method's name, or mask-NAME for a given mask
    ratio: float
    seed: int
    allocation: str = "uniform"  # global: non-uniform keep counts (select.allocate_global); nonuniform: a mask's

    @property
    def ratio_tag(self) -> str:
        text = f"{self.ratio:.3f}".rstrip("0")
        return text + "0" * max(0, 4 - len(text))  # 0.5 -> 0.50, 0.125 -> 0.125

    def dirname(self, model_name: str, calibration: str) -> str:
        tail = "" if self.allocation == "uniform" else f"-{self.allocation}"
        return f"{model_name}-{self.method}-r{self.ratio_tag}-s{self.seed}-{calibration}{tail}"


@dataclass(frozen=True)
class SweepRequest:
    """Which variants to build and how. ``masks``: NAME -> a given mask file, one variant per (mask, seed)."""

    methods: list[str]
    ratios: list[float]
    seeds: list[int] = field(default_factory=lambda: [0])
    sources: list[CalibrationSource] = field(default_factory=list)
    settings: CalibrationSettings = field(default_factory=CalibrationSettings)
    calibration_name: str | None = None
    allocation: Allocation = "uniform"
    naee_max_subsets: int = MethodOptions.naee_max_subsets
    masks: dict[str, Path] = field(default_factory=dict)
    verify: bool = True
    device: str = "cpu"
    #: full: the whole model on ``device``; layerwise: decoder layers streamed from the checkpoint
    #: (harness.models.streaming); auto: full when the checkpoint fits the device's free memory
    calibration_mode: CalibrationMode = "auto"
    offload_dir: Path | None = None  # layerwise: parent of the folder for rewritten tensors (default: temp)
    activation_dir: Path | None = None  # layerwise: hidden states between layers spill here (default: on device)

    def options(self, seed: int) -> MethodOptions:
        return MethodOptions(
            seed,
            self.settings.ean_tokens_per_sample,
            self.settings.reconstruction_tokens_per_sample,
            self.naee_max_subsets,
        )


@dataclass
class VariantResult:
    variant: Variant
    path: Path
    reused: bool
    kept: dict[int, list[int]]
    manifest: PruningManifest


@dataclass
class SweepPlan:
    """A validated request against one model: everything the later stages need."""

    model: ResolvedModel
    request: SweepRequest
    adapter: MoEAdapter
    routing: RoutingInfo
    config_json: dict
    methods: dict[str, PruningMethod]
    keep_plans: dict[float, KeepPlan]
    masks: dict[str, ExpertMask]  # by variant method (mask-NAME)
    calibration_name: str
    fingerprint: str
    out_dir: Path

    def variants(self, seed: int) -> list[Variant]:
        wanted = [Variant(m, r, seed, self.request.allocation) for m in self.methods for r in self.request.ratios]
        return wanted + [
            Variant(name, m.ratio(self.routing.num_experts), seed, "uniform" if m.uniform else "nonuniform")
            for name, m in self.masks.items()
        ]

    def variant_key(self, variant: Variant, batches: CalibrationBatchSet | None) -> str:
        mask = self.masks.get(variant.method)
        method = self.methods.get(variant.method)
        data_hash = batches.hash if batches and method is not None and method.needs_data else None
        payload = [
            self.fingerprint,
            variant.method,
            variant.ratio,
            variant.seed,
            data_hash,
            variant.allocation,
            *(method.key_fields(self.request.options(variant.seed)) if method else []),
            mask.sha256 if mask else None,
        ]
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()

    def path(self, variant: Variant) -> Path:
        return self.out_dir / variant.dirname(self.model.name, self.calibration_name)


def library_versions() -> dict[str, str]:
    import safetensors
    import transformers

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "safetensors": safetensors.__version__,
        "python": platform.python_version(),
    }


def plan_sweep(model: ResolvedModel, request: SweepRequest, out_dir: Path) -> SweepPlan:
    """Refuse anything that cannot be built (ratios, masks, allocation, missing data, unwritable output)
    before a model is loaded or a file written."""
    from transformers import AutoConfig

    methods = {method.name: method for method in map(get_method, request.methods)}
    config_json = read_config_json(model.path)
    adapter = adapter_for(config_json)
    routing = adapter.routing_info(AutoConfig.from_pretrained(model.path))
    keep_plans = {r: plan_keep(r, routing) for r in request.ratios}
    masks = {
        f"mask-{name}": load_mask(name, path, moe_layers_on_disk(model.path, adapter), routing, adapter)
        for name, path in request.masks.items()
    }
    if request.allocation not in ALLOCATIONS:
        raise ValueError(f"unknown allocation {request.allocation!r}; choose from {', '.join(ALLOCATIONS)}")
    if request.allocation != "uniform":
        searched = [name for name, m in methods.items() if m.searches]
        if searched:
            raise ValueError(
                f"--allocation {request.allocation} spreads scores over layers; {', '.join(searched)} "
                "chooses kept sets per layer and has no scores to spread: use --allocation uniform"
            )
        require_dead_slots(adapter)
    needing = [name for name, m in methods.items() if m.needs_data]
    if needing and not request.sources:
        raise ValueError(
            f"methods {needing} need calibration data: pass --calibration, or fetch the default "
            "biomedical pool once with `python -m harness data download medinst-calibration`"
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise PermissionError(f"output directory {out_dir} is not writable: {exc}") from exc
    name = request.calibration_name or "+".join(s.domain for s in request.sources) or "none"
    return SweepPlan(
        model,
        request,
        adapter,
        routing,
        config_json,
        methods,
        keep_plans,
        masks,
        name,
        checkpoint_fingerprint(model.path),
        out_dir,
    )


def run_sweep(
    model: ResolvedModel,
    request: SweepRequest,
    out_dir: Path,
    cache_dir: Path,
    *,
    show_progress: bool = True,
    log: Callable[[str], None] = print,
) -> list[VariantResult]:
    """Write every variant; one result per (method, ratio, seed), then one per (mask, seed): a mask NAME's
    variant has method ``mask-NAME`` and the mask's ratio."""
    plan = plan_sweep(model, request, out_dir)
    tokenizer = load_tokenizer(model.path)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    results: list[VariantResult] = []
    for seed in request.seeds:
        batches = (
            build_calibration(request.sources, tokenizer, model.chat_template_kwargs, request.settings, seed)
            if request.sources
            else None
        )
        todo: list[tuple[Variant, str]] = []
        for variant in plan.variants(seed):
            key = plan.variant_key(variant, batches)
            found = _existing(plan.path(variant), key)
            if found is None:
                todo.append((variant, key))
                continue
            results.append(VariantResult(variant, plan.path(variant), True, found.kept_experts, found))
            log(f"reuse {plan.path(variant).name} (identical variant already written)")
        if todo:
            results += _build(plan, todo, batches, seed, pad_id, cache_dir, show_progress, log)
    return results


def _existing(path: Path, key: str) -> PruningManifest | None:
    try:
        manifest = PruningManifest.read(path)
    except ManifestError:
        return None
    return manifest if manifest.variant_key == key and manifest.verified else None


@dataclass
class Choice:
    kept: dict[int, list[int]]
    scores: dict[int, torch.Tensor] = field(default_factory=dict)
    losses: dict[int, float | None] = field(default_factory=dict)
    search: dict[str, Any] | None = None  # a search method's account (PruningManifest.search)


def _build(
    plan: SweepPlan,
    todo: list[tuple[Variant, str]],
    batches: CalibrationBatchSet | None,
    seed: int,
    pad_id: int,
    cache_dir: Path,
    show_progress: bool,
    log: Callable[[str], None],
) -> list[VariantResult]:
    request = plan.request
    mode = choose_mode(request.calibration_mode, plan.model.path, request.device)
    log(f"calibration mode {mode} ({request.calibration_mode})")
    verify_ids, verify_mask = _verify_inputs(batches, pad_id) if batches else _random_inputs(plan.config_json, seed)
    with model_for_calibration(plan.model.path, mode, request.device, request.offload_dir) as loaded:
        stats = (
            calibration_stats(
                loaded,
                plan.adapter,
                batches,
                request.settings,
                seed,
                statistics_of([plan.methods[v.method].name for v, _ in todo if v.method in plan.methods]),
                plan.fingerprint,
                cache_dir,
                pad_id,
                show_progress,
                log,
                request.activation_dir,
            )
            if batches
            else None
        )
        choices = _choose(plan, [v for v, _ in todo], stats, plan.adapter.moe_blocks(loaded), seed, log)
        pending = []
        for (variant, key), choice in zip(todo, choices):
            with masked_routing(loaded, plan.adapter, choice.kept):
                reference = logits_of(loaded, verify_ids.to(request.device), verify_mask.to(request.device))
            pending.append((variant, _manifest(plan, variant, key, batches, choice, mode), reference))
    gc.collect()
    results = []
    for variant, manifest, reference in pending:
        path = plan.path(variant)
        _write(plan, path, manifest, reference if request.verify else None, verify_ids, verify_mask, mode)
        shrink = manifest.surgery["expert_bytes_after"] / max(manifest.surgery["expert_bytes_before"], 1)
        log(
            f"wrote {path.name}: experts {manifest.surgery['expert_bytes_before']:,} -> "
            f"{manifest.surgery['expert_bytes_after']:,} bytes ({shrink:.3f}x, expected "
            f"{manifest.experts_kept / plan.routing.num_experts:.3f}x)"
            + (
                f", verified max |diff| {manifest.verification['max_abs_logit_diff']:.2e}"
                if manifest.verification
                else ""
            )
        )
        results.append(VariantResult(variant, path, False, manifest.kept_experts, manifest))
    return results


def _write(
    plan: SweepPlan,
    path: Path,
    manifest: PruningManifest,
    reference: torch.Tensor | None,
    verify_ids: torch.Tensor,
    verify_mask: torch.Tensor,
    mode: str,
) -> None:
    """Surgery, verification and the manifest in a temporary directory renamed into place when complete. A
    variant that fails verification is kept (its pruning.json says why) and the sweep stops."""
    started = time.perf_counter()
    with atomic_dir(path) as tmp:
        report = write_pruned_tensors(plan.model.path, tmp, plan.adapter, manifest.slots, plan.routing.num_experts)
        manifest.surgery = dict(report.as_dict(), seconds=round(time.perf_counter() - started, 3))
        if reference is not None and mode == "layerwise":
            with offload_folder(plan.request.offload_dir) as folder:  # the variant streamed like its source
                result = verify_checkpoint(tmp, reference, verify_ids, verify_mask, offload_dir=folder)
            manifest.verification = result.as_dict()
        elif reference is not None:
            manifest.verification = verify_checkpoint(tmp, reference, verify_ids, verify_mask).as_dict()
        manifest.write(tmp)
    if not manifest.verified:
        assert manifest.verification is not None
        raise RuntimeError(
            f"{path.name}: verification failed (clean load={manifest.verification['loaded_cleanly']}, max |logit "
            f"diff| {manifest.verification['max_abs_logit_diff']:.3g} > {manifest.verification['tolerance']}); "
            f"see {path / 'pruning.json'}"
        )


def _choose(
    plan: SweepPlan,
    variants: list[Variant],
    stats: CalibrationStats | None,
    blocks: list[MoEBlock],
    seed: int,
    log: Callable[[str], None],
) -> list[Choice]:
    """Kept experts, scores, per-layer reconstruction losses and (search methods) the search account, for
    every variant. Layer by layer, so one layer's expert outputs on the token sample are in memory at a time."""
    layers = [b.layer for b in blocks]
    num_experts = plan.routing.num_experts
    choices: list[Choice] = []
    for variant in variants:
        method = plan.methods.get(variant.method)
        if isinstance(method, ScoringMethod):
            scores = {layer: method.scores(stats, layer, num_experts, seed) for layer in layers}
            keep = plan.keep_plans[variant.ratio]
            kept = (
                {layer: select_kept(scores[layer], keep, plan.routing) for layer in layers}
                if variant.allocation == "uniform"
                else allocate_global(scores, keep, plan.routing)
            )
            choices.append(Choice(kept, scores))
        elif isinstance(method, SearchMethod):
            choices.append(Choice({}, search=method.new_account(plan.request.options(seed))))
        else:
            choices.append(Choice(dict(plan.masks[variant.method].kept)))
        choices[-1].losses = {layer: None for layer in layers}
    if stats is None:  # data-free methods and masks only: plan_sweep refused every method that needs data
        return choices
    options = plan.request.options(seed)
    for block in blocks:
        with weights_on_device(block.block):
            _choose_layer(plan, variants, choices, stats, block, options)
    for variant, choice in zip(variants, choices):
        if choice.search is not None:
            log(
                f"{variant.method} {variant.ratio:g}: {choice.search['strategy']} search, "
                f"{choice.search['evaluations']:,} kept sets evaluated in {choice.search['seconds']:.1f} s"
            )
    return choices


def _choose_layer(
    plan: SweepPlan,
    variants: list[Variant],
    choices: list[Choice],
    stats: CalibrationStats,
    block: MoEBlock,
    options: MethodOptions,
) -> None:
    """One layer's search (search methods) and reconstruction losses (every variant)."""
    num_experts = plan.routing.num_experts
    samples = [stats.layers[d][block.layer].hidden_sample for d in stats.domains]
    recon = [LayerReconstruction(plan.adapter, block, s, num_experts) for s in samples if s is not None]
    if len(recon) != len(samples):
        raise RuntimeError(f"layer {block.layer}: calibration statistics without a reconstruction token sample")
    for variant, choice in zip(variants, choices):
        method = plan.methods.get(variant.method)
        if isinstance(method, SearchMethod) and choice.search is not None:
            started = time.perf_counter()
            found = method.choose_layer(recon, plan.keep_plans[variant.ratio], plan.routing, options)
            choice.kept[block.layer], choice.scores[block.layer] = found.kept, found.scores
            previous = choice.search["strategy"]
            choice.search["strategy"] = found.strategy if previous in (None, found.strategy) else "mixed"
            choice.search["evaluations"] += found.evaluations
            choice.search["seconds"] = round(choice.search["seconds"] + time.perf_counter() - started, 3)
        choice.losses[block.layer] = sum(r.loss(choice.kept[block.layer]) for r in recon) / len(recon)


def _verify_inputs(batches: CalibrationBatchSet, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    return pad_batch([s[:VERIFY_TOKENS] for per in batches.domains.values() for s in per][:VERIFY_PROMPTS], pad_id)


def _random_inputs(config_json: dict, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    vocab = config_json.get("vocab_size") or config_json.get("text_config", {}).get("vocab_size", 100)
    ids = torch.randint(0, vocab, (VERIFY_PROMPTS, 16), generator=torch.Generator().manual_seed(seed))
    return ids, torch.ones_like(ids)


def _manifest(
    plan: SweepPlan, variant: Variant, key: str, batches: CalibrationBatchSet | None, choice: Choice, mode: str
) -> PruningManifest:
    model, settings = plan.model, plan.request.settings
    method = plan.methods.get(variant.method)
    mask = plan.masks.get(variant.method)
    slots = slot_layout(choice.kept, plan.routing)
    calibration = None
    if batches is not None and method is not None and method.needs_data:
        calibration = CalibrationRecord(
            plan.calibration_name,
            batches.hash,
            batches.sources,
            settings.n_samples,
            settings.max_length,
            settings.ean_tokens_per_sample,
            mode,
        )
    return PruningManifest(
        variant_key=key,
        source=Source(
            model.name, str(model.path), model.spec.hub_id if model.spec else None, model.revision, plan.fingerprint
        ),
        method="mask" if mask else variant.method,
        ratio=variant.ratio,
        seed=variant.seed,
        experts_before=plan.routing.num_experts,
        experts_kept=len(next(iter(slots.values()))),
        top_k=plan.routing.top_k,
        n_group=plan.routing.n_group,
        allocation=variant.allocation,
        live_experts={layer: len(ids) for layer, ids in choice.kept.items()},
        calibration=calibration,
        kept_experts=choice.kept,
        slots=slots,
        scores={layer: [round(float(x), 8) for x in s] for layer, s in choice.scores.items()},
        libraries=library_versions(),
        reconstruction_loss=choice.losses,
        search=choice.search,
        mask={"name": mask.name, "path": str(mask.path), "sha256": mask.sha256, "format": mask.format}
        if mask
        else None,
    )
