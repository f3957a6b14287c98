"""Precision and recall of the fact checks on labelled (source, summary, numbers) cases.

A case labels every number of its summary with the truth: the rule that supports it, or ``bad:KIND``
for a real error. A finding is right when it overlaps a ``bad`` span (precision); a ``bad`` span is
caught when some finding overlaps it (recall); a supported number is kept when no finding overlaps
it, and attributed when the checker names the labelled rule. Sources are inline text or real-format
records (``{rct: REVIEW_ID}``, ``{news: SPLIT/IDX}``) rendered exactly as the gate renders them.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.data.records import DataFormatError

BAD_KINDS = (
    "wrong_number",
    "invented_number",
    "wrong_unit",
    "swapped_arms",
    "inverted_direction",
    "invented_year",
    "invented_citation",
    "wrong_derivation",
)
RULES = (
    "literal",
    "word",
    "range_bound",
    "unit_conversion",
    "rounding",
    "sum",
    "difference",
    "percentage",
    "ratio",
    "citation",
)


@dataclass(frozen=True)
class Label:
    span: str
    start: int
    end: int
    label: str  # a rule, or bad:KIND

    @property
    def bad(self) -> bool:
        return self.label.startswith("bad:")


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    summary: str
    labels: tuple[Label, ...]


@dataclass
class Tally:
    n: int = 0
    hit: int = 0  # bad: caught; rule: kept (not flagged)
    attributed: int = 0  # rule: the checker named this rule

    def share(self, k: int) -> float | None:
        return k / self.n if self.n else None


@dataclass
class Report:
    cases: int = 0
    skipped: int = 0
    findings: int = 0
    true_findings: int = 0
    bad: dict[str, Tally] = field(default_factory=dict)
    rules: dict[str, Tally] = field(default_factory=dict)
    false_findings: list[str] = field(default_factory=list)  # "case: span (kind)"
    missed: list[str] = field(default_factory=list)  # "case: span (label)"

    @property
    def precision(self) -> float:
        return self.true_findings / self.findings if self.findings else 1.0

    @property
    def recall(self) -> float:
        n = sum(t.n for t in self.bad.values())
        return sum(t.hit for t in self.bad.values()) / n if n else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "skipped": self.skipped,
            "findings": self.findings,
            "precision": self.precision,
            "recall": self.recall,
            "bad": {k: {"n": t.n, "caught": t.hit, "recall": t.share(t.hit)} for k, t in self.bad.items()},
            "rules": {
                k: {"n": t.n, "kept": t.share(t.hit), "attributed": t.share(t.attributed)}
                for k, t in self.rules.items()
            },
            "false_findings": self.false_findings,
            "missed": self.missed,
        }

    def table(self) -> str:
        out = [
            f"cases {self.cases} (skipped {self.skipped}), findings {self.findings}: precision {self.precision:.3f}, "
            f"recall {self.recall:.3f}",
            "",
            "| error kind | n | caught |",
            "|---|---|---|",
        ]
        out += [f"| {k} | {t.n} | {t.hit} |" for k, t in sorted(self.bad.items())]
        out += ["", "| rule | n | kept (not flagged) | attributed to the rule |", "|---|---|---|---|"]
        out += [f"| {k} | {t.n} | {t.hit} | {t.attributed} |" for k, t in sorted(self.rules.items())]
        return "\n".join(out)


class Sources:
    """Real-format records of the samples folder (``real-format-samples/``), rendered as the gate does."""

    def __init__(self, root: Path | None):
        self.root = root
        self._rct: dict[str, str] | None = None
        self._news: dict[str, str] = {}
        self._news_splits: set[str] = set()

    def available(self) -> bool:
        return self.root is not None and self.root.is_dir()

    def rct(self, review_id: str) -> str:
        from harness.data import rct
        from harness.data.prompts.summarization import rct_source_block

        if self._rct is None:
            assert self.root is not None
            folder = self.root / "rct" / "reconstructed"
            with tempfile.TemporaryDirectory() as tmp:  # the loader reads {split}-inputs/-targets side by side
                for name in ("test-inputs.csv", "test-targets.csv"):
                    shutil.copy(folder / name, Path(tmp) / name)
                self._rct = {r.review_id: rct_source_block(r.review_id, r.articles) for r in rct.load(Path(tmp))}
        if review_id not in self._rct:
            raise KeyError(f"no RCT review {review_id} in {self.root}")
        return self._rct[review_id]

    def news(self, key: str) -> str:
        from harness.data import multi_news

        split, _, idx = key.partition("/")
        if split not in self._news_splits:
            assert self.root is not None
            clusters = multi_news.load(self.root / "multi_news_plus" / "cleansed_data", split=split).clusters
            self._news.update({f"{split}/{c.idx}": "\n\n".join(c.documents) for c in clusters})
            self._news_splits.add(split)
        if key not in self._news:
            raise KeyError(f"no Multi-News+ cluster {key} in {self.root}")
        return self._news[key]


def _locate(path: Path, case_id: str, summary: str, entry: Any) -> Label:
    if not (isinstance(entry, list) and len(entry) in (2, 3) and all(isinstance(x, (str, int)) for x in entry)):
        raise DataFormatError(
            f"{path}: case {case_id}: numbers: expected [span, label] or [span, label, occurrence], got {entry!r}"
        )
    span, label = str(entry[0]), str(entry[1])
    if not (label in RULES or (label.startswith("bad:") and label[4:] in BAD_KINDS)):
        raise DataFormatError(
            f"{path}: case {case_id}: label {label!r} of {span!r}: expected one of {', '.join(RULES)} "
            f"or bad:KIND with KIND in {', '.join(BAD_KINDS)}"
        )
    occurrence = int(entry[2]) if len(entry) == 3 else 1
    # whole tokens only: "200" is not the start of "2004"
    pattern = (
        (r"(?<!\w)" if span[:1].isalnum() else "") + re.escape(span) + (r"(?![\w])" if span[-1:].isalnum() else "")
    )
    found = [m.start() for m in re.finditer(pattern, summary)]
    if len(found) < occurrence:
        raise DataFormatError(f"{path}: case {case_id}: span {span!r} (occurrence {occurrence}) is not in the summary")
    start = found[occurrence - 1]
    return Label(span, start, start + len(span), label)


def load_cases(path: Path, samples: Path | None) -> tuple[list[Case], int]:
    """The cases of ``path`` and how many were skipped (real-format sources without ``samples``)."""
    rows = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(rows, list):
        raise DataFormatError(f"{path}: expected a YAML list of cases")
    sources = Sources(samples)
    cases, skipped, seen = [], 0, set()
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not {"id", "source", "summary", "numbers"} <= set(row):
            raise DataFormatError(f"{path}: case {i + 1}: expected the fields id, source, summary, numbers")
        if row["id"] in seen:
            raise DataFormatError(f"{path}: case {row['id']}: duplicate id")
        seen.add(row["id"])
        src = row["source"]
        if isinstance(src, dict):
            if not sources.available():
                skipped += 1
                continue
            [(kind, key)] = src.items()
            source = sources.rct(str(key)) if kind == "rct" else sources.news(str(key))
        else:
            source = str(src)
        summary = str(row["summary"])
        labels = tuple(_locate(path, row["id"], summary, e) for e in row["numbers"])
        cases.append(Case(row["id"], source, summary, labels))
    return cases, skipped


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def evaluate(cases: list[Case], check: Callable[[str, str], Any], skipped: int = 0) -> Report:
    """``check(summary, source)`` returns an object with ``findings`` (kind, span, start, end) and, for the
    rule attribution, ``numbers`` (start, end, rule); instruction leakage is not scored here."""
    report = Report(cases=len(cases), skipped=skipped)
    for case in cases:
        result = check(case.summary, case.source)
        findings = [f for f in result.findings if f.kind != "instruction_leakage"]
        rules = {(n.start, n.end): n.rule for n in getattr(result, "numbers", [])}
        report.findings += len(findings)
        for f in findings:
            if any(lab.bad and _overlaps((f.start, f.end), (lab.start, lab.end)) for lab in case.labels):
                report.true_findings += 1
            else:
                report.false_findings.append(f"{case.id}: {f.span!r} ({f.kind})")
        for lab in case.labels:
            flagged = any(_overlaps((f.start, f.end), (lab.start, lab.end)) for f in findings)
            if lab.bad:
                tally = report.bad.setdefault(lab.label[4:], Tally())
                tally.n += 1
                tally.hit += flagged
            else:
                tally = report.rules.setdefault(lab.label, Tally())
                tally.n += 1
                tally.hit += not flagged
                tally.attributed += rules.get((lab.start, lab.end)) == lab.label or any(
                    rule == lab.label and _overlaps(span, (lab.start, lab.end)) for span, rule in rules.items()
                )
            if lab.bad and not flagged:
                report.missed.append(f"{case.id}: {lab.span!r} ({lab.label})")
    return report
