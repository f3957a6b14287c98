"""``python -m harness factcheck``: every deterministic check on one source/summary pair, as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.measure.checks import INSTRUCTIONS as DEFAULT_INSTRUCTIONS
from harness.metrics.factcheck import check


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "factcheck", help="deterministic fact checks of a summary against its source (JSON; exit 1 on findings)",
        description="Numbers and units not supported by the source, instruction leakage, length vs the baseline, "
                    "repetition and type-token ratio. Exit code 0: no findings, 1: findings, 2: bad input.")
    p.add_argument("--source", type=Path, required=True, help="text file with the source document")
    p.add_argument("--summary", type=Path, required=True, help="text file with the summary to check")
    p.add_argument("--baseline", type=Path, help="the unpruned model's summary of the same source")
    p.add_argument("--instructions", type=Path, action="append",
                   help="text file with prompt instructions to detect leakage of (default: the study's prompts)")
    p.set_defaults(run=run)


def _read(path: Path, what: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileNotFoundError(f"--{what} {path}: cannot read ({exc})") from exc
    if not text.strip():
        raise ValueError(f"--{what} {path}: file is empty")
    return text


def run(args: argparse.Namespace) -> int:
    source, summary = _read(args.source, "source"), _read(args.summary, "summary")
    baseline = _read(args.baseline, "baseline") if args.baseline else None
    instructions = [_read(p, "instructions") for p in args.instructions] if args.instructions else DEFAULT_INSTRUCTIONS
    result = check(summary, source, baseline, instructions)
    json.dump(result.as_dict(), sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 1 if result.findings else 0
