"""``python -m harness agreement FILE...``: how far LLM judges agree, as the reference study reports it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.judges.agreement import WEAK_BELOW, agreement_stats, window
from harness.judges.records import JudgeRecord, load_records


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "agreement",
        help="inter-judge agreement (Fleiss / Cohen kappa) from judge records",
        description="Reads judge records (the gate's reports/judgements.jsonl, or the study's released "
        "evaluation_samples_*.json, relative or absolute) and prints Fleiss' kappa and Cohen's kappa per "
        "judge pair: per dataset and question, overall, and by pruning-ratio window (low <= 25%, "
        "moderate 37.5-50%, extreme >= 62.5%); relative units pooled over the four questions. "
        f"Agreement below {WEAK_BELOW} is marked weak.",
    )
    p.add_argument("files", nargs="+", type=Path, help="judge record files (JSON list or JSONL)")
    p.add_argument("--json", action="store_true", help="print the table's numbers as JSON")
    p.set_defaults(run=run)


def _units(records: list[JudgeRecord], question: str | None = None) -> list[dict]:
    return [labels for r in records for q, labels in r.labels.items() if question is None or q == question]


def agreement_table(records: list[JudgeRecord]) -> list[dict]:
    """Rows: (kind, dataset, question, window) with their statistics; '*' = pooled."""
    rows = []
    for kind in ("relative", "absolute"):
        mine = [r for r in records if r.kind == kind]
        if not mine:
            continue
        datasets = sorted({r.dataset for r in mine})
        questions = sorted({q for r in mine for q in r.labels})
        for dataset in ["*", *datasets]:
            sel = [r for r in mine if dataset in ("*", r.dataset)]
            for question in ["*", *questions]:
                for win in ["*", "low", "moderate", "extreme", "between", "unknown"]:
                    part = [r for r in sel if win in ("*", window(r.ratio))]
                    units = _units(part, None if question == "*" else question)
                    if units and (question == "*" or win == "*"):
                        rows.append(
                            {
                                "kind": kind,
                                "dataset": dataset,
                                "question": question,
                                "window": win,
                                "records": len(part),
                                **agreement_stats(units),
                            }
                        )
    return rows


def _cell(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "-"


def run(args: argparse.Namespace) -> int:
    records = [r for path in args.files for r in load_records(path)]
    if not records:
        raise ValueError(f"no judge records in {', '.join(map(str, args.files))}")
    rows = agreement_table(records)
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
        return 0
    print("| kind | dataset | question | window | records | units | Fleiss | mean Cohen | Cohen per pair |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        pairs = ", ".join(f"{k} {v:.3f}" for k, v in r.get("cohen_kappa", {}).items())
        weak = " (weak)" if isinstance(r.get("mean_cohen_kappa"), float) and r["mean_cohen_kappa"] < WEAK_BELOW else ""
        print(
            f"| {r['kind']} | {r['dataset']} | {r['question']} | {r['window']} | {r['records']} | {r['units']} | "
            f"{_cell(r.get('fleiss_kappa'))} | {_cell(r.get('mean_cohen_kappa'))}{weak} | {pairs} |"
        )
    return 0
