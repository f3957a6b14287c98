"""Multi-XScience related-work generation (the study's MedINST32 rendering): numbers faithful to the
abstracts, no template leakage, no collapse or repetition, ROUGE-L against the related-work section."""

import pytest

from harness.gate.pytest_gate import assert_check


@pytest.mark.parametrize(
    "check",
    [
        "multi_xscience.number_fidelity",
        "multi_xscience.no_leakage",
        "multi_xscience.length_agreement",
        "multi_xscience.repetition",
        "multi_xscience.rouge_l",
    ],
)
def test_multi_xscience(gate, variant, check):
    assert_check(gate, variant, check)
