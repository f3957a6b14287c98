"""lm-evaluation-harness multiple-choice templates (EleutherAI/lm-evaluation-harness @ 4e7e0d47).

``medqa_4options`` (lm_eval/tasks/medqa/preprocess_medqa.py), ``medmcqa`` (lm_eval/tasks/medmcqa/utils_medmcqa.py),
``mmlu_*`` (lm_eval/tasks/mmlu/default),
``pubmedqa`` (lm_eval/tasks/pubmedqa/preprocess_pubmedqa.py). Choices are scored by log-likelihood of
" A".." D" (or " yes"/" no"/" maybe") after the text.
"""

from __future__ import annotations

from collections.abc import Sequence

LETTERS = ("A", "B", "C", "D")


def medqa_text(question: str, endings: Sequence[str]) -> str:
    options = "\n".join(f"{letter}. {text}" for letter, text in zip(LETTERS, endings))
    return f"Question: {question}\n{options}\nAnswer:"


def medmcqa_text(question: str, choices: Sequence[str]) -> str:
    options = "".join(f"{letter}. {text}\n" for letter, text in zip(LETTERS, choices))
    return f"Question: {question}\nChoices:\n{options}Answer:"


def mmlu_description(subject: str) -> str:
    return f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\n\n"


def mmlu_text(question: str, choices: Sequence[str]) -> str:
    options = "\n".join(f"{letter}. {text}" for letter, text in zip(LETTERS, choices))
    return f"{question.strip()}\n{options}\nAnswer:"


def mmlu_prompt(
    subject: str, question: str, choices: Sequence[str], shots: Sequence[tuple[str, Sequence[str], int]] = ()
) -> str:
    """lm-eval's ``mmlu_<subject>`` context: description, then each (question, choices, answer) shot
    answered (target delimiter " "), shots and query separated by a blank line (fewshot delimiter)."""
    examples = "".join(f"{mmlu_text(q, c)} {LETTERS[a]}\n\n" for q, c, a in shots)
    return mmlu_description(subject) + examples + mmlu_text(question, choices)


def pubmedqa_text(contexts: Sequence[str], question: str) -> str:
    return "Abstract: {}\nQuestion: {}\nAnswer:".format("\n".join(contexts), question)
