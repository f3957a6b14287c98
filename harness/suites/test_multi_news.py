"""Multi-News+ summaries: general-domain reliability (numbers, leakage, collapse, repetition)."""

import pytest

from harness.gate.pytest_gate import assert_check


@pytest.mark.parametrize(
    "check",
    ["multi_news.number_fidelity", "multi_news.no_leakage", "multi_news.length_agreement", "multi_news.repetition"],
)
def test_multi_news(gate, variant, check):
    assert_check(gate, variant, check)
