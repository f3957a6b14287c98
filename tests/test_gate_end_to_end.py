"""The gate discriminates on the embedded model: EASY-EP at 25% passes every check, Random at 75%
fails with named reliability regressions while its biomedical letter-choice checks pass; verdict.json, summary
and plots are written, and the Allure HTML report renders the variants (checked in headless
Chromium) when the report tools are installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
from collections import Counter
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.gate.xdist_scheduling import variant_scope

ROOT = Path(__file__).resolve().parents[1]


def _gate_command(tmp: Path, reports: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "suites",
        "-p",
        "no:cacheprovider",
        "-q",
        "--method",
        "easy_ep",
        "--method",
        "random",
        "--ratio",
        "0.25",
        "--ratio",
        "0.75",
        "-k",
        "easy_ep-r0.25 or random-r0.75",
        "--alluredir",
        str(reports / "allure-results"),
        "--verdict",
        str(reports / "reports" / "verdict.json"),
        "--variants-dir",
        str(tmp / "variants"),
        "--baseline-dir",
        str(tmp / "baselines"),
        "--cache-dir",
        str(tmp / "cache"),
        "--save-outputs",
        str(reports / "outputs.jsonl"),
        *extra,
    ]


@pytest.fixture(scope="module")
def gate_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gate")
    proc = subprocess.run(_gate_command(tmp, tmp), cwd=ROOT, capture_output=True, text=True, timeout=1200)
    return tmp, proc


def _without_times(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "generated"}


def test_two_xdist_workers_give_the_serial_verdict_and_outputs(gate_run):
    """-n 2 on the serial run's variants and baseline: every worker's verdicts and output rows come back
    through xdist's worker output channel; verdict.json and the outputs file equal the serial run's."""
    tmp, _ = gate_run
    parallel = tmp / "parallel"
    proc = subprocess.run(
        _gate_command(tmp, parallel, "-n", "2", "-vv"), cwd=ROOT, capture_output=True, text=True, timeout=1200
    )
    assert proc.returncode == 1, proc.stdout[-3000:]
    workers: dict[str, set[str]] = {}
    for worker, vid in re.findall(r"\[(gw\d+)\].*test_check\[(tiny-moe-\w+-r[\d.]+-s\d+)-", proc.stdout):
        workers.setdefault(vid, set()).add(worker)
    assert set(workers) == {"tiny-moe-easy_ep-r0.25-s0", "tiny-moe-random-r0.75-s0"}, proc.stdout[-3000:]
    assert all(len(ran_on) == 1 for ran_on in workers.values()), workers  # a variant's checks on one worker
    serial_doc, parallel_doc = (json.loads((d / "reports" / "verdict.json").read_text()) for d in (tmp, parallel))
    assert _without_times(parallel_doc) == _without_times(serial_doc)

    def rows(path: Path) -> list[str]:
        return sorted(path.read_text().splitlines())

    assert rows(parallel / "outputs.jsonl") == rows(tmp / "outputs.jsonl")


def test_a_check_is_scheduled_with_its_variant():
    """The xdist scope of a check is its variant (the longest id that the node id names), else itself."""
    ids = ["tiny-moe-reap-r0.25-s0", "tiny-moe-reap-r0.25-s0-w8", "tiny-moe-reap-r0.5-s0"]
    node = "suites/test_gate.py::test_check[{}-rct.no_leakage]"
    assert variant_scope(node.format(ids[0]), ids) == ids[0]
    assert variant_scope(node.format(ids[1]), ids) == ids[1]
    assert variant_scope(node.format(ids[2]), ids) == ids[2]
    assert variant_scope("tests/test_x.py::test_y", ids) == "tests/test_x.py::test_y"


def test_outputs_written_by_the_gate_rescore_to_the_same_verdict(gate_run, tmp_path):
    """`python -m harness score` on the run's own outputs (no model): every check that needs no model
    gives the run's numbers and decision; lm-eval's tasks (GSM8K) are skipped with the reason."""
    tmp, _ = gate_run
    cmd = [
        sys.executable,
        "-m",
        "harness",
        "score",
        "--outputs",
        str(tmp / "outputs.jsonl"),
        "--verdict",
        str(tmp_path / "verdict.json"),
        "--",
        "-q",
        "-rs",
        "-k",
        "easy_ep-r0.25 or random-r0.75",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout[-3000:]  # Random 75% is blocked again
    run, rescored = (json.loads(p.read_text()) for p in (tmp / "reports" / "verdict.json", tmp_path / "verdict.json"))
    for vid, variant in run["variants"].items():
        needs_model = {c for c in variant["checks"] if c.startswith(("gsm8k.", "ifeval.", "humaneval."))}
        assert needs_model and set(rescored["variants"][vid]["checks"]) == set(variant["checks"]) - needs_model
        for name, check in rescored["variants"][vid]["checks"].items():
            assert check == variant["checks"][name], (vid, name)
        assert rescored["variants"][vid]["parameters"] == variant["parameters"]
    assert "scored by lm-eval on the model's own requests" in proc.stdout


def test_easy_ep_light_passes_and_random_heavy_fails(gate_run):
    """Format 21 (all items): Random 75% is blocked on Med-HALT FCT 0.95 -> 0.35, NOTA, RCT number
    fidelity 1.00 -> 0.07 and seven more checks (general MMLU among them), while MedQA, MedMCQA and
    PubMedQA pass. At 50% Random is blocked only on MedINST ROUGE-L, so 75% is where it shows."""
    tmp, proc = gate_run
    assert proc.returncode == 1, proc.stdout[-3000:]  # pytest's "tests failed": the gate blocks the release
    doc = json.loads((tmp / "reports" / "verdict.json").read_text())
    assert doc["verdict"] == "fail"
    easy, rand = doc["variants"]["tiny-moe-easy_ep-r0.25-s0"], doc["variants"]["tiny-moe-random-r0.75-s0"]
    assert easy["passed"] and len(easy["checks"]) == 21
    failed = {name for name, c in rand["checks"].items() if not c["passed"]}
    assert {"medhalt_fct.accuracy", "rct.number_fidelity"} <= failed  # reliability breaks ...
    assert not {"medqa.accuracy", "medmcqa.accuracy", "pubmedqa.accuracy"} & failed  # ... while letter choice holds
    assert "reliability regression on medhalt_fct.accuracy" in proc.stdout
    assert "tiny-moe-random-r0.75-s0" in (tmp / "reports" / "summary.md").read_text()
    assert (tmp / "reports" / "plot-reliability.png").stat().st_size > 1000
    assert (tmp / "allure-results" / "categories.json").is_file()


def test_pytest_verdict_and_allure_counts_agree(gate_run):
    """One count everywhere: pytest's passed / failed / skipped equal the Allure results' statuses (the
    plots and verdict ride on a result container, not an extra test), and verdict.json holds one decided
    check per passed or failed test."""
    tmp, proc = gate_run
    summary = [ln for ln in proc.stdout.splitlines() if re.search(r"\d+ passed", ln)][-1]
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped)", summary)}
    statuses = Counter(json.loads(p.read_text())["status"] for p in (tmp / "allure-results").glob("*-result.json"))
    assert dict(statuses) == counts and counts["failed"] > 0
    containers = list((tmp / "allure-results").glob("*-container.json"))
    assert any(json.loads(c.read_text()).get("name") == "moegate summary" for c in containers)
    doc = json.loads((tmp / "reports" / "verdict.json").read_text())
    decided = [c["passed"] for v in doc["variants"].values() for c in v["checks"].values()]
    assert (decided.count(True), decided.count(False)) == (counts["passed"], counts["failed"])


def test_allure_report_renders_the_variant_table(gate_run, tmp_path):
    from harness.report.render import MIN_NODE_FOR_QUALITY_GATE, find_allure, node_major, quality_gate, render

    try:
        find_allure()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no headless Chromium (apt install chromium) to screenshot the report")
    tmp, _ = gate_run
    index = render(tmp / "allure-results", tmp_path / "allure")
    handler = partial(SimpleHTTPRequestHandler, directory=str(index.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/index.html"
    try:
        args = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=15000"]
        dom = subprocess.run(args + ["--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
        subprocess.run(
            args + ["--window-size=1400,1000", f"--screenshot={tmp_path / 'report.png'}", url],
            capture_output=True,
            timeout=120,
        )
    finally:
        server.shutdown()
    assert "tiny-moe-easy_ep-r0.25-s0" in dom and "tiny-moe-random-r0.75-s0" in dom
    assert (tmp_path / "report.png").stat().st_size > 10_000
    if node_major() < MIN_NODE_FOR_QUALITY_GATE:  # refused with the reason, never a pass
        with pytest.raises(RuntimeError, match=f"needs Node {MIN_NODE_FOR_QUALITY_GATE}"):
            quality_gate(tmp / "allure-results")
    else:
        passed, message = quality_gate(tmp / "allure-results")  # Allure's own gate agrees: Random 75% fails
        assert not passed and message


def test_dual_domain_calibration_runs_side_by_side(tmp_path):
    """--calibration biomedical --calibration dual: both variants built (dual from biomedical + general
    sets, per-domain scores averaged) and gated side by side in one verdict."""
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "suites",
        "-p",
        "no:cacheprovider",
        "-q",
        "-m",
        "knowledge",
        "--method",
        "reap",
        "--ratio",
        "0.25",
        "--calibration",
        "biomedical",
        "--calibration",
        "dual",
        "--limit",
        "8",
        "--verdict",
        str(tmp_path / "verdict.json"),
        "--variants-dir",
        str(tmp_path / "variants"),
        "--baseline-dir",
        str(tmp_path / "b"),
        "--cache-dir",
        str(tmp_path / "c"),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode in (0, 1), proc.stdout[-2000:]
    variants = json.loads((tmp_path / "verdict.json").read_text())["variants"]
    assert set(variants) == {"tiny-moe-reap-r0.25-s0", "tiny-moe-reap-r0.25-s0-dual"}
    assert variants["tiny-moe-reap-r0.25-s0-dual"]["parameters"]["calibration"] == "dual"
    manifest = json.loads((tmp_path / "variants" / "tiny-moe-reap-r0.25-s0-dual" / "pruning.json").read_text())
    assert set(manifest["calibration"]["sources"]) == {"biomedical", "general"}


def test_multi_xscience_task_runs_and_is_skipped_for_the_embedded_model(tmp_path):
    """The task builds the study's MedINST-style input from the official raw format and its checks compute;
    the gate skips it for tiny-moe, which was never trained on related-work generation (reason shown),
    and then never generates for it."""
    from harness.benchmarks import get_check, get_task
    from harness.gate.session import GateConfig, GateSession
    from harness.generate.backends import BackendOptions, open_backend
    from harness.measure.tasks import answer
    from harness.models.loading import resolve

    config = GateConfig(
        methods=["reap"],
        ratios=[0.125],
        limit=4,
        variants_dir=tmp_path / "v",
        baseline_dir=tmp_path / "b",
        backend=BackendOptions(cache_dir=tmp_path / "c"),
    )
    session = GateSession(config, {"multi_xscience.number_fidelity"})
    items = session.items("tiny-moe", "multi_xscience")
    assert items[0].prompt.startswith("Writing the related-work section") and "References: @cite_1:" in items[0].prompt
    with open_backend(resolve("tiny-moe").path, options=BackendOptions(use_cache=False)) as backend:
        run = answer(get_task("multi_xscience"), items, backend)
    values = get_check("multi_xscience.number_fidelity").values(run, run)
    assert len(values) == 4 and all(v in (0.0, 1.0) for v in values)
    assert "never trained" in session.skip_reason("tiny-moe", "multi_xscience.number_fidelity")
    assert session.tasks("tiny-moe") == []
    with pytest.raises(ValueError, match="never trained"):
        session.check(config.specs()[0], "multi_xscience.number_fidelity")
