"""moegate's pytest entry point (``pytest11: moegate``): the gate's command-line options, always; the gate
itself only in a gate run, the way pytest-cov does nothing without ``--cov``.

A gate run is a session over a folder whose conftest calls :func:`activate` (``suites/``), or one given a
gate option (``--model``, ``--method``, ``--ratio``, ``--seed``, ``--mask``, ``--skip-beta``, ``--outputs``,
``--calibration``). Any other pytest run in the environment, the harness's own tests included, gets the
options and nothing else: no ``nvidia-smi``, no verdict files, no parametrization. The gate's hooks live in
``harness.pytest_gate``.

    pytest suites --model tiny-moe --method easy_ep --ratio 0.25 --alluredir allure-results
    pytest suites -k "reap and r0.50"
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.gate.modes import CALIBRATIONS, QUANTS
from harness.generate.options import add_backend_options

GATE_PLUGIN = "harness.pytest_gate"
#: options that only mean something to a gate run: giving one makes the session a gate run
ACTIVATING = ("model", "method", "ratio", "seed", "mask", "skip_beta", "outputs", "calibration")


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("moegate", "moegate: gate pruned MoE variants against the unpruned baseline")
    g.addoption("--model", action="append", help="registry name or checkpoint dir (repeatable; default tiny-moe)")
    g.addoption("--method", action="append", help="saliency method (repeatable; default all six)")
    g.addoption(
        "--ratio", action="append", type=float, help="pruning ratio, a multiple of 0.125 (repeatable; default 0.5)"
    )
    g.addoption("--seed", action="append", type=int, help="calibration seed (repeatable; default 0)")
    g.addoption("--calibration", action="append", choices=CALIBRATIONS, help="calibration domains (default biomedical)")
    g.addoption(
        "--calibration-file",
        action="append",
        default=[],
        metavar="DOMAIN=PATH",
        help="calibration set for a domain (biomedical, general); embedded models ship theirs",
    )
    g.addoption(
        "--mask",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="a variant from given kept experts (repeatable): the study's expert_mask.json or a pruning.json; "
        "id <model>-mask-NAME-r<ratio>-s<seed>",
    )
    g.addoption(
        "--skip-beta",
        action="append",
        type=float,
        metavar="B",
        help="dynamic expert skipping at generation (NAEE): drop a routed expert whose weight is below B x the "
        "top-1 weight; a variant axis (repeatable), ids end in -skipB; transformers backend only",
    )
    g.addoption("--quant", choices=QUANTS, default="none", help="quantize each pruned variant (default none)")
    g.addoption(
        "--calibration-mode",
        choices=("auto", "full", "layerwise"),
        default="auto",
        help="building variants: the whole model (full) or its decoder layers streamed from the checkpoint "
        "(layerwise); auto: full when it fits the device's free memory",
    )
    g.addoption("--judge", action="append", default=[], help="LLM judge (provider:model), repeatable")
    g.addoption(
        "--judge-repeats",
        type=int,
        default=1,
        help="ask every judge N times (separately cached) to measure judge noise: per-item pass rates",
    )
    g.addoption("--bertscore-encoder", type=Path, help="local encoder directory for the BERTScore checks")
    g.addoption(
        "--data-dir", type=Path, help="datasets in the fixture layout (default: the model's own or the registry's)"
    )
    g.addoption(
        "--variants-dir",
        type=Path,
        default=Path("runs/variants"),
        help="where pruned variants are written (relative: to the current directory)",
    )
    g.addoption("--baseline-dir", type=Path, default=Path("runs/baselines"), help="stored baseline answers")
    g.addoption("--refresh-baseline", action="store_true", help="re-evaluate the baseline even when stored")
    g.addoption("--thresholds", type=Path, help="tolerances YAML (default: the shipped harness/gate/thresholds.yaml)")
    g.addoption("--limit", type=int, help="items per task (quick runs)")
    g.addoption("--verdict", type=Path, default=Path("reports/verdict.json"), help="machine-readable verdict")
    g.addoption(
        "--outputs",
        type=Path,
        metavar="FILE.jsonl",
        help="gate outputs generated elsewhere (rows of task, item_id, variant, baseline_output, variant_output, "
        "source / reference / choices; see harness/gate/outputs.py) instead of building variants",
    )
    g.addoption(
        "--lenient", action="store_true", help="with --outputs: skip malformed rows (counted) instead of failing"
    )
    g.addoption(
        "--save-outputs",
        type=Path,
        metavar="FILE.jsonl",
        help="write every checked (variant, task) pair as output rows, to re-gate later with --outputs",
    )
    add_backend_options(g.addoption)


def pytest_configure(config: pytest.Config) -> None:
    if any(config.getoption(name) for name in ACTIVATING):
        activate(config)


def activate(config: pytest.Config) -> None:
    """Make this session a gate run (idempotent): registers the gate's hooks and fixtures."""
    if not config.pluginmanager.has_plugin(GATE_PLUGIN):
        config.pluginmanager.import_plugin(GATE_PLUGIN)
