"""MedINST metrics: worked examples and agreement with rouge-score / sacrebleu used directly."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rouge_score import rouge_scorer
from sacrebleu.metrics import CHRF

from harness.metrics import medinst as m


def test_entities_are_outermost_spans_with_nesting_and_stray_brackets():
    assert m.entities("x [Aspirin] y [the [nested] one] ] z [Kelmar syndrome]") == [
        "aspirin",
        "nested one",
        "kelmar syndrome",
    ]


def test_entity_f1_is_multiset_and_empty_scores_zero():
    assert m.entity_f1("[A] [A] [B]", "[A] [B]") == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))
    assert m.entity_f1("none", "none") == 0.0


def test_token_f1_and_exact_match_normalise():
    assert m.token_f1("The Kelmar syndrome.", "kelmar syndrome") == 1.0
    assert m.exact_match("An answer!", "answer") == 1.0
    assert m.token_f1("", "x") == 0.0


def test_rouge_l_is_stemmed_rouge_score():
    ref = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True).score("patients treated daily", "patient treats daily")
    assert m.rouge_l("patient treats daily", "patients treated daily") == pytest.approx(ref["rougeL"].fmeasure)
    assert m.rouge_l("patient treats daily", "patients treated daily") == 1.0  # stemming matters


def test_chrf_pp_is_sacrebleu_with_word_order_2():
    ref = CHRF(word_order=2).sentence_score("le patient reçoit 5 mg", ["le patient reçoit 5 mg/ml"]).score / 100
    assert m.chrf_pp("le patient reçoit 5 mg", "le patient reçoit 5 mg/ml") == pytest.approx(ref)


def test_label_macro_f1_uses_gold_labels_only():
    assert m.label_macro_f1(["yes", "no", "banana"], ["yes", "no", "no"]) == pytest.approx((1.0 + 2 / 3) / 2)


def test_bio_tags_pad_and_truncate():
    assert m.bio_macro_f1(["[B] [I]"], ["[B] [I] [O]"]) == pytest.approx(2 / 3)


def test_sts_unparseable_counts_as_worst_case():
    assert m.sts_mse(["3", "none"], ["3", "0"]) == pytest.approx(25 / 2)


def test_score_task_routes_metrics_and_checks_lengths():
    assert set(m.score_task("ParaMed", ["a"], ["a"])) == {"rouge_l", "f1", "chrf_pp"}
    assert set(m.score_task("BC5CDR-RE", ["[a]"], ["[a]"])) == {"rouge_l", "f1", "entity_f1"}
    with pytest.raises(ValueError, match="2 predictions for 1"):
        m.score_task("MedQA", ["a", "b"], ["a"])


@given(
    st.lists(st.sampled_from(["[x]", "[y]", "[z]", "w"]), max_size=6),
    st.lists(st.sampled_from(["[x]", "[y]"]), max_size=6),
)
def test_entity_f1_is_symmetric_and_bounded(pred, gold):
    a, b = " ".join(pred), " ".join(gold)
    assert 0.0 <= m.entity_f1(a, b) <= 1.0
    assert m.entity_f1(a, b) == pytest.approx(m.entity_f1(b, a))
