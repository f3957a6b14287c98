"""The plugin stays out of pytest runs that are not gate runs (as pytest-cov does without --cov): its
options parse, but nothing is parametrized, no GPU is probed and no verdict file is written. A gate option
or a suite folder whose conftest activates it turns it on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PLAIN_TEST = """
import pytest

def test_plain(request):
    assert not request.config.pluginmanager.has_plugin("harness.pytest_gate")

@pytest.mark.parametrize("variant", ["mine"])
def test_own_variant_parameter(variant):
    assert variant == "mine"
"""


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess:
    # a fake nvidia-smi on PATH records whether anything probed the GPUs
    fake = folder / "bin"
    fake.mkdir(exist_ok=True)
    probe = fake / "nvidia-smi"
    probe.write_text(f"#!/bin/sh\necho called > {folder / 'probed'}\n")
    probe.chmod(0o755)
    env = dict(os.environ, PATH=f"{fake}:{os.environ['PATH']}", PYTEST_XDIST_WORKER="gw0")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(folder), str(folder), *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_another_projects_run_is_untouched(tmp_path):
    (tmp_path / "test_other.py").write_text(PLAIN_TEST)
    proc = _pytest(tmp_path, "--verdict", str(tmp_path / "verdict.json"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout
    assert not (tmp_path / "verdict.json").exists() and not (tmp_path / "probed").exists()
    assert "moegate: verdict" not in proc.stdout


def test_a_gate_option_activates_it(tmp_path):
    (tmp_path / "test_other.py").write_text(
        "def test_plain(request):\n    assert request.config.pluginmanager.has_plugin('harness.pytest_gate')\n"
    )
    proc = _pytest(tmp_path, "--ratio", "0.25")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "probed").exists()  # an xdist worker of a gate run pins its GPU set


@pytest.mark.parametrize(
    "argv, expected",
    [(["--calibration-file", "bogus"], "expected DOMAIN=PATH"), (["--skip-beta", "2"], "skip beta must be in [0, 1)")],
)
def test_bad_gate_options_are_usage_errors_before_collection(tmp_path, argv, expected):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider", "--collect-only", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 4 and expected in proc.stdout + proc.stderr
