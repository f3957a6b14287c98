"""Benchmarks as units: the registry finds every module of ``harness.benchmarks``, the gate suite is
parametrized from it, and a benchmark added as one module (Med-HALT's memory test IR_pmid2title) is
loaded, prompted, scored and gated without touching any other file."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from harness.benchmarks import (
    benchmark_of,
    benchmarks,
    checks,
    get_check,
    register_benchmark,
    tasks,
    unregister_benchmark,
)
from harness.benchmarks import medhalt_memory as memory
from harness.data.records import DataFormatError
from harness.gate.session import GateConfig, GateSession

ROOT = Path(__file__).resolve().parents[1]
TITLE = "Soft-Tissue Tumors of the Hand-Imaging Features"


def test_every_check_belongs_to_one_benchmark_and_names_its_task():
    seen: dict[str, str] = {}
    for bench in benchmarks().values():
        for check in bench.checks:
            assert check.name not in seen, (check.name, seen.get(check.name), bench.name)
            seen[check.name] = bench.name
            assert check.task in {t.name for t in bench.tasks}
            assert tasks()[check.task].domain in {"biomedical", "general"}
    assert set(seen) == set(checks()) and benchmark_of("medhalt_pmid2title.accuracy").name == "medhalt_memory"


def test_the_gate_suite_collects_one_test_per_registered_check(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", "--collect-only", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    collected = {ln.rsplit("-", 1)[-1].rstrip("]") for ln in proc.stdout.splitlines() if "::test_check[" in ln}
    assert collected == set(checks())


def test_pmid2title_prompt_is_the_official_zero_shot_assembly():
    text = memory.prompt("25933806")
    assert text == f"{memory.PROMPT}\n{memory.OUTPUT_FORMAT}\nInput: {{'Pmid': '25933806'}}\nOutput: "


LABELLED = [  # (model output, correct?) in the phrasings models write
    (f"{{'paper_title': '{TITLE}'}}", True),
    (f'{{"paper_title": "{TITLE}"}}', True),
    (f"{{'paper_title': '{TITLE.lower()}'}}", True),  # the official rule compares lower-cased
    (f"{{'paper_title': '{TITLE}'}} Stop Here", True),
    (f"{{'is_paper_exists': 'Yes', 'paper_title': '{TITLE}'}}", True),
    ("{'paper_title': 'Unknown'}", False),
    ("{'paper_title': 'Imaging of soft tissue tumours of the hand'}", False),  # a plausible invented title
    (f"The title of the paper is {TITLE}.", False),  # no paper_title key: wrong, not dropped
    (f"{{'title': '{TITLE}'}}", False),
    ("", False),
]


def test_pmid2title_scoring_on_labelled_outputs():
    predicted = [memory.title_correct(text, TITLE) for text, _ in LABELLED]
    gold = [label for _, label in LABELLED]
    true_pos = sum(p and g for p, g in zip(predicted, gold))
    precision, recall = true_pos / max(1, sum(predicted)), true_pos / sum(gold)
    assert (precision, recall) == (1.0, 1.0), list(zip(predicted, gold))


def test_pmid2title_rows_are_loaded_and_bad_rows_are_named(tmp_path):
    path = tmp_path / memory.FILE
    path.write_text(f'PMID,Title\n32063006,"{TITLE}"\n29596064,Contributions of inflammation\n')
    items = memory.TASK.load(path)
    assert [it.id for it in items] == ["32063006", "29596064"] and items[0].reference == TITLE
    path.write_text("PMID,Title\nabc,Some title\n")
    with pytest.raises(DataFormatError, match=r"row 1: field 'PMID': expected an integer"):
        memory.TASK.load(path)


def _rows(variant: str, wrong: int, n: int = 12) -> list[dict]:
    answer = f"{{'paper_title': '{TITLE}'}}"
    return [
        {
            "task": "medhalt_pmid2title",
            "item_id": str(i),
            "variant": variant,
            "baseline_output": answer,
            "variant_output": "{'paper_title': 'An invented title'}" if i < wrong else answer,
            "reference": TITLE,
        }
        for i in range(n)
    ]


def test_a_benchmark_added_as_one_module_is_gated_from_outputs(tmp_path):
    """The suite gates the new check from rows generated elsewhere (no model): a variant that invents
    titles is blocked, one that keeps them passes; the embedded model skips it with the reason."""
    outputs = tmp_path / "outputs.jsonl"
    outputs.write_text("".join(json.dumps(r) + "\n" for r in _rows("keeps", 0) + _rows("invents", 10)))
    verdict = tmp_path / "verdict.json"
    cmd = [sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", "-q", "-m", "medhalt_memory"]
    proc = subprocess.run(
        [*cmd, "--outputs", str(outputs), "--verdict", str(verdict)], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 1, proc.stdout[-3000:]
    doc = json.loads(verdict.read_text())
    decided = {vid: v["checks"]["medhalt_pmid2title.accuracy"]["passed"] for vid, v in doc["variants"].items()}
    assert decided == {"keeps": True, "invents": False}
    reason = GateSession(GateConfig(), {"medhalt_pmid2title.accuracy"}).skip_reason(
        "tiny-moe", "medhalt_pmid2title.accuracy"
    )
    assert reason is not None and "ships no medhalt_pmid2title data" in reason


def test_registering_a_benchmark_refuses_names_that_are_taken():
    taken = replace(memory.BENCHMARK, name="another")
    with pytest.raises(ValueError, match=r"task \['medhalt_pmid2title'\].*check \['medhalt_pmid2title.accuracy'\]"):
        register_benchmark(taken)
    renamed_check = replace(get_check("medhalt_pmid2title.accuracy"), name="pmid_copy.accuracy")
    fresh = replace(
        memory.BENCHMARK,
        name="pmid_copy",
        datasets=(replace(memory.DATASET, name="pmid-copy"),),
        tasks=(replace(memory.TASK, name="pmid_copy", dataset=replace(memory.DATASET, name="pmid-copy")),),
        checks=(renamed_check,),
    )
    register_benchmark(fresh)
    try:
        assert checks()["pmid_copy.accuracy"].task == "pmid_copy" and benchmark_of("pmid_copy.accuracy") == fresh
    finally:
        unregister_benchmark("pmid_copy")
    assert "pmid_copy.accuracy" not in checks()
