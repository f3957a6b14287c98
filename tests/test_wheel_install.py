"""A non-editable install finds everything it needs in the package: the default tolerances, the gate
suites and the embedded model with its data. The wheel is built from this checkout, installed into a
separate folder, and the gate runs from another directory with nothing of the checkout importable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    [wheel] = (tmp / "dist").glob("moegate-*.whl")
    target = tmp / "site"
    install = subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(target), str(wheel)], capture_output=True, text=True, timeout=600
    )
    assert install.returncode == 0, install.stderr[-3000:]
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=str(target), HF_HUB_OFFLINE="1")
    return wheel, target, elsewhere, env


def test_the_wheel_carries_the_package_data(installed):
    import zipfile

    wheel, target, elsewhere, env = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "harness/gate/thresholds.yaml",
        "harness/suites/test_gate.py",
        "harness/benchmarks/medhalt_memory.py",
        "harness/suites/conftest.py",
        "harness/fixtures/tiny-moe/model/model.safetensors",
        "harness/fixtures/tiny-moe/data/rct/test-inputs.csv",
    } <= names
    assert not any(n.startswith(("tools/", "tests/")) for n in names)  # the lab and the tests stay out
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import harness, harness.gate.thresholds as t, harness.models.registry as r;"
            "print(harness.__file__); print(t.DEFAULT_FILE.is_file()); print(r.FIXTURES_DIR)",
        ],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    where, thresholds, fixtures = probe.stdout.split()
    assert where.startswith(str(target)) and thresholds == "True" and fixtures.startswith(str(target))


def test_the_gate_runs_from_another_directory(installed):
    _, target, elsewhere, env = installed
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            "harness.suites",
            "-q",
            "-p",
            "no:cacheprovider",
            "--ratio",
            "0.25",
            "--limit",
            "5",
            "--method",
            "reap",
            "--method",
            "random",
            "--cache-dir",
            str(elsewhere / "cache"),
        ],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    verdict = json.loads((elsewhere / "reports" / "verdict.json").read_text())
    assert verdict["verdict"] == "pass"
    assert set(verdict["variants"]) == {"tiny-moe-reap-r0.25-s0", "tiny-moe-random-r0.25-s0"}
    assert (elsewhere / "runs" / "variants").is_dir()  # outputs land where the gate runs, not in site-packages
    assert not list(Path(target).rglob("pruning.json"))
