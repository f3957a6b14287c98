"""``python -m harness report``: the Allure HTML report of the last gate run (history carried over)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from harness.report.render import render


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="render the Allure HTML report from allure-pytest results",
        description="Allure 3 (npm, no Java) or Allure 2 (Java); see scripts/setup-report.sh.",
    )
    p.add_argument("--results", type=Path, default=Path("allure-results"), help="pytest --alluredir folder")
    p.add_argument("--out", type=Path, default=Path("reports/allure"), help="HTML report folder")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    index = render(args.results, args.out)
    print(json.dumps({"report": str(index)}))
    return 0
