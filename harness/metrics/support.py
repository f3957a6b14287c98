"""Whether the source supports a number of the summary: stated, or derived by one plausible step.

Real summaries compute: "179 women" for arms of 56, 62 and 61; "100% ... compared to only 8.3%" for
12 of 12 and one of 12; "2.30 (95% CI 1.50-3.53)" for 2.301 (1.499, 3.534); "84 days" for 12 weeks.
Each rule below is one such step; a number no rule reaches is a finding. The first rule that supports
a number names it (literal first, so a stated number is never credited to a derivation).

Rules and their search (n = the source's quantities, m <= MAX_PER_SENTENCE those of one sentence):
  literal          the value is stated (digits, or words: ``word``); O(log n)
  range_bound      stated as the first of a range or pair whose unit sits on the second ("14 to 50%",
                   "43 vs. 34%")
  unit_conversion  the same amount in another unit of one dimension (mg <-> g <-> µg, ml <-> l,
                   min <-> h <-> days <-> weeks, months <-> years); O(n)
  rounding         a stated number rounded to the summary's precision (2.301 -> 2.30); to tens or
                   more only after "about", "nearly", "over", ... (179 -> "about 180"); O(n)
  sum              2-4 whole numbers without a unit in one sentence (group sizes): sum(C(m, k)) per sentence
  difference       |a - b| of two numbers of one unit in one sentence; 100 - p of a stated percentage
  percentage       100 x / y of two whole numbers of one sentence (x <= y), or a fraction in words
                   ("a third" -> 33%), rounded to the summary's precision
  ratio            x / y or y / x of two whole numbers of one sentence (a proportion, a fold change)
Derived values are built once per source (cached) and looked up by bisection: a check costs
O(k log D) for k summary numbers and D derived values (D <= ~300 per sentence).
Never derived: years (1900-2099, literal only: an invented "2013" is a finding) and citations
(``[3]``, ``\\cite{3}`` and ``@cite_3`` are one reference; a summary citing one the source lacks is a finding).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from itertools import combinations

from harness.metrics.numbers import Kind, Quantity, format_value, quantities, unit_dimension, unit_factor

MAX_PER_SENTENCE = 8  # sums and ratios combine at most this many numbers of one sentence (the first ones)
MAX_SUMMANDS = 4


class Rule(str, Enum):
    LITERAL = "literal"
    WORD = "word"
    RANGE_BOUND = "range_bound"
    UNIT_CONVERSION = "unit_conversion"
    ROUNDING = "rounding"
    SUM = "sum"
    DIFFERENCE = "difference"
    PERCENTAGE = "percentage"
    RATIO = "ratio"
    CITATION = "citation"


DERIVED = (Rule.SUM, Rule.DIFFERENCE, Rule.PERCENTAGE, Rule.RATIO)


@dataclass(frozen=True)
class Support:
    rule: Rule
    detail: str  # how: "56 + 62 + 61", "100 x 1 / 12", "12 week = 84 day"


@dataclass(frozen=True)
class _Derived:
    value: float
    unit: str | None
    rule: Rule
    detail: str


def _tolerance(q: Quantity) -> float:
    """Half a unit of the summary's last written digit: 8.3 stands for [8.25, 8.35]."""
    return 0.5 * 10**-q.decimals * q.scale + 1e-9


def _coarse_tolerance(q: Quantity) -> float | None:
    """After a hedge ("about 180"), the trailing zeros of a whole number are rounding: 180 -> +-5."""
    if not q.hedged or q.decimals or q.value == 0 or q.scale != 1:
        return None
    zeros, v = 0, int(q.value)
    while v % 10 == 0:
        zeros, v = zeros + 1, v // 10
    return 0.5 * 10**zeros + 1e-9 if zeros else None


def _show(q: Quantity) -> str:
    return format_value(q.value, q.decimals) + (f" {q.unit}" if q.unit else "")


