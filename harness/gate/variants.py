"""The variants a gate run checks: (model, method, ratio, seed, calibration, quant), built once and reused.

Every variant of a model comes from one ``run_sweep`` (one calibration pass per seed and domain
set); pytest-xdist workers share the work through a file lock, and an identical variant already on
disk is reused (``pruning.json`` variant key).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from harness.benchmarks import get_dataset
from harness.data.calibration import CalibrationSource
from harness.data.dataset import default_path, resolve_path
from harness.gate.modes import CALIBRATIONS, Calibration, Quant
from harness.gate.shared_work import exclusive
from harness.models.loading import ResolvedModel, resolve
from harness.models.registry import get_spec
from harness.models.streaming import CalibrationMode
from harness.prune.sweep import SweepRequest, Variant, run_sweep


def model_name(model: str) -> str:
    """Short name for ids and reports: the registry name, or the checkpoint directory's name."""
    return model if get_spec(model) else Path(model).name


@dataclass(frozen=True)
class VariantSpec:
    model: str  # registry name or checkpoint directory
    method: str
    ratio: float
    seed: int = 0
    calibration: Calibration = "biomedical"
    quant: Quant = "none"
    mask: str | None = None  # kept-expert mask file (method ``mask-NAME``; ratio: the mask's)
    skip_beta: float | None = None  # dynamic expert skipping at generation time (harness.generate.skipping)

    @property
    def model_name(self) -> str:
        return model_name(self.model)

    @property
    def id(self) -> str:
        """Readable pytest id: ``qwen3-30b-a3b-easy_ep-r0.50-s0`` (+ ``-dual``, ``-gptq-w4a16``)."""
        parts = [
            self.model_name,
            self.method,
            f"r{Variant(self.method, self.ratio, self.seed).ratio_tag}",
            f"s{self.seed}",
        ]
        parts += [self.calibration] if self.calibration != "biomedical" else []
        parts += [self.quant] if self.quant != "none" else []
        parts += [f"skip{self.skip_beta:g}"] if self.skip_beta is not None else []
        return "-".join(parts)

    def parameters(self) -> dict[str, str]:
        params = {
            "model": self.model_name,
            "method": self.method,
            "ratio": f"{self.ratio:g}",
            "seed": str(self.seed),
            "calibration": self.calibration,
            "quant": self.quant,
        }
        return params | ({"skip_beta": f"{self.skip_beta:g}"} if self.skip_beta is not None else {})

    def with_skip(self, beta: float | None) -> VariantSpec:
        from dataclasses import replace

        return replace(self, skip_beta=beta)


@cache
def mask_spec(model: str, name: str, path: Path, seed: int, calibration: Calibration, quant: Quant) -> VariantSpec:
    """The variant of a kept-expert mask, its ratio read from the mask (validated against the model; read
    once, though pytest asks for the variants once per test function)."""
    from transformers import AutoConfig

    from harness.models.adapters import adapter_for
    from harness.models.loading import read_config_json
    from harness.prune.masks import load_mask
    from harness.prune.surgery import moe_layers_on_disk

    checkpoint = resolve(model).path
    adapter = adapter_for(read_config_json(checkpoint))
    routing = adapter.routing_info(AutoConfig.from_pretrained(checkpoint))
    mask = load_mask(name, path, moe_layers_on_disk(checkpoint, adapter), routing, adapter)
    return VariantSpec(model, f"mask-{name}", mask.ratio(routing.num_experts), seed, calibration, quant, str(path))


def calibration_sources(model: str, calibration: str, files: dict[str, Path]) -> list[CalibrationSource]:
    """Biomedical: MedINST instruction records; dual: plus a general-domain set (``--calibration-file``)."""
    if calibration not in CALIBRATIONS:
        raise ValueError(f"unknown calibration {calibration!r}; choose from {', '.join(CALIBRATIONS)}")
    spec = get_spec(model)
    wanted = ["biomedical"] + (["general"] if calibration == "dual" else [])
    sources = []
    for domain in wanted:
        if domain in files:
            path = files[domain]
        elif spec is not None and spec.data_dir is not None and domain in spec.calibration:
            path = spec.data_dir / spec.calibration[domain]
        elif domain == "biomedical":
            path = resolve_path(get_dataset("medinst-calibration"))  # the train pool, never the test records
        else:
            raise ValueError(
                f"dual calibration of {model} needs a general-domain set: --calibration-file general=PATH "
                "(any JSONL of instruction records, e.g. Dolci)"
            )
        sources.append(CalibrationSource(domain, Path(path)))
    return sources


def default_calibration(model: str) -> list[CalibrationSource]:
    """The biomedical calibration set a prune of ``model`` uses when none is named: an embedded model's own,
    else the cached MedINST32 pool (``python -m harness data download medinst-calibration``); none when
    that is not there (methods that need data are then refused by the sweep's plan)."""
    spec = get_spec(model)
    if spec is not None and spec.data_dir is not None and "biomedical" in spec.calibration:
        path = spec.data_dir / spec.calibration["biomedical"]
    else:
        path = default_path(get_dataset("medinst-calibration"))
    return [CalibrationSource("biomedical", path)] if path.is_file() else []


def build(
    specs: list[VariantSpec],
    out_dir: Path,
    files: dict[str, Path],
    device: str = "cpu",
    resolved: dict[str, ResolvedModel] | None = None,
    calibration_mode: CalibrationMode = "auto",
) -> dict[VariantSpec, Path]:
    """Write (or reuse) every variant; one sweep per (model, calibration)."""
    paths: dict[VariantSpec, Path] = {}
    groups: dict[tuple[str, str], list[VariantSpec]] = {}
    for spec in specs:
        groups.setdefault((spec.model, spec.calibration), []).append(spec)
    out_dir.mkdir(parents=True, exist_ok=True)
    for (model, calibration), group in groups.items():
        ref = (resolved or {}).get(model) or resolve(model)
        with exclusive(out_dir / f".{Path(model).name}-{calibration}.lock"):
            scored = [s for s in group if s.mask is None]
            results = run_sweep(
                ref,
                SweepRequest(
                    sorted({s.method for s in scored}),
                    sorted({s.ratio for s in scored}),
                    sorted({s.seed for s in group}),
                    calibration_sources(model, calibration, files),
                    calibration_name=calibration,
                    device=device,
                    calibration_mode=calibration_mode,
                    masks={s.method.removeprefix("mask-"): Path(s.mask) for s in group if s.mask},
                ),
                out_dir,
                out_dir / ".stats",
                show_progress=False,
                log=lambda _m: None,
            )
        by_key = {(r.variant.method, r.variant.ratio, r.variant.seed): r.path for r in results}
        for spec in group:
            pruned = by_key[(spec.method, spec.ratio, spec.seed)]
            if spec.quant == "none":
                paths[spec] = pruned
                continue
            from harness.prune.quantize import QuantSettings, quantize

            quantized = pruned.with_name(f"{pruned.name}-{spec.quant}")
            with exclusive(out_dir / f".{quantized.name}.lock"):
                quantize(
                    pruned,
                    quantized,
                    calibration_sources(model, calibration, files),
                    spec.seed,
                    QuantSettings(scheme=spec.quant),
                )
            paths[spec] = quantized
    return paths
