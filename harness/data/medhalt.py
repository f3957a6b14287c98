"""Med-HALT reasoning CSVs (FCT, Fake, NOTA) in the official layout.

Quirks handled: ``options`` is a Python dict repr (``ast.literal_eval``, never json); ``topic_name``
may be the literal string ``None``; ``year`` is a float string or empty; fields may contain embedded
newlines. Hub: ``openlifescienceai/Med-HALT`` configs ``reasoning_FCT|reasoning_fake|reasoning_nota``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from harness.data.records import as_int, fail, parse_each, read_csv

HUB_ID = "openlifescienceai/Med-HALT"
FILES = {"fct": "reasoning_FCT.csv", "fake": "reasoning_fake.csv", "nota": "reasoning_nota.csv"}
REQUIRED = {
    "fct": ("id", "question", "options", "correct_answer", "correct_index", "split_type"),
    "nota": ("id", "question", "options", "correct_answer", "correct_index", "split_type"),
    "fake": ("id", "question", "options", "split_type"),
}


@dataclass(frozen=True)
class MedHaltRecord:
    task: str
    id: str
    question: str
    options: dict[str, str]
    correct_answer: str  # Fake: "I do not know" (abstaining is the right answer; the file has no gold)
    split_type: str
    subject: str | None


def _options(path: Path, row: str, text: str, task: str) -> dict[str, str]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise fail(path, row, "options", "a Python dict literal like {'0': '...'}", text) from None
    if not isinstance(value, dict) or not value:
        raise fail(path, row, "options", "a non-empty dict", text)
    options = {str(k): str(v) for k, v in value.items()}
    if task == "fct" and "correct answer" not in options:
        raise fail(path, row, "options", "a 'correct answer' key holding the student's answer", text)
    return options


def load(task: str, path: Path, skipped: list[str] | None = None) -> list[MedHaltRecord]:
    """All rows of one task's CSV, validated (lenient when ``skipped`` is a list)."""
    if task not in FILES:
        raise ValueError(f"unknown Med-HALT task {task!r}; choose from {', '.join(FILES)}")

    def parse(row: str, rec: dict[str, str]) -> MedHaltRecord:
        if not rec["question"].strip():
            raise fail(path, row, "question", "a non-empty string")
        options = _options(path, row, rec["options"], task)
        if task == "fake":
            answer = "I do not know"
        else:
            answer = rec["correct_answer"]
            index = as_int(path, row, "correct_index", rec["correct_index"])
            if options.get(str(index)) != answer:
                raise fail(path, row, "correct_index", f"the index of {answer!r} in options", index)
        subject = rec.get("subject_name") or None
        return MedHaltRecord(
            task, rec["id"], rec["question"], options, answer, rec["split_type"], None if subject == "None" else subject
        )

    return parse_each(read_csv(path, REQUIRED[task]), parse, skipped)
