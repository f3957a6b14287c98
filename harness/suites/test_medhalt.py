"""Med-HALT reasoning FCT / NOTA / Fake: official prompts and parsing, accuracy vs the baseline."""

import pytest

from harness.gate.pytest_gate import assert_check


@pytest.mark.parametrize("check", ["medhalt_fct.accuracy", "medhalt_nota.accuracy", "medhalt_fake.accuracy"])
def test_medhalt(gate, variant, check):
    assert_check(gate, variant, check)
