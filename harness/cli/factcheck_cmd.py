"""``python -m harness factcheck``: every deterministic check on one source/summary pair, as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.benchmarks import instructions as registered_instructions
from harness.metrics import factcheck_eval
from harness.metrics.factcheck import check


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "factcheck",
        help="deterministic fact checks of a summary against its source (JSON; exit 1 on findings)",
        description="Numbers and units not supported by the source, instruction leakage, length vs the baseline, "
        "repetition and type-token ratio. Exit code 0: no findings, 1: findings, 2: bad input.",
    )
    p.add_argument("--source", type=Path, help="text file with the source document")
    p.add_argument("--summary", type=Path, help="text file with the summary to check")
    p.add_argument("--baseline", type=Path, help="the unpruned model's summary of the same source")
    p.add_argument(
        "--instructions",
        type=Path,
        action="append",
        help="text file with prompt instructions to detect leakage of (default: the study's prompts)",
    )
    p.add_argument(
        "--evaluate",
        type=Path,
        metavar="CASES.yaml",
        help="instead: precision and recall of the checks on labelled cases (format: "
        "tests/data/factcheck_labelled.yaml); exit 0",
    )
    p.add_argument(
        "--samples",
        type=Path,
        default=Path(__file__).resolve().parents[3] / "shared" / "data" / "real-format-samples",
        help="real-format samples folder for cases with {rct: ID} / {news: SPLIT/IDX} "
        "sources (default: ../shared/data/real-format-samples beside the checkout)",
    )
    p.add_argument("--json", action="store_true", help="with --evaluate: the report as JSON")
    p.set_defaults(run=run)


def _read(path: Path, what: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileNotFoundError(f"--{what} {path}: cannot read ({exc})") from exc
    if not text.strip():
        raise ValueError(f"--{what} {path}: file is empty")
    return text


def _evaluate(args: argparse.Namespace) -> int:
    cases, skipped = factcheck_eval.load_cases(args.evaluate, args.samples if args.samples.is_dir() else None)
    report = factcheck_eval.evaluate(cases, check, skipped)
    if args.json:
        json.dump(report.as_dict(), sys.stdout, indent=2)
        print()
    else:
        print(report.table())
        for title, rows in (("false findings", report.false_findings), ("missed errors", report.missed)):
            print(f"\n{title}:" + "".join(f"\n  {r}" for r in rows) if rows else f"\n{title}: none")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.evaluate:
        return _evaluate(args)
    if args.source is None or args.summary is None:
        raise ValueError("give --source and --summary (one pair), or --evaluate CASES.yaml")
    source, summary = _read(args.source, "source"), _read(args.summary, "summary")
    baseline = _read(args.baseline, "baseline") if args.baseline else None
    instructions = (
        [_read(p, "instructions") for p in args.instructions] if args.instructions else list(registered_instructions())
    )
    result = check(summary, source, baseline, instructions)
    json.dump(result.as_dict(), sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 1 if result.findings else 0
