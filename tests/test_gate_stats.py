"""Paired statistics, thresholds and the pass/fail rule against independent references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.gate.stats import bootstrap_ci, mcnemar_worse, paired
from harness.gate.thresholds import Thresholds


def test_mcnemar_matches_the_exact_binomial_by_hand():
    base = np.array([1] * 10 + [0] * 2 + [1] * 20)
    var = np.array([0] * 10 + [1] * 2 + [1] * 20)  # 10 lost, 2 won
    expected = sum(math.comb(12, k) for k in range(10, 13)) / 2**12
    assert mcnemar_worse(base, var) == pytest.approx(expected)
    assert mcnemar_worse(base, base) == 1.0


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1, 1, allow_nan=False), min_size=2, max_size=40))
def test_bootstrap_ci_brackets_the_mean(deltas):
    arr = np.array(deltas)
    lo, hi = bootstrap_ci(arr, n_boot=300)
    assert lo - 1e-9 <= hi and arr.min() - 1e-9 <= lo and hi <= arr.max() + 1e-9


def test_direction_is_respected_for_lower_is_better():
    worse = paired([0.0] * 30, [0.2] * 30, binary=False, higher_is_better=False)
    assert worse.delta == pytest.approx(0.2) and worse.p_value < 0.05
    better = paired([0.2] * 30, [0.0] * 30, binary=False, higher_is_better=False)
    assert better.p_value == 1.0
    with pytest.raises(ValueError, match="same items"):
        paired([1.0], [1.0, 0.0], True, True)


def test_thresholds_merge_patterns_and_model_overrides(tmp_path):
    t = Thresholds(
        {
            "defaults": {"tolerance": 0.05, "alpha": 0.05},
            "checks": {"*.accuracy": {"tolerance": 0.02}, "medqa.accuracy": {"alpha": 0.01}},
            "models": {"m": {"checks": {"*.accuracy": {"tolerance": 0.2}}}},
        }
    )
    assert t.for_check("x", "medqa.accuracy").tolerance == 0.02 and t.for_check("x", "medqa.accuracy").alpha == 0.01
    assert t.for_check("m", "medqa.accuracy").tolerance == 0.2
    assert t.for_check("x", "rct.rouge_l").tolerance == 0.05
    with pytest.raises(ValueError, match="tolerance/alpha"):
        Thresholds({"defaults": {"tolerance": 0.1, "alpha": 0.05}, "checks": {"a": {"tolerence": 0.1}}}, "t.yaml")
    assert Thresholds.load().for_check("tiny-moe", "medhalt_nota.accuracy").tolerance == 0.10  # shipped file


def test_decide_needs_both_tolerance_and_evidence():
    from harness.benchmarks import get_check, get_task
    from harness.gate.thresholds import Threshold
    from harness.gate.verdict import decide
    from harness.measure.tasks import Item, TaskRun

    task = get_task("medqa")
    items = [Item(str(i), "q", choices=("A", "B", "C", "D"), answer=0) for i in range(40)]
    base = TaskRun(task, items, [0] * 40)
    check = get_check("medqa.accuracy")
    small = decide("v", {}, check, base, TaskRun(task, items, [1] * 3 + [0] * 37), Threshold(0.05, 0.05))
    assert small.passed and small.delta == pytest.approx(-0.075) and small.p_value > 0.05  # 3 items: not supported
    big = decide("v", {}, check, base, TaskRun(task, items, [1] * 12 + [0] * 28), Threshold(0.05, 0.05))
    assert not big.passed and "utility regression on medqa.accuracy" in big.message() and len(big.worst) == 3
    tolerant = decide("v", {}, check, base, TaskRun(task, items, [1] * 12 + [0] * 28), Threshold(0.5, 0.05))
    assert tolerant.passed


def test_overlong_prompts_are_refused_not_truncated():
    from dataclasses import replace

    from harness.benchmarks import get_task
    from harness.generate.backends import BackendOptions, open_backend
    from harness.measure.tasks import Item, answer
    from harness.models.loading import resolve

    task = replace(get_task("rct"), max_model_len=200)
    items = [Item("short", "Summarise: 3.8 ng/ml."), Item("long-one", "word " * 300)]
    with open_backend(resolve("tiny-moe").path, options=BackendOptions(use_cache=False)) as backend:
        with pytest.raises(ValueError, match="rct: item long-one: prompt of .* exceeds the max length 200"):
            answer(task, items, backend)
        assert not backend.backend.started  # refused before any model work
