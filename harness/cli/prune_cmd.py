"""``python -m harness prune``: calibrate once, write every requested pruned variant."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from harness.data.calibration import CalibrationSource
from harness.gate.variants import default_calibration
from harness.models.adapters import dead_slot_families
from harness.models.loading import resolve
from harness.models.registry import DEFAULT_MODEL
from harness.prune.calibrate import CalibrationSettings
from harness.prune.masks import parse_masks
from harness.prune.methods import MethodOptions, all_methods, default_methods
from harness.prune.select import ALLOCATIONS
from harness.prune.sweep import SweepRequest, run_sweep

DEFAULT_OUT = Path("runs/pruned")
DEFAULT_CACHE = Path("runs/cache")


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"ratio must be a number like 0.25, got {text!r}") from exc
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prune",
        help="prune experts and write verified Hugging Face checkpoints",
        description=(
            "Calibrate once per seed, score experts with every requested method, keep M=(1-ratio)*N "
            "experts per layer, write a Hugging Face checkpoint per variant (sliced experts and router, "
            "updated config, pruning.json) and verify it against the original with pruned experts masked."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--model", default=DEFAULT_MODEL, help="registry name or local checkpoint directory")
    p.add_argument(
        "--method",
        action="append",
        metavar="METHOD",
        help=f"saliency metric, repeatable ({', '.join(all_methods())}; 'easy-ep' also accepted); default: "
        "the six scoring methods. naee searches, per layer, the kept set whose routed output best "
        "reconstructs the unpruned layer's on calibration tokens",
    )
    p.add_argument(
        "--ratio",
        action="append",
        type=_ratio,
        metavar="R",
        help="fraction of experts removed per layer, repeatable; default 0.5",
    )
    p.add_argument("--seed", action="append", type=int, metavar="S", help="calibration seed, repeatable; default 0")
    p.add_argument(
        "--calibration",
        action="append",
        metavar="[DOMAIN=]PATH",
        help="calibration JSONL/JSON file, repeatable; two or more files = multi-domain calibration "
        "(per-domain scores averaged). Default: the model's own calibration set if it ships one",
    )
    p.add_argument(
        "--allocation",
        choices=ALLOCATIONS,
        default="uniform",
        help="uniform: the same keep count in every layer; global: the same total, spread over layers "
        "by each expert's share of its layer's saliency (padded dead slots; only families whose "
        "router has a bias: " + ", ".join(dead_slot_families()) + ")",
    )
    p.add_argument("--samples", type=int, default=128, help="calibration samples per domain")
    p.add_argument("--max-length", type=int, default=2048, help="calibration tokens per sample")
    p.add_argument("--batch-size", type=int, default=4, help="calibration batch size")
    p.add_argument(
        "--ean-tokens",
        type=int,
        default=256,
        help="tokens per sample (random, seeded) on which EAN evaluates every expert; 0 = all tokens",
    )
    p.add_argument(
        "--mask",
        action="append",
        default=[],
        metavar="[NAME=]FILE",
        help="build a variant from given kept experts (repeatable): the study's expert_mask.json (a list "
        "per MoE layer of kept ids) or a moegate pruning.json; validated against the model first. "
        "With --mask and no --method, only the masks are built",
    )
    p.add_argument(
        "--reconstruction-tokens",
        type=int,
        default=4,
        help="tokens per sample (random, seeded) on which every kept set's reconstruction loss, and NAEE's "
        "search, are evaluated",
    )
    p.add_argument(
        "--naee-max-subsets",
        type=int,
        default=MethodOptions.naee_max_subsets,
        help="NAEE enumerates every kept set when a layer has at most this many (C(16,8) = 12,870); "
        "above it: greedy removal by loss, then swap refinement (pruning.json: search.strategy)",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory receiving one sub-directory per variant")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="calibration statistics cache")
    p.add_argument("--hf-cache-dir", default=None, help="Hugging Face hub cache for registry models")
    p.add_argument("--download", action="store_true", help="allow downloading registry models from the hub")
    p.add_argument("--device", default="cpu", help="device for calibration (cpu, cuda, cuda:1, ...)")
    p.add_argument(
        "--calibration-mode",
        choices=("auto", "full", "layerwise"),
        default="auto",
        help="full: load the whole model on --device; layerwise: stream its decoder layers from the checkpoint "
        "(one layer's weights resident at a time; same statistics); auto (default): full when the checkpoint "
        "fits the device's free memory. Recorded in pruning.json",
    )
    p.add_argument(
        "--offload-dir",
        type=Path,
        default=None,
        help="layerwise: where tensors the checkpoint stores in another layout (per-expert weights fused on "
        "load) are written while the sweep runs (default: a temporary folder); removed afterwards",
    )
    p.add_argument(
        "--activation-dir",
        type=Path,
        default=None,
        help="layerwise: keep the calibration hidden states between layers in files here instead of on --device "
        "(for calibration sets whose states do not fit); refused before any forward when it cannot be written or "
        "its disk is too small",
    )
    p.add_argument("--no-verify", action="store_true", help="skip the reload-and-compare check")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print a JSON summary of the written variants")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    model = resolve(args.model, cache_dir=args.hf_cache_dir, allow_download=args.download)
    sources = (
        [CalibrationSource.parse(s) for s in args.calibration] if args.calibration else default_calibration(args.model)
    )
    settings = CalibrationSettings(
        n_samples=args.samples,
        max_length=args.max_length,
        batch_size=args.batch_size,
        ean_tokens_per_sample=args.ean_tokens or None,
        reconstruction_tokens_per_sample=args.reconstruction_tokens,
    )
    if args.naee_max_subsets < 1 or args.reconstruction_tokens < 1:
        raise ValueError("--naee-max-subsets and --reconstruction-tokens must be at least 1")
    masks = parse_masks(args.mask)
    results = run_sweep(
        model,
        SweepRequest(
            methods=args.method or ([] if masks else list(default_methods())),
            ratios=args.ratio or [0.5],
            seeds=args.seed or [0],
            sources=sources,
            settings=settings,
            calibration_name="bio" if not args.calibration else None,
            allocation=args.allocation,
            naee_max_subsets=args.naee_max_subsets,
            masks=masks,
            verify=not args.no_verify,
            device=args.device,
            calibration_mode=args.calibration_mode,
            offload_dir=args.offload_dir,
            activation_dir=args.activation_dir,
        ),
        args.out,
        args.cache_dir,
        show_progress=not args.quiet,
    )
    losses = {r.path.name: r.manifest.reconstruction_loss for r in results}
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "path": str(r.path),
                        "method": r.variant.method,
                        "ratio": r.variant.ratio,
                        "seed": r.variant.seed,
                        "reused": r.reused,
                        "reconstruction_loss": losses[r.path.name],
                    }
                    for r in results
                ],
                indent=2,
            )
        )
        return 0
    print(reconstruction_table(losses))
    return 0


def reconstruction_table(losses: dict[str, dict[int, float | None]]) -> str:
    """Mean and worst per-layer reconstruction loss of each variant (lower = the layer distorted less)."""
    rows = ["| variant | mean layer loss | worst layer (loss) |", "|---|---|---|"]
    for name, per_layer in losses.items():
        known = {k: v for k, v in per_layer.items() if v is not None}
        if not known:
            rows.append(f"| {name} | - (no calibration data) | - |")
            continue
        worst = max(known, key=lambda k: known[k])
        rows.append(f"| {name} | {sum(known.values()) / len(known):.4g} | {worst} ({known[worst]:.4g}) |")
    return "\n".join(rows)
