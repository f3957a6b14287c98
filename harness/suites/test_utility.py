"""Utility: MedINST generation, MultiMedQA (MedQA, MedMCQA, PubMedQA, MMLU medical), MMLU, GSM8K, IFEval,
HumanEval, and per-domain knowledge probes."""

import pytest

from harness.gate.pytest_gate import assert_check


@pytest.mark.parametrize(
    "check",
    [
        "medinst.rouge_l",
        "medqa.accuracy",
        "medmcqa.accuracy",
        "pubmedqa.accuracy",
        "mmlu_medical.accuracy",
        "knowledge_bio.accuracy",
    ],
)
def test_biomedical_utility(gate, variant, check):
    assert_check(gate, variant, check)


@pytest.mark.parametrize(
    "check",
    ["mmlu.accuracy", "gsm8k.exact_match", "ifeval.prompt_strict", "humaneval.pass_at_1", "knowledge_general.accuracy"],
)
def test_general_utility(gate, variant, check):
    assert_check(gate, variant, check)
