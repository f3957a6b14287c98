"""Multiple-choice rows as the Hugging Face datasets expose them, read from local JSONL.

``medqa_4options``: ``GBaker/MedQA-USMLE-4-options-hf`` rows (sent1, ending0..3, label).
``medmcqa``: ``openlifescienceai/medmcqa`` rows (question, opa..opd, cop 0..3, subject_name); lm-eval scores
the ``validation`` split (the test split has no answers).
``mmlu``: ``cais/mmlu`` rows (question, subject, choices[4], answer); MultiMedQA (Singhal et al., 2023)
uses the six ``MEDICAL_SUBJECTS`` as its MMLU part.
``cloze``: knowledge probes, one fact per row (id, domain, context, choices[], answer index), scored
by log-likelihood over all candidates; the embedded world writes one (``knowledge/facts.jsonl``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data.records import as_int, fail, parse_each, read_jsonl

MEDICAL_SUBJECTS = (
    "anatomy",
    "clinical_knowledge",
    "college_biology",
    "college_medicine",
    "medical_genetics",
    "professional_medicine",
)


@dataclass(frozen=True)
class MCQItem:
    question: str
    choices: tuple[str, ...]
    answer: int
    subject: str

    @property
    def medical(self) -> bool:
        """One of MultiMedQA's MMLU subjects (the biomedical part of MMLU)."""
        return self.subject in MEDICAL_SUBJECTS


def _require(path: Path, line: str, rec: Any, keys: tuple[str, ...]) -> None:
    if not isinstance(rec, dict):
        raise fail(path, line, "(record)", "a JSON object", rec)
    for key in keys:
        if key not in rec:
            raise fail(path, line, key, "present")


def _checked(path: Path, line: str, item: MCQItem) -> MCQItem:
    if len(item.choices) != 4:
        raise fail(path, line, "choices", "4 options", item.choices)
    if not 0 <= item.answer < 4:
        raise fail(path, line, "answer", "an index 0..3", item.answer)
    return item


def load_medqa(path: Path, skipped: list[str] | None = None) -> list[MCQItem]:
    def parse(line: str, rec: Any) -> MCQItem:
        _require(path, line, rec, ("sent1", "ending0", "ending1", "ending2", "ending3", "label"))
        return _checked(
            path,
            line,
            MCQItem(
                rec["sent1"],
                tuple(rec[f"ending{i}"] for i in range(4)),
                as_int(path, line, "label", rec["label"]),
                "medqa",
            ),
        )

    return parse_each(read_jsonl(path), parse, skipped)


def load_medmcqa(path: Path, skipped: list[str] | None = None) -> list[MCQItem]:
    def parse(line: str, rec: Any) -> MCQItem:
        _require(path, line, rec, ("question", "opa", "opb", "opc", "opd", "cop"))
        return _checked(
            path,
            line,
            MCQItem(
                rec["question"],
                tuple(rec[k] for k in ("opa", "opb", "opc", "opd")),
                as_int(path, line, "cop", rec["cop"]),
                rec.get("subject_name") or "medmcqa",
            ),
        )

    return parse_each(read_jsonl(path), parse, skipped)


def load_mmlu(path: Path, skipped: list[str] | None = None) -> list[MCQItem]:
    def parse(line: str, rec: Any) -> MCQItem:
        _require(path, line, rec, ("question", "choices", "answer"))
        return _checked(
            path,
            line,
            MCQItem(
                rec["question"],
                tuple(rec["choices"]),
                as_int(path, line, "answer", rec["answer"]),
                rec.get("subject", ""),
            ),
        )

    return parse_each(read_jsonl(path), parse, skipped)


@dataclass(frozen=True)
class ClozeItem:
    id: str
    domain: str
    context: str
    choices: tuple[str, ...]
    answer: int


def load_cloze(path: Path, skipped: list[str] | None = None) -> list[ClozeItem]:
    def parse(line: str, rec: Any) -> ClozeItem:
        _require(path, line, rec, ("id", "domain", "context", "choices", "answer"))
        if not isinstance(rec["choices"], list) or len(rec["choices"]) < 2:
            raise fail(path, line, "choices", "a list of at least 2 completions", rec["choices"])
        answer = as_int(path, line, "answer", rec["answer"])
        if not 0 <= answer < len(rec["choices"]):
            raise fail(path, line, "answer", f"an index 0..{len(rec['choices']) - 1}", answer)
        return ClozeItem(str(rec["id"]), str(rec["domain"]), rec["context"], tuple(rec["choices"]), answer)

    return parse_each(read_jsonl(path), parse, skipped)
