"""``python -m tools.tiny_moe``: rebuild, profile and stress the embedded tiny biomedical MoE."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.models.registry import FIXTURES_DIR

# tools.tiny_moe.build.STAGES, spelled out so the CLI starts without importing torch (tested equal)
STAGE_NAMES = ("base", "robust", "skills", "choices", "fct", "layouts")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.tiny_moe", description="the embedded tiny MoE: rebuild, profile, pruning effects"
    )
    cmds = parser.add_subparsers(dest="command", required=True)
    b = cmds.add_parser(
        "build",
        help="regenerate the synthetic world's data and retrain the model (32-38 min on 2 "
        "cores, by host; resumes an interrupted build after its last finished stage; says whether the "
        "weights reproduce the shipped checkpoint byte for byte)",
    )
    b.add_argument("--out", type=Path, default=FIXTURES_DIR / "tiny-moe")
    b.add_argument("--data-only", action="store_true", help="only rewrite the datasets (seconds)")
    b.add_argument(
        "--fresh",
        action="store_true",
        help="start from scratch even if an interrupted build left its stage checkpoint in OUT/.build-progress",
    )
    b.add_argument(
        "--stage",
        choices=STAGE_NAMES[1:],
        default=None,
        help="only run this training stage on the checkpoint already in --out, which must have every "
        "earlier stage (robust ~4 min, skills ~3 min, choices ~10 min, fct ~9 min, layouts 2-9 min; "
        "stages 3-6 stop early once their goals are met)",
    )
    b.add_argument(
        "--stop-after",
        choices=STAGE_NAMES,
        default=None,
        help="train only up to this stage: OUT/model and manifest.json hold the partly trained model and "
        "OUT/.build-progress its checkpoint, so a later plain build resumes from it and --stage runs "
        "the next stages on it (on a copy of OUT, also under a changed recipe: how to try recipe "
        "changes on the later stages without retraining the first)",
    )
    b.set_defaults(run=_build)
    pr = cmds.add_parser("profile", help="accuracy and summary fidelity of a model on the synthetic sets")
    pr.add_argument("--model", default="tiny-moe", help="registry name or checkpoint directory")
    pr.add_argument("--limit", type=int, default=None, help="items per set")
    pr.set_defaults(run=_profile)
    r = cmds.add_parser("routing", help="routing histogram per layer: biomedical vs general calibration data")
    r.add_argument("--model", default="tiny-moe")
    r.set_defaults(run=_routing)
    e = cmds.add_parser("effects", help="prune with every method x ratio and profile each variant")
    e.add_argument("--method", action="append")
    e.add_argument("--ratio", action="append", type=float)
    e.add_argument("--calibration", action="append", metavar="[DOMAIN=]PATH")
    e.add_argument("--out", type=Path, default=Path("runs/effects"))
    e.add_argument("--limit", type=int, default=None)
    e.add_argument("--save", type=Path, default=None, help="write the table as JSON here")
    e.set_defaults(run=_effects)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


def _build(args: argparse.Namespace) -> int:
    from tools.tiny_moe.build import build, compare_checkpoint

    if args.stop_after is not None and (args.stage is not None or args.data_only):
        raise SystemExit("build: --stop-after is for a from-scratch build; it cannot go with --stage or --data-only")
    full = not args.data_only and args.stage is None and args.stop_after is None  # only a full build is comparable
    shipped = FIXTURES_DIR / "tiny-moe" / "manifest.json"
    # read before building: --out may be the fixture itself
    reference = json.loads(shipped.read_text()) if full and shipped.is_file() else {}
    manifest = build(
        args.out, skip_model=args.data_only, stage=args.stage, fresh=args.fresh, stop_after=args.stop_after
    )
    summary = {
        "out": str(args.out),
        "settings_sha256": manifest["settings_sha256"],
        "data_files": len(manifest["data"]),
    }
    if full:
        summary["against_shipped_checkpoint"] = comparison = compare_checkpoint(manifest, reference)
    print(json.dumps(summary, indent=2))
    if full:
        print(_COMPARISON[comparison].format(shipped=shipped))
    return 0


_COMPARISON = {
    "identical": "the built model is byte-identical to the shipped checkpoint ({shipped})",
    "differs": "the built model differs from the shipped checkpoint ({shipped}): expected on a CPU whose floating "
    "point differs from the one that built it; the release-bar line above says whether this build met its "
    "targets",
    "other-settings": "built with other generator settings than the shipped checkpoint ({shipped}): not compared",
    "unknown": "the shipped manifest ({shipped}) records no model hashes: not compared",
}


def _profile(args: argparse.Namespace) -> int:
    from harness.generate.backends import open_backend
    from harness.models.loading import resolve
    from tools.tiny_moe.effects import DATA_DIR
    from tools.tiny_moe.evaluate import profile

    with open_backend(resolve(args.model).path) as backend:
        result = profile(backend, DATA_DIR, args.limit)
    print(json.dumps(result.as_dict(), indent=2))
    return 0


def _effects(args: argparse.Namespace) -> int:
    from harness.prune.methods import default_methods
    from tools.tiny_moe import effects

    rows = effects.run(
        args.method or list(default_methods()), args.ratio or [0.25, 0.5, 0.75], args.out, args.limit, args.calibration
    )
    print(effects.format_table(rows))
    if args.save:
        effects.save(rows, args.save)
    return 0


def _routing(args: argparse.Namespace) -> int:
    from harness.models.loading import load_model, load_tokenizer, resolve
    from tools.tiny_moe.effects import DATA_DIR
    from tools.tiny_moe.evaluate import routing_histograms, total_variation

    model = resolve(args.model)
    cal = DATA_DIR / "calibration"
    hist = routing_histograms(
        load_model(model.path),
        load_tokenizer(model.path),
        {"biomedical": cal / "medinst_calibration.jsonl", "general": cal / "general_calibration.jsonl"},
    )
    for layer, per in sorted(hist.items()):
        print(
            f"layer {layer}  total variation bio vs general: {total_variation(per['biomedical'], per['general']):.3f}"
        )
        for domain, shares in per.items():
            bars = " ".join(f"{s:4.2f}" for s in shares)
            print(f"  {domain:10s} {bars}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
