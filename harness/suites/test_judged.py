"""LLM-judged hallucination of RCT, Multi-XScience and Multi-News+ outputs: DeepEval absolute and pairwise against
the baseline (both orders). Skipped, with the reason, unless judges are given with --judge."""

import pytest

from harness.gate.pytest_gate import assert_check


@pytest.mark.parametrize(
    "check",
    [
        "rct.hallucination",
        "rct.pairwise_hallucination",
        "multi_xscience.hallucination",
        "multi_xscience.pairwise_hallucination",
        "multi_news.hallucination",
        "multi_news.pairwise_hallucination",
    ],
)
def test_judged_hallucination(gate, variant, check):
    assert_check(gate, variant, check)
