"""``python -m harness report``: the Allure HTML report of the last gate run (history carried over)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from harness.report.render import quality_gate, render


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="render the Allure HTML report from allure-pytest results",
        description="Allure 3 (npm, no Java) or Allure 2 (Java); see scripts/setup-report.sh.",
    )
    p.add_argument("--results", type=Path, default=Path("allure-results"), help="pytest --alluredir folder")
    p.add_argument("--out", type=Path, default=Path("reports/allure"), help="HTML report folder")
    p.add_argument(
        "--quality-gate",
        action="store_true",
        help="also run Allure 3's quality gate (no failed test, the gate's own rule; needs Node 22+); exit 1 when "
        "it fails, 2 when it cannot run",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    index = render(args.results, args.out)
    summary: dict[str, str] = {"report": str(index)}
    passed = True
    if args.quality_gate:
        try:
            passed, message = quality_gate(args.results)
        except RuntimeError as exc:  # could not run: say so, never report a pass
            print(json.dumps(summary | {"quality_gate": f"not run: {exc}"}))
            return 2
        summary["quality_gate"] = "passed" if passed else f"failed: {message}"
    print(json.dumps(summary))
    return 0 if passed else 1
