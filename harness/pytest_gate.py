"""The gate run's pytest hooks (registered by ``harness.plugin.activate``): variant parametrization, the
``gate`` fixture, markers, GPU pinning for xdist workers, and the verdict/report at the end.

Each test that takes ``variant`` is parametrized over every configured variant with readable ids
(``tiny-moe-easy_ep-r0.25-s0``), session-scoped so pytest runs all checks of one variant together.
Under pytest-xdist each worker sends its verdicts and output rows back through xdist's own worker output
channel (``workeroutput``, as pytest-cov sends coverage data); the controller writes the files once, and
schedules whole variants per worker (``xdist_scheduling``).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.benchmarks import benchmark_of, benchmarks, get_check, get_task
from harness.gate.outputs import read_outputs, write_outputs
from harness.gate.session import GateConfig, GateSession
from harness.gate.shared_work import share_cpu_threads
from harness.gate.thresholds import Thresholds
from harness.gate.variants import VariantSpec
from harness.generate.options import backend_options
from harness.prune.masks import parse_masks

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
WORKER_ROWS = pytest.StashKey[dict[str, dict[str, list[dict[str, Any]]]]]()
OUTPUT_KEY = "moegate"


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
            print(
                f"moegate: --lenient: skipped {len(outputs.skipped)} malformed rows of {outputs.path}; first: "
                f"{outputs.skipped[0]}"
            )
    return GateConfig(
        masks=masks,
        skip_betas=betas,
        methods=opt("method") or ([] if masks else GateConfig().methods),
        outputs=outputs,
        save_outputs=opt("save_outputs") is not None,
        models=opt("model") or ["tiny-moe"],
        ratios=opt("ratio") or [0.5],
        seeds=opt("seed") or [0],
        calibrations=opt("calibration") or ["biomedical"],
        quant=opt("quant"),
        calibration_mode=opt("calibration_mode"),
        backend=backend,
        data_dir=opt("data_dir"),
        variants_dir=opt("variants_dir"),
        baseline_dir=opt("baseline_dir"),
        refresh_baseline=opt("refresh_baseline"),
        thresholds=Thresholds.load(opt("thresholds")),
        limit=opt("limit"),
        calibration_files=files,
        judges=opt("judge"),
        bertscore_encoder=opt("bertscore_encoder"),
        judge_repeats=opt("judge_repeats"),
    )


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
        gpus = [
            ln
            for ln in subprocess.run(
                ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20
            ).stdout.splitlines()
            if ln.startswith("GPU ")
        ]
    except (OSError, subprocess.TimeoutExpired):
        return
    if gpus:
        backend = _config(config).backend
        per_worker = backend.vllm.gpus if backend.kind == "vllm" and not backend.vllm_url else 1
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpu_set(worker, per_worker, len(gpus))))


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    for bench in benchmarks().values():
        config.addinivalue_line("markers", f"{bench.name}: {bench.description}")
    _config(config)  # bad gate options are usage errors before collection
    _pin_gpu(config)
    share_cpu_threads()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "variant" in metafunc.fixturenames:
        specs = _config(metafunc.config).specs()
        metafunc.parametrize("variant", specs, ids=[s.id for s in specs], scope="session")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    needed = set()
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        check = params.get("check")
        if check and "variant" in params:
            spec = get_check(check)
            needed.add(check)
            item.add_marker(spec.category)
            item.add_marker(get_task(spec.task).domain)
            item.add_marker(benchmark_of(check).name)
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


def _rows(config: pytest.Config) -> dict[str, list[dict[str, Any]]]:
    """This process's verdicts and output rows, as plain data (what a worker sends back)."""
    gate_session = config.stash.get(SESSION_KEY, None)
    if gate_session is None:
        return {"verdicts": [], "outputs": []}
    return {"verdicts": [v.as_dict() for v in gate_session.verdicts], "outputs": gate_session.output_rows}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Controller side of pytest-xdist: ``-n N`` (``--dist load``) schedules whole variants per worker."""
    if config.getvalue("dist") != "load":
        return None  # a --dist the user chose
    from harness.gate.xdist_scheduling import VariantScheduling

    return VariantScheduling(config, log, [spec.id for spec in _config(config).specs()])


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """Controller side of pytest-xdist: keep what a finished worker sent back."""
    sent = getattr(node, "workeroutput", {}).get(OUTPUT_KEY)
    if sent is not None:
        node.config.stash.setdefault(WORKER_ROWS, {})[node.workerinput["workerid"]] = sent


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from harness.report import verdicts

    config = session.config
    if hasattr(config, "workeroutput"):  # an xdist worker: the controller writes the files
        config.workeroutput[OUTPUT_KEY] = _rows(config)
        return
    received = config.stash.get(WORKER_ROWS, {})
    runs = [_rows(config)] + [received[w] for w in sorted(received, key=lambda w: int(w.removeprefix("gw")))]
    rows = {kind: [row for run in runs for row in run[kind]] for kind in ("verdicts", "outputs")}
    saved: Path | None = config.getoption("save_outputs")
    if saved is not None:  # two workers checking one (variant, task) both answered it: keep its rows once
        unique: dict[tuple[str, str, str], dict[str, Any]] = {}
        for row in rows["outputs"]:
            unique.setdefault((row["variant"], row["task"], row["item_id"]), row)
        write_outputs(saved, unique.values())
    if rows["verdicts"]:
        path: Path = config.getoption("verdict")
        alluredir = config.getoption("allure_report_dir", None)
        verdicts.finish(rows["verdicts"], path, Path(alluredir) if alluredir else None)
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"moegate: verdict {json.loads(path.read_text())['verdict']} -> {path}")
