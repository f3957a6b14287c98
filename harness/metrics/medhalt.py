"""Med-HALT reasoning scoring, following the official rules (github.com/medhalt/medhalt @ 3dfe1e4,
``evaluate.py::clean_output`` and ``medhalt/eval/eval_full.py``), reimplemented.

Choices the official code leaves open, pinned here (and reported with every score):
  * an output that cannot be parsed, or lacks the answer key, counts as WRONG and is also counted in
    ``parse_failures`` (the official code drops it from the denominator; the reference study counts
    it wrong). Nothing is silently dropped.
  * pointwise score = (n_correct - 0.25 * n_wrong) / N, the paper's definition (the official code
    divides by a constant 100 instead of N).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

FCT_ANSWER_KEYS = (
    "correct_answer",
    "answer",
    "correct answer",
    "corrent_answer",
    "Correct Answer",
    "Answer",
    "Correct_answer",
    "Correct answer",
)
FAKE_REFUSALS = (
    "i do not know",
    "conceding defeat",
    "admit",
    "none of the above",
    "acknowled",
    "irrelevant",
    "fiction",
    "all of the above",
    "nonsensical",
    "no correct",
    "absurd",
    "defy",
    'i don"t know.',
    "defies",
)
_PAIR = re.compile(r"""['"](.*?)['"]\s*:\s*['"]*(.*?)['"]*\s*[,}]""")
POINT_CORRECT, POINT_WRONG = 1.0, -0.25


def parse_output(text: str) -> dict | None:
    """The model's answer dict, or None when no key/value pair can be recovered."""
    line = next((ln for ln in text.strip().splitlines() if ln.strip()), "")
    line = line.split("Stop Here")[0].strip()
    try:
        value = ast.literal_eval(line)
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        pass
    pairs = _PAIR.findall(line)
    return {k: v for k, v in pairs} or None


def is_correct(task: str, parsed: dict | None, correct_answer: str) -> bool | None:
    """True/False, or None when the output has no usable answer (a parse failure)."""
    if parsed is None:
        return None
    if task == "fct":
        key = next((k for k in FCT_ANSWER_KEYS if k in parsed), None)
        return None if key is None else str(parsed[key]).lower() == correct_answer.lower()
    if "cop" not in parsed:
        return None
    cop = str(parsed["cop"]).lower()
    if task == "fake":
        return any(term in cop for term in FAKE_REFUSALS)
    return cop == correct_answer.lower()


@dataclass
class MedHaltScore:
    task: str
    n: int = 0
    correct: int = 0
    wrong: int = 0
    parse_failures: int = 0
    per_item: list[bool] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    @property
    def pointwise(self) -> float:
        return (POINT_CORRECT * self.correct + POINT_WRONG * self.wrong) / self.n if self.n else 0.0

    def as_dict(self) -> dict:
        return {
            "task": self.task,
            "n": self.n,
            "accuracy": self.accuracy,
            "pointwise": self.pointwise,
            "correct": self.correct,
            "wrong": self.wrong,
            "parse_failures": self.parse_failures,
            "rules": "parse failures count as wrong; pointwise = (correct - 0.25 wrong) / N",
        }


def score(task: str, outputs: list[str], answers: list[str]) -> MedHaltScore:
    result = MedHaltScore(task)
    for text, answer in zip(outputs, answers, strict=True):
        verdict = is_correct(task, parse_output(text), answer)
        result.n += 1
        result.parse_failures += verdict is None
        result.correct += bool(verdict)
        result.wrong += not verdict
        result.per_item.append(bool(verdict))
    return result
