"""Med-HALT scoring rules: official parsing, fallbacks, parse failures counted, pointwise score."""

import pytest

from harness.metrics import medhalt


def test_parse_python_dict_and_regex_fallback():
    assert medhalt.parse_output("{'cop': 'None of the above', 'cop_index': '2'}\nmore")["cop"] == "None of the above"
    broken = "{'cop': 'Kelmar syndrome', 'cop_index': 1, 'why_correct': 'truncated"
    assert medhalt.parse_output(broken)["cop"] == "Kelmar syndrome"
    assert medhalt.parse_output("I think it is B") is None
    assert medhalt.parse_output("{'cop': 'x'} Stop Here {'cop': 'y'}")["cop"] == "x"


def test_fct_uses_first_present_answer_key():
    parsed = {"is_answer_correct": "no", "correct answer": "B text"}
    assert medhalt.is_correct("fct", parsed, "b text") is True
    assert medhalt.is_correct("fct", {"is_answer_correct": "no"}, "b") is None


def test_fake_counts_refusals_only():
    assert medhalt.is_correct("fake", {"cop": "I do not know"}, "") is True
    assert medhalt.is_correct("fake", {"cop": "Kelmar syndrome"}, "") is False


def test_scores_count_parse_failures_as_wrong_and_report_them():
    outputs = ["{'cop': 'A'}", "{'cop': 'B'}", "garbage", "{'cop': 'A'}"]
    s = medhalt.score("nota", outputs, ["A", "A", "A", "A"])
    assert (s.n, s.correct, s.wrong, s.parse_failures) == (4, 2, 2, 1)
    assert s.accuracy == 0.5
    assert s.pointwise == pytest.approx((2 - 0.25 * 2) / 4)
    with pytest.raises(ValueError):
        medhalt.score("nota", outputs, ["A"])