class SourceFacts:
    """The source's quantities and every value one rule derives from them."""

    def __init__(self, source: str):
        self.quantities = list(quantities(source, source=True))
        numbers = [q for q in self.quantities if q.kind is not Kind.CITATION]
        self.citations = {q.value for q in self.quantities if q.kind is Kind.CITATION}
        self.by_value = sorted(((q.value, i) for i, q in enumerate(numbers)), key=lambda t: t[0])
        self._numbers = numbers
        self._values = [v for v, _ in self.by_value]
        derived = self._derive([q for q in numbers if q.kind in (Kind.NUMBER, Kind.WORD, Kind.FRACTION)])
        derived.sort(key=lambda d: d.value)
        self._derived = derived
        self._derived_values = [d.value for d in derived]

    @property
    def derived_count(self) -> int:
        """How many values the derivation rules built from this source (the search's size)."""
        return len(self._derived)

    @staticmethod
    def _derive(numbers: list[Quantity]) -> list[_Derived]:
        out: list[_Derived] = []
        by_sentence: dict[int, list[Quantity]] = {}
        for q in numbers:
            if q.kind is Kind.FRACTION:
                out.append(_Derived(100 * q.value, "%", Rule.PERCENTAGE, f"{q.text} = {100 * q.value:.4g}%"))
                continue
            if q.unit == "%" and 0 < q.value < 100:
                out.append(_Derived(100 - q.value, "%", Rule.DIFFERENCE, f"100 - {_show(q)}"))
            by_sentence.setdefault(q.sentence, []).append(q)
        for group in by_sentence.values():
            group = group[: MAX_PER_SENTENCE * 2]
            counts = [q for q in group if q.is_count][:MAX_PER_SENTENCE]
            for k in range(2, MAX_SUMMANDS + 1):
                for combo in combinations(counts, k):
                    out.append(
                        _Derived(sum(q.value for q in combo), None, Rule.SUM, " + ".join(_show(q) for q in combo))
                    )
            for a, b in combinations(group, 2):
                if a.unit == b.unit and a.value != b.value:
                    hi, lo = (a, b) if a.value > b.value else (b, a)
                    out.append(_Derived(hi.value - lo.value, a.unit, Rule.DIFFERENCE, f"{_show(hi)} - {_show(lo)}"))
            for x, y in combinations(counts, 2):
                for num, den in ((x, y), (y, x)):
                    if den.value >= 2 and num.value <= den.value:
                        out.append(
                            _Derived(
                                100 * num.value / den.value, "%", Rule.PERCENTAGE, f"100 x {_show(num)} / {_show(den)}"
                            )
                        )
                    if den.value > 0 and num.value != den.value:
                        out.append(_Derived(num.value / den.value, None, Rule.RATIO, f"{_show(num)} / {_show(den)}"))
        return out

    def _stated(self, value: float, tol: float = 1e-9) -> list[Quantity]:
        lo = bisect.bisect_left(self._values, value - tol)
        hi = bisect.bisect_right(self._values, value + tol)
        return [self._numbers[self.by_value[i][1]] for i in range(lo, hi)]

    def _derived_near(self, value: float, tol: float) -> list[_Derived]:
        lo = bisect.bisect_left(self._derived_values, value - tol)
        hi = bisect.bisect_right(self._derived_values, value + tol)
        return self._derived[lo:hi]

    def support(self, q: Quantity) -> Support | None | str:
        """The rule that supports ``q``; a string when only its unit is wrong (the units the source
        states the value in); None when nothing supports it."""
        if q.kind is Kind.CITATION:
            return (
                Support(Rule.CITATION, f"reference {q.value:.0f} is cited in the source")
                if q.value in self.citations
                else None
            )
        stated = [s for s in self._stated(q.value) if s.kind is not Kind.FRACTION]
        if q.kind is Kind.YEAR:
            return Support(Rule.LITERAL, "stated") if stated else None
        if stated:
            found = self._literal(q, stated)
            if found is not None:
                return found
        derived = self._conversion(q) or self._rounding(q) or self._derivation(q)
        if derived is None and stated:
            units = sorted({f"{format_value(s.value, s.decimals)} {s.unit}" for s in stated if s.unit})
            return "the source states " + ", ".join(units)
        return derived

    @staticmethod
    def _literal(q: Quantity, stated: list[Quantity]) -> Support | None:
        units = {s.unit for s in stated}
        matching = [s for s in stated if q.unit is None or s.unit == q.unit]
        if not matching and units != {None}:
            return None  # stated, but only in other units
        best = (matching or stated)[0]
        if (best.kind is Kind.WORD) != (q.kind is Kind.WORD):
            return Support(Rule.WORD, f"{q.text!r} is the source's {best.text!r}")
        if q.unit is not None and best.range_unit:
            return Support(Rule.RANGE_BOUND, f"bound of a range in {best.unit}")
        return Support(Rule.LITERAL, "stated")

    def _conversion(self, q: Quantity) -> Support | None:
        dimension = unit_dimension(q.unit)
        if dimension is None:
            return None
        assert q.unit is not None
        tol = _tolerance(q)
        for s in self._numbers:
            if s.unit and s.unit != q.unit and unit_dimension(s.unit) == dimension:
                amount = s.value * unit_factor(s.unit) / unit_factor(q.unit)
                if abs(amount - q.value) <= tol:
                    return Support(Rule.UNIT_CONVERSION, f"{_show(s)} = {format_value(amount, q.decimals)} {q.unit}")
        return None

    def _rounding(self, q: Quantity) -> Support | None:
        coarse = _coarse_tolerance(q)
        for tol, why in ((_tolerance(q), "to the summary's precision"), (coarse, "after a hedge")):
            if tol is None:
                continue
            for s in self._stated(q.value, tol):
                if s.kind is Kind.FRACTION or s.kind is Kind.YEAR:
                    continue
                finer = s.decimals > q.decimals or why == "after a hedge"
                if finer and (q.unit is None or s.unit in (None, q.unit)):
                    return Support(Rule.ROUNDING, f"{_show(s)} rounded {why}")
        return None

    def _derivation(self, q: Quantity) -> Support | None:
        tols = [_tolerance(q)] + [t for t in (_coarse_tolerance(q),) if t is not None]
        for tol in tols:
            for d in self._derived_near(q.value, tol):
                if d.rule is Rule.SUM and q.decimals:
                    continue
                if d.rule is Rule.RATIO and not (q.decimals or q.fold):
                    continue  # a whole number as a ratio only when written as one ("3-fold", "2 times")
                if d.unit == q.unit or (
                    q.unit is None and q.decimals and d.rule is Rule.DIFFERENCE and not d.detail.startswith("100 - ")
                ):
                    return Support(d.rule, d.detail)  # "versus 0.2 with placebo": a bare difference
        return None


@lru_cache(maxsize=256)
def source_facts(source: str) -> SourceFacts:
    """Built once per source: the gate checks one source against the baseline and every variant."""
    return SourceFacts(source)
