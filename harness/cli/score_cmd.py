"""``python -m harness score --outputs FILE.jsonl``: gate outputs generated elsewhere.

Runs the gate suites over the rows of FILE instead of building and answering variants: the same
checks (every one that needs no model: fact checks, leakage, length, repetition, ROUGE-L, Med-HALT,
letter choice, judges with --judge), paired statistics, tolerances, verdict.json, summary and Allure
results as ``pytest suites``. Exit code: the gate's (0 pass, 1 a variant is blocked), 2 bad input.
"""

from __future__ import annotations

import argparse
from pathlib import Path

SUITES_DIR = Path(__file__).resolve().parents[1] / "suites"  # package data


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="gate outputs generated elsewhere (JSONL rows) with the suites' checks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--outputs",
        type=Path,
        required=True,
        metavar="FILE.jsonl",
        help="rows of task, item_id, variant, baseline_output, variant_output and source / reference / "
        "choices as the task needs (format: harness/gate/outputs.py; `pytest suites --save-outputs` "
        "writes it)",
    )
    p.add_argument("--lenient", action="store_true", help="skip malformed rows (counted) instead of failing")
    p.add_argument("--judge", action="append", default=[], help="LLM judge provider:model (repeatable)")
    p.add_argument("--thresholds", type=Path, help="tolerances YAML (default: the shipped thresholds.yaml)")
    p.add_argument("--verdict", type=Path, default=Path("reports/verdict.json"), help="verdict.json to write")
    p.add_argument("--alluredir", type=Path, help="write Allure results here (as pytest --alluredir)")
    p.add_argument(
        "--suites", type=Path, default=SUITES_DIR, help="the gate suites (default: the installed harness.suites)"
    )
    p.add_argument("pytest_args", nargs="*", help="further pytest arguments after --, e.g. -- -k rct -q")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import pytest

    if not args.outputs.is_file():
        raise FileNotFoundError(f"--outputs {args.outputs}: file not found")
    if not args.suites.is_dir():
        raise FileNotFoundError(f"--suites {args.suites}: no gate suites there (pass a folder of gate suites)")
    argv = [str(args.suites), "-p", "no:cacheprovider", "--outputs", str(args.outputs), "--verdict", str(args.verdict)]
    argv += ["--lenient"] if args.lenient else []
    argv += [x for j in args.judge for x in ("--judge", j)]
    argv += ["--thresholds", str(args.thresholds)] if args.thresholds else []
    argv += ["--alluredir", str(args.alluredir)] if args.alluredir else []
    code = int(pytest.main(argv + list(args.pytest_args)))
    return {0: 0, 1: 1}.get(code, 2)
