"""The training-step benchmark reaches into the build's internals (its corpus rows, streams and goals),
so it breaks silently when they change (it did once, with the rows' domain field): run it on one
batch per measurement and check that it prints its whole table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_train_step_benchmark_runs_on_the_current_build_code():
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_train_step.py"), "--steps", "1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),  # tools/ (the lab) is not installed
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:4]] == ["replay", "facts", "mcq"], run.stdout
    assert lines[-1].startswith("one layouts goal check ("), run.stdout
