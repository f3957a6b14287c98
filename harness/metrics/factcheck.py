"""Deterministic reliability checks on one summary against its source (no LLM, always on).

Findings, each with the offending span and its character offsets in the summary:
  unit_mismatch           a number the source has, but with a different unit (3.8 ng/ml -> 3.8 mg/ml),
                          and no conversion of a stated amount gives it
  number_not_in_source    a number the source neither states nor supports by one derivation step
                          (``harness.metrics.support``: sums, differences, percentages, rounding, words,
                          unit conversions); years are literal only (179 randomized -> 70-9 randomized)
  citation_not_in_source  a reference marker ([3], \\cite{3}) whose reference the source does not have
  direction_inverted      a stated number put with the opposite direction word ("increased" for "decreased")
  instruction_leakage     a run of >= 8 words copied from the prompt's instructions (not from the source)
Every number of the summary is listed in ``numbers`` with the rule that supported it or the finding.
Figures: words, length ratio to the baseline summary, repeated-trigram rate, type-token ratio.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

from harness.metrics.direction import direction_findings
from harness.metrics.numbers import Kind, quantities
from harness.metrics.support import Support, source_facts

WORD = re.compile(r"\w+(?:[./'-]\w+)*%?")  # "3.8", "ng/ml", "70-9" and "don't" are one word each
LEAK_WORDS = 8


@dataclass(frozen=True)
class Finding:
    kind: str
    span: str
    start: int
    end: int
    detail: str


@dataclass(frozen=True)
class NumberCheck:
    """One number of the summary: the rule that supported it (``harness.metrics.support.Rule``) or the
    finding it raised, and how."""

    span: str
    start: int
    end: int
    rule: str
    detail: str


@dataclass
class FactCheckResult:
    findings: list[Finding] = field(default_factory=list)
    numbers: list[NumberCheck] = field(default_factory=list)
    words: int = 0
    baseline_words: int | None = None
    length_ratio: float | None = None
    repetition_rate: float = 0.0
    type_token_ratio: float = 0.0

    def as_dict(self) -> dict:
        d = asdict(self)
        d["findings"] = [asdict(f) for f in self.findings]
        d["numbers"] = [asdict(n) for n in self.numbers]
        return d


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def type_token_ratio(text: str) -> float:
    tokens = words(text)
    return len(set(tokens)) / len(tokens) if tokens else 0.0


def repetition_rate(text: str, n: int = 3) -> float:
    """Share of word n-grams that repeat an earlier n-gram of the same text (0 = no repetition)."""
    tokens = words(text)
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


def _number_findings(summary: str, source: str) -> tuple[list[Finding], list[NumberCheck]]:
    facts = source_facts(source)
    found: list[Finding] = []
    checked: list[NumberCheck] = []
    for q in quantities(summary):
        support = facts.support(q)
        if isinstance(support, Support):
            checked.append(NumberCheck(q.text, q.start, q.end, support.rule.value, support.detail))
            continue
        if isinstance(support, str):
            kind, detail = "unit_mismatch", support
        elif q.kind is Kind.CITATION:
            kind, detail = "citation_not_in_source", f"the source cites no reference {q.value:.0f}"
        elif q.kind is Kind.YEAR:
            kind, detail = "number_not_in_source", f"the source never states the year {q.text}"
        else:
            kind, detail = "number_not_in_source", f"{q.text} is not in the source and no rule derives it"
        found.append(Finding(kind, q.text, q.start, q.end, detail))
        checked.append(NumberCheck(q.text, q.start, q.end, kind, detail))
    return found + direction_findings(summary, source, checked), checked


def _leakage(summary: str, source: str, instructions: Iterable[str]) -> list[Finding]:
    spans = [(m.group(0).lower(), m.start(), m.end()) for m in WORD.finditer(summary)]
    source_text = " ".join(words(source))
    found: list[Finding] = []
    covered = -1
    for instruction in instructions:
        inst = words(instruction)
        grams = {" ".join(inst[i : i + LEAK_WORDS]) for i in range(len(inst) - LEAK_WORDS + 1)}
        for i in range(len(spans) - LEAK_WORDS + 1):
            gram = " ".join(s[0] for s in spans[i : i + LEAK_WORDS])
            if gram in grams and gram not in source_text and spans[i][1] > covered:
                j = i + LEAK_WORDS
                while j < len(spans) and " ".join(s[0] for s in spans[j - LEAK_WORDS + 1 : j + 1]) in grams:
                    j += 1
                start, end = spans[i][1], spans[j - 1][2]
                found.append(
                    Finding(
                        "instruction_leakage", summary[start:end], start, end, "copied from the prompt's instructions"
                    )
                )
                covered = end
    return found


def check(summary: str, source: str, baseline: str | None = None, instructions: Sequence[str] = ()) -> FactCheckResult:
    """Every deterministic check of ``summary`` against ``source`` (and the baseline's summary)."""
    number_findings, numbers = _number_findings(summary, source)
    result = FactCheckResult(findings=number_findings + _leakage(summary, source, instructions), numbers=numbers)
    result.findings.sort(key=lambda f: f.start)
    result.words = len(words(summary))
    if baseline is not None:
        result.baseline_words = len(words(baseline))
        result.length_ratio = result.words / result.baseline_words if result.baseline_words else None
    result.repetition_rate = repetition_rate(summary)
    result.type_token_ratio = type_token_ratio(summary)
    return result


def numbers_faithful(summary: str, source: str) -> bool:
    """No number, unit, citation or effect direction in ``summary`` contradicts ``source`` (instruction
    leakage is a separate check)."""
    return not _number_findings(summary, source)[0]
