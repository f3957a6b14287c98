"""moegate's pytest plugin (entry point ``pytest11: moegate``): options, variant parametrization,
the ``gate`` fixture, markers, GPU pinning for xdist workers, and the verdict/report at the end.

    pytest suites --model tiny-moe --method easy_ep --ratio 0.25 --alluredir allure-results
    pytest suites -k "reap and r0.50"

Each test that takes ``variant`` is parametrized over every configured variant with readable ids
(``tiny-moe-easy_ep-r0.25-s0``), session-scoped so pytest runs all checks of one variant together.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from harness import parts
from harness.gate.outputs import read_outputs, write_outputs
from harness.gate.session import GateConfig, GateSession
from harness.gate.thresholds import Thresholds
from harness.gate.variants import CALIBRATIONS, QUANTS, VariantSpec
from harness.prune.masks import parse_masks
from harness.generate.options import add_backend_options, backend_options
from harness.measure.checks import get_check

MARKERS = {
    "utility": "utility check (task accuracy or quality vs the baseline)",
    "reliability": "reliability check (hallucination, fact checks, collapse, repetition)",
    "biomedical": "biomedical-domain data",
    "general": "general-domain data",
    "gpu": "needs a CUDA device; skipped cleanly without one",
    "judge": "needs an LLM judge (--judge); skipped with the reason when none is configured",
}
SESSION_KEY = pytest.StashKey[GateSession]()
CONFIG_KEY = pytest.StashKey[GateConfig]()
REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("moegate", "moegate: gate pruned MoE variants against the unpruned baseline")
    g.addoption("--model", action="append", help="registry name or checkpoint dir (repeatable; default tiny-moe)")
    g.addoption("--method", action="append", help="saliency method (repeatable; default all six)")
    g.addoption("--ratio", action="append", type=float, help="pruning ratio, a multiple of 0.125 (repeatable; default 0.5)")
    g.addoption("--seed", action="append", type=int, help="calibration seed (repeatable; default 0)")
    g.addoption("--calibration", action="append", choices=CALIBRATIONS, help="calibration domains (default biomedical)")
    g.addoption("--calibration-file", action="append", default=[], metavar="DOMAIN=PATH",
                help="calibration set for a domain (biomedical, general); embedded models ship theirs")
    g.addoption("--mask", action="append", default=[], metavar="NAME=FILE",
                help="a variant from given kept experts (repeatable): the study's expert_mask.json or a pruning.json; "
                     "id <model>-mask-NAME-r<ratio>-s<seed>")
    g.addoption("--skip-beta", action="append", type=float, metavar="B",
                help="dynamic expert skipping at generation (NAEE): drop a routed expert whose weight is below B x the "
                     "top-1 weight; a variant axis (repeatable), ids end in -skipB; transformers backend only")
    g.addoption("--quant", choices=QUANTS, default="none", help="quantize each pruned variant (default none)")
    g.addoption("--judge", action="append", default=[], help="LLM judge (provider:model), repeatable")
    g.addoption("--judge-repeats", type=int, default=1,
                help="ask every judge N times (separately cached) to measure judge noise: per-item pass rates")
    g.addoption("--bertscore-encoder", type=Path, help="local encoder directory for the BERTScore checks")
    g.addoption("--data-dir", type=Path, help="datasets in the fixture layout (default: the model's own or the registry's)")
    g.addoption("--variants-dir", type=Path, default=REPO_ROOT / "runs" / "variants", help="where pruned variants are written")
    g.addoption("--baseline-dir", type=Path, default=REPO_ROOT / "runs" / "baselines", help="stored baseline answers")
    g.addoption("--refresh-baseline", action="store_true", help="re-evaluate the baseline even when stored")
    g.addoption("--thresholds", type=Path, help="tolerances YAML (default: the shipped thresholds.yaml)")
    g.addoption("--limit", type=int, help="items per task (quick runs)")
    g.addoption("--verdict", type=Path, default=REPO_ROOT / "reports" / "verdict.json", help="machine-readable verdict")
    g.addoption("--outputs", type=Path, metavar="FILE.jsonl",
                help="gate outputs generated elsewhere (rows of task, item_id, variant, baseline_output, variant_output, "
                     "source / reference / choices; see harness/gate/outputs.py) instead of building variants")
    g.addoption("--lenient", action="store_true", help="with --outputs: skip malformed rows (counted) instead of failing")
    g.addoption("--save-outputs", type=Path, metavar="FILE.jsonl",
                help="write every checked (variant, task) pair as output rows, to re-gate later with --outputs")
    add_backend_options(g.addoption)


def _config(config: pytest.Config) -> GateConfig:
    """The gate settings from the command line, built once per session (thresholds file read once)."""
    if CONFIG_KEY not in config.stash:
        config.stash[CONFIG_KEY] = _parse_config(config)
    return config.stash[CONFIG_KEY]


def _parse_config(config: pytest.Config) -> GateConfig:
    opt = config.getoption
    files = {}
    for entry in opt("calibration_file"):
        domain, sep, path = entry.partition("=")
        if not sep:
            raise pytest.UsageError(f"--calibration-file {entry!r}: expected DOMAIN=PATH")
        files[domain] = Path(path)
    try:
        masks = parse_masks(opt("mask"))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    betas = opt("skip_beta") or [None]
    try:
        backend = backend_options(opt, show_progress=opt("capture") == "no")
        for beta in betas:  # the backend options' own check, before any work
            replace(backend, skip_beta=beta)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    outputs = None
    if opt("outputs") is not None:
        try:
            outputs = read_outputs(opt("outputs"), lenient=opt("lenient"))
        except (OSError, ValueError) as exc:
            raise pytest.UsageError(f"--outputs: {exc}") from None
        if outputs.skipped:
            print(f"moegate: --lenient: skipped {len(outputs.skipped)} malformed rows of {outputs.path}; first: "
                  f"{outputs.skipped[0]}")
    return GateConfig(masks=masks, skip_betas=betas, methods=opt("method") or ([] if masks else GateConfig().methods), outputs=outputs,
                      save_outputs=opt("save_outputs") is not None, models=opt("model") or ["tiny-moe"],
                      ratios=opt("ratio") or [0.5], seeds=opt("seed") or [0], calibrations=opt("calibration") or ["biomedical"],
                      quant=opt("quant"), backend=backend, data_dir=opt("data_dir"),
                      variants_dir=opt("variants_dir"), baseline_dir=opt("baseline_dir"),
                      refresh_baseline=opt("refresh_baseline"), thresholds=Thresholds.load(opt("thresholds")),
                      limit=opt("limit"), calibration_files=files, judges=opt("judge"),
                      bertscore_encoder=opt("bertscore_encoder"), judge_repeats=opt("judge_repeats"))


def gpu_set(worker: str, per_worker: int, available: int) -> list[int]:
    """The GPUs xdist worker ``gwN`` uses: the N-th block of ``per_worker`` (one vLLM server's
    tensor x pipeline x data GPUs, 1 for the transformers backend), wrapping around the card count."""
    if per_worker > available:
        raise pytest.UsageError(f"one variant's server needs {per_worker} GPUs; this machine has {available}")
    sets = available // per_worker
    first = (int(worker.removeprefix("gw")) % sets) * per_worker
    return list(range(first, first + per_worker))


def _pin_gpu(config: pytest.Config) -> None:
    """Each xdist worker sees only its own GPU set (set before anything initialises CUDA)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker or "CUDA_VISIBLE_DEVICES" in os.environ:
        return
    try:
        gpus = [ln for ln in subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout.splitlines()
                if ln.startswith("GPU ")]
    except (OSError, subprocess.TimeoutExpired):
        return
    if gpus:
        backend = _config(config).backend
        per_worker = backend.vllm.gpus if backend.kind == "vllm" and not backend.vllm_url else 1
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpu_set(worker, per_worker, len(gpus))))


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    _config(config)  # bad gate options are usage errors before collection
    _pin_gpu(config)


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        parts.clear_parts(session.config.getoption("verdict"))
        if session.config.getoption("save_outputs") is not None:
            parts.clear_parts(session.config.getoption("save_outputs"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "variant" in metafunc.fixturenames:
        specs = _config(metafunc.config).specs()
        metafunc.parametrize("variant", specs, ids=[s.id for s in specs], scope="session")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    needed = set()
    for item in items:
        check = getattr(item, "callspec", None) and item.callspec.params.get("check")
        if check and "variant" in item.callspec.params:
            spec = get_check(check)
            needed.add(check)
            item.add_marker(spec.category)
            item.add_marker(spec.domain)
            if spec.judged in ("absolute", "pairwise"):
                item.add_marker("judge")
    if needed:
        config.stash[SESSION_KEY] = GateSession(_config(config), needed)


@pytest.fixture(scope="session")
def gate(request: pytest.FixtureRequest) -> GateSession:
    """The gate run: variants, answers, baseline, verdicts (only for tests parametrized by ``check``)."""
    if SESSION_KEY not in request.config.stash:
        pytest.fail("the gate fixture needs tests parametrized by `variant` and `check`", pytrace=False)
    return request.config.stash[SESSION_KEY]


def assert_check(gate: GateSession, variant: VariantSpec, check: str) -> None:
    """Run one check, record it in Allure, and fail the test with the full message on a regression."""
    from harness.report import allure_record

    reason = gate.skip_reason(variant.model, check, variant.id)
    if reason:
        pytest.skip(reason)
    verdict = gate.check(variant, check)
    allure_record.record(verdict)
    if not verdict.passed:
        pytest.fail(verdict.message(), pytrace=False)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from harness.report import verdicts

    gate_session = session.config.stash.get(SESSION_KEY, None)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    path: Path = session.config.getoption("verdict")
    if gate_session is not None and gate_session.verdicts:
        parts.write_part(path, worker or "main", [v.as_dict() for v in gate_session.verdicts])
    saved: Path | None = session.config.getoption("save_outputs")
    if saved is not None and gate_session is not None:
        parts.write_part(saved, worker or "main", gate_session.output_rows)
    if saved is not None and worker is None:
        write_outputs(saved, parts.merge_parts(saved))
    if worker is None and parts.has_parts(path):
        merged = parts.merge_parts(path)
        alluredir = session.config.getoption("allure_report_dir", None)
        verdicts.finish(merged, path, Path(alluredir) if alluredir else None)
        session.config.pluginmanager.get_plugin("terminalreporter").write_line(
            f"moegate: verdict {json.loads(path.read_text())['verdict']} -> {path}")
