"""Every registered check (``harness.benchmarks``) on every configured variant, against the unpruned
baseline. Each test carries its check's markers: ``utility`` / ``reliability``, its domain
(``biomedical`` / ``general``), its benchmark (``rct``, ``medhalt``, ...) and ``judge`` for LLM-judged
checks, so ``pytest suites -m "reliability and rct"`` selects as expected."""

import pytest

from harness.benchmarks import checks
from harness.pytest_gate import assert_check


@pytest.mark.parametrize("check", list(checks()))
def test_check(gate, variant, check):
    assert_check(gate, variant, check)
