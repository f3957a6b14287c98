"""RCT summaries (study prompt): numbers and units faithful to the source, no template leakage,
no length collapse or repetition, ROUGE-L against the review's target."""

import pytest

from harness.gate.pytest_gate import assert_check


@pytest.mark.parametrize(
    "check",
    ["rct.number_fidelity", "rct.no_leakage", "rct.length_agreement", "rct.bertscore", "rct.repetition", "rct.rouge_l"],
)
def test_rct(gate, variant, check):
    assert_check(gate, variant, check)
