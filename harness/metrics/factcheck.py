"""Deterministic reliability checks on one summary against its source (no LLM, always on).

Findings, each with the offending span and its character offsets in the summary:
  unit_mismatch         a number the source has, but with a different unit (3.8 ng/ml -> 3.8 mg/ml)
  number_not_in_source  a number the source never states (179 randomized -> 70-9 randomized)
  instruction_leakage   a run of >= 8 words copied from the prompt's instructions (not from the source)
Figures: words, length ratio to the baseline summary, repeated-trigram rate, type-token ratio.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Iterable, Sequence

UNITS = ("mg/ml", "ng/ml", "ug/ml", "µg/ml", "mcg/ml", "mg/dl", "g/dl", "mmol/l", "mmol/mol", "mg/kg", "mcg", "µg",
         "ug", "mg", "ng", "kg", "g", "ml", "iu", "units", "%")
_UNIT_RE = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
# "1,000", "3.8", a p-value's ".03" (read as 0.03), a number glued to a sentence ("placebo.01.0") and one glued
# to the lower-case word before it ("The519 patients", "The98.0 ng/ml": pruned models' summaries); never digits
# after a capital or before a letter, as in identifiers ("CD950014", "HbA1c"), or the tail of "1.2.3"
_NUMBER_RE = r"\d+(?:,\d{3})*(?:\.\d+)?"
QUANTITY = re.compile(rf"(?:(?<!\w)|(?<=[a-z])(?={_NUMBER_RE}(?![^\W\d_])))(?<!\d\.)({_NUMBER_RE}|\.\d+)"
                      rf"(?:\s?((?i:{_UNIT_RE}))(?![\w/]))?")  # units in any case ("100 IU", "3.8 NG/ML")
WORD = re.compile(r"\w+(?:[./'-]\w+)*%?")  # "3.8", "ng/ml", "70-9" and "don't" are one word each
LEAK_WORDS = 8


@dataclass(frozen=True)
class Finding:
    kind: str
    span: str
    start: int
    end: int
    detail: str


@dataclass
class FactCheckResult:
    findings: list[Finding] = field(default_factory=list)
    words: int = 0
    baseline_words: int | None = None
    length_ratio: float | None = None
    repetition_rate: float = 0.0
    type_token_ratio: float = 0.0

    def as_dict(self) -> dict:
        d = asdict(self)
        d["findings"] = [asdict(f) for f in self.findings]
        return d


@dataclass(frozen=True)
class Quantity:
    value: str  # normalised number ("1000", "3.8")
    unit: str | None  # lower-cased unit or None
    start: int
    end: int
    text: str


def _norm_number(text: str) -> str:
    value = text.replace(",", "")
    value = "0" + value if value.startswith(".") else value
    return value.rstrip("0").rstrip(".") if "." in value else value


def quantities(text: str) -> list[Quantity]:
    return [Quantity(_norm_number(m.group(1)), (m.group(2) or "").lower() or None, m.start(), m.end(), m.group(0))
            for m in QUANTITY.finditer(text)]


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def type_token_ratio(text: str) -> float:
    tokens = words(text)
    return len(set(tokens)) / len(tokens) if tokens else 0.0


def repetition_rate(text: str, n: int = 3) -> float:
    """Share of word n-grams that repeat an earlier n-gram of the same text (0 = no repetition)."""
    tokens = words(text)
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


def _number_findings(summary: str, source: str) -> list[Finding]:
    source_units: dict[str, set[str | None]] = {}
    for q in quantities(source):
        source_units.setdefault(q.value, set()).add(q.unit)
    found = []
    for q in quantities(summary):
        units = source_units.get(q.value)
        if units is None:
            found.append(Finding("number_not_in_source", q.text, q.start, q.end,
                                 f"{q.value} does not appear in the source"))
        elif q.unit is not None and q.unit not in units and any(u is not None for u in units):
            stated = ", ".join(sorted(f"{q.value} {u}" for u in units if u))
            found.append(Finding("unit_mismatch", q.text, q.start, q.end, f"the source states {stated}"))
    return found


def _leakage(summary: str, source: str, instructions: Iterable[str]) -> list[Finding]:
    spans = [(m.group(0).lower(), m.start(), m.end()) for m in WORD.finditer(summary)]
    source_text = " ".join(words(source))
    found: list[Finding] = []
    covered = -1
    for instruction in instructions:
        inst = words(instruction)
        grams = {" ".join(inst[i:i + LEAK_WORDS]) for i in range(len(inst) - LEAK_WORDS + 1)}
        for i in range(len(spans) - LEAK_WORDS + 1):
            gram = " ".join(s[0] for s in spans[i:i + LEAK_WORDS])
            if gram in grams and gram not in source_text and spans[i][1] > covered:
                j = i + LEAK_WORDS
                while j < len(spans) and " ".join(s[0] for s in spans[j - LEAK_WORDS + 1:j + 1]) in grams:
                    j += 1
                start, end = spans[i][1], spans[j - 1][2]
                found.append(Finding("instruction_leakage", summary[start:end], start, end,
                                     "copied from the prompt's instructions"))
                covered = end
    return found


def check(summary: str, source: str, baseline: str | None = None, instructions: Sequence[str] = ()) -> FactCheckResult:
    """Every deterministic check of ``summary`` against ``source`` (and the baseline's summary)."""
    result = FactCheckResult(findings=_number_findings(summary, source) + _leakage(summary, source, instructions))
    result.findings.sort(key=lambda f: f.start)
    result.words = len(words(summary))
    if baseline is not None:
        result.baseline_words = len(words(baseline))
        result.length_ratio = result.words / result.baseline_words if result.baseline_words else None
    result.repetition_rate = repetition_rate(summary)
    result.type_token_ratio = type_token_ratio(summary)
    return result


def numbers_faithful(summary: str, source: str) -> bool:
    """No number or unit in ``summary`` contradicts ``source`` (instruction leakage is a separate check)."""
    return not [f for f in check(summary, source).findings if f.kind != "instruction_leakage"]
