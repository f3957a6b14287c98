"""``python -m harness coverage``: routing mass the removed experts carried, per task and domain; Jaccard overlaps."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULT_TASKS = ["medhalt_nota", "rct", "medinst", "medqa", "multi_news", "mmlu"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "coverage",
        help="calibration coverage of pruned variants on the evaluation sets",
        description="Runs the unpruned model's routers over each task's prompts and reports, per "
        "variant, the routing share its removed experts received (per task and domain, "
        "and the domain that lost most), plus Jaccard overlap of kept experts.",
    )
    p.add_argument("--model", default="tiny-moe", help="the unpruned model (registry name or directory)")
    p.add_argument("variants", type=Path, nargs="+", help="pruned variant directories (with pruning.json)")
    p.add_argument("--task", action="append", help=f"evaluation task (repeatable; default {', '.join(DEFAULT_TASKS)})")
    p.add_argument("--data-dir", type=Path, help="datasets in the fixture layout (default: the model's own)")
    p.add_argument("--limit", type=int, default=32, help="prompts per task (default 32)")
    p.add_argument("--out", type=Path, help="also write the JSON here")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from harness.models.loading import resolve
    from harness.models.registry import get_spec
    from harness.prune.manifest import PruningManifest
    from harness.report.coverage import coverage_report

    for d in args.variants:
        PruningManifest.read(d)  # refuse a directory that is not a moegate variant before any work
    spec = get_spec(args.model)
    data_dir = args.data_dir or (spec.local_dir.parent / "data" if spec and spec.local_dir else None)
    report = coverage_report(resolve(args.model), args.variants, args.task or DEFAULT_TASKS, data_dir, args.limit)
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return 0
