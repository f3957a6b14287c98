"""verdict.json, reports/summary.md and the plots, from the verdicts of every (xdist) worker
(sent back to the controller by ``harness.pytest_gate``)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from harness.judges.records import write_records
from harness.report import plots

CATEGORIES = [
    {"name": "Reliability regressions", "matchedStatuses": ["failed"], "messageRegex": "(?s)^reliability regression.*"},
    {"name": "Utility regressions", "matchedStatuses": ["failed"], "messageRegex": "(?s)^utility regression.*"},
    {"name": "Infrastructure errors", "matchedStatuses": ["broken", "failed"]},
]


def verdict_document(checks: list[dict]) -> dict:
    variants: dict[str, dict] = {}
    for c in checks:
        entry = variants.setdefault(c["variant"], {"parameters": c["parameters"], "passed": True, "checks": {}})
        entry["checks"][c["check"]] = {
            k: c[k]
            for k in (
                "category",
                "domain",
                "baseline",
                "value",
                "delta",
                "ci",
                "p_value",
                "tolerance",
                "alpha",
                "n",
                "passed",
            )
        }
        if c.get("extra"):
            entry["checks"][c["check"]]["judges"] = c["extra"]
        entry["passed"] &= c["passed"]
    return {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "verdict": "pass" if all(v["passed"] for v in variants.values()) else "fail",
        "variants": variants,
    }


def summary_markdown(doc: dict) -> str:
    """One table per model: checks x variants, PASS/FAIL with the value and its delta against the baseline."""
    by_model: dict[str, dict] = {}
    for vid, v in doc["variants"].items():
        by_model.setdefault(v["parameters"]["model"], {})[vid] = v
    out = [f"# moegate verdict: {doc['verdict'].upper()}", "", f"generated {doc['generated']}", ""]
    for model, variants in by_model.items():
        ids = sorted(variants)
        checks = sorted({c for v in variants.values() for c in v["checks"]})
        out += [
            f"## {model}",
            "",
            "| check | baseline | " + " | ".join(ids) + " |",
            "|---|---|" + "---|" * len(ids),
            "| **verdict** | | " + " | ".join("PASS" if variants[i]["passed"] else "**FAIL**" for i in ids) + " |",
        ]
        for c in checks:
            base = next(v["checks"][c]["baseline"] for v in variants.values() if c in v["checks"])
            cells = []
            for i in ids:
                r = variants[i]["checks"].get(c)
                cells.append(
                    "" if r is None else f"{'' if r['passed'] else '**FAIL** '}{r['value']:.2f} ({r['delta']:+.2f})"
                )
            out.append(f"| {c} | {base:.2f} | " + " | ".join(cells) + " |")
        out.append("")
    out.append("Cells: variant value (delta vs the unpruned baseline). Plots: `plot-*.png` next to this file.")
    judged = [
        (vid, c, r["judges"])
        for vid, v in sorted(doc["variants"].items())
        for c, r in sorted(v["checks"].items())
        if "mean_cohen_kappa" in r.get("judges", {})
    ]
    if judged:
        out += ["", "## Judge agreement", "", "| variant | check | Fleiss | mean Cohen | |", "|---|---|---|---|---|"]
        out += [
            f"| {vid} | {c} | {j['fleiss_kappa']:.2f} | {j['mean_cohen_kappa']:.2f} | "
            f"{'**WARNING: weak evidence (< 0.4)**' if j['weak_evidence'] else ''} |"
            for vid, c, j in judged
        ]
        out.append("Per-item judgements: `judgements.jsonl` (`python -m harness agreement reports/judgements.jsonl`).")
    return "\n".join(out) + "\n"


def _allure_summary(alluredir: Path, pngs: list[Path], doc: dict) -> None:
    """Categories, plus the plots and the verdict as a tear-down of every test result of the run (a result
    container), so the report shows them without counting an extra test: Allure's totals are pytest's."""
    alluredir.mkdir(parents=True, exist_ok=True)
    (alluredir / "categories.json").write_text(json.dumps(CATEGORIES, indent=2))
    attachments = []
    for png in pngs:
        name = f"{uuid.uuid4()}-attachment.png"
        (alluredir / name).write_bytes(png.read_bytes())
        attachments.append({"name": png.stem, "source": name, "type": "image/png"})
    source = f"{uuid.uuid4()}-attachment.json"
    (alluredir / source).write_text(json.dumps(doc, indent=2))
    attachments.append({"name": "verdict.json", "source": source, "type": "application/json"})
    children = [json.loads(p.read_text())["uuid"] for p in sorted(alluredir.glob("*-result.json"))]
    now = int(time.time() * 1000)
    teardown = {
        "name": f"moegate verdict {doc['verdict'].upper()}: plots and verdict.json",
        "status": "passed",  # the tests carry the verdict; this only shows it
        "stage": "finished",
        "start": now,
        "stop": now,
        "attachments": attachments,
    }
    container = {"uuid": str(uuid.uuid4()), "name": "moegate summary", "children": children, "afters": [teardown]}
    (alluredir / f"{container['uuid']}-container.json").write_text(json.dumps(container))


def finish(checks: list[dict], path: Path, alluredir: Path | None) -> dict:
    records = [r for c in checks for r in c.pop("records", [])]
    if records:
        write_records(path.parent / "judgements.jsonl", records)
    doc = verdict_document(checks)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    pngs = plots.ratio_curves(checks, path.parent)
    (path.parent / "summary.md").write_text(summary_markdown(doc))
    if alluredir is not None:
        _allure_summary(alluredir, pngs, doc)
    return doc
