"""Numbers as a fact check reads them: digits, number words, fractions, units, years and citations.

Each ``Quantity`` keeps its value, the precision it was written with (decimals), its unit in one
canonical spelling (``mcg`` and ``µg`` are one unit; ``hours`` and ``h`` too), its dimension for unit
conversion, and the sentence it stands in, so derivation rules (``harness.metrics.support``) can stay
within one sentence. Not numbers: identifiers (digits after a capital or before a letter: ``CD950014``,
``HbA1c``), list and heading markers at the start of a line (``1.``, ``### 2.``), the tail of ``1.2.3``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache


class Kind(str, Enum):
    NUMBER = "number"  # digits
    WORD = "word"  # "twelve", "one hundred seventy-nine"
    FRACTION = "fraction"  # "a third", "two-thirds", "half" (value as a share: 1/3)
    YEAR = "year"  # 1900-2099 written as four digits: checked literally, never derived
    CITATION = "citation"  # [3], \cite{3}, @cite_3: a reference id, checked against the source's markers


# canonical unit -> (dimension, factor to the dimension's base unit); None: no conversion
_UNITS: dict[str, tuple[str | None, float]] = {
    "ng": ("mass", 1e-9),
    "µg": ("mass", 1e-6),
    "mg": ("mass", 1e-3),
    "g": ("mass", 1.0),
    "kg": ("mass", 1e3),
    "µl": ("volume", 1e-6),
    "ml": ("volume", 1e-3),
    "dl": ("volume", 1e-1),
    "l": ("volume", 1.0),
    "sec": ("time", 1.0),
    "min": ("time", 60.0),
    "h": ("time", 3600.0),
    "day": ("time", 86400.0),
    "week": ("time", 604800.0),
    "month": ("month", 1.0),
    "year": ("month", 12.0),
    "mm": ("length", 1e-3),
    "cm": ("length", 1e-2),
    "%": (None, 1.0),
    "iu": (None, 1.0),
    "units": (None, 1.0),
    "mmhg": (None, 1.0),
    "bpm": (None, 1.0),
    "mg/ml": (None, 1.0),
    "ng/ml": (None, 1.0),
    "µg/ml": (None, 1.0),
    "mg/dl": (None, 1.0),
    "g/dl": (None, 1.0),
    "mg/l": (None, 1.0),
    "g/l": (None, 1.0),
    "mmol/l": (None, 1.0),
    "mmol/mol": (None, 1.0),
    "mg/kg": (None, 1.0),
    "iu/l": (None, 1.0),
    "kcal": (None, 1.0),
}
_SPELLINGS: dict[str, str] = {
    "mcg": "µg",
    "ug": "µg",
    "μg": "µg",
    "micrograms": "µg",
    "milligrams": "mg",
    "grams": "g",
    "kilograms": "kg",
    "ul": "µl",
    "μl": "µl",
    "millilitres": "ml",
    "milliliters": "ml",
    "liters": "l",
    "litres": "l",
    "mcg/ml": "µg/ml",
    "ug/ml": "µg/ml",
    "μg/ml": "µg/ml",
    "seconds": "sec",
    "second": "sec",
    "secs": "sec",
    "minutes": "min",
    "minute": "min",
    "mins": "min",
    "hours": "h",
    "hour": "h",
    "hrs": "h",
    "hr": "h",
    "days": "day",
    "weeks": "week",
    "wk": "week",
    "wks": "week",
    "months": "month",
    "years": "year",
    "yrs": "year",
    "yr": "year",
    "percent": "%",
    "per cent": "%",
    "percentage points": "%",
    "percentage point": "%",
    "iu": "iu",
}
_UNIT_WORDS = sorted({*_UNITS, *_SPELLINGS} - {"%"}, key=len, reverse=True)
_UNIT_RE = "%|" + "|".join(re.escape(u) for u in _UNIT_WORDS)

_DIGITS = r"\d+(?:,\d{3})*(?:\.\d+)?"
_VULGAR = {"½": 0.5, "¼": 0.25, "¾": 0.75, "⅓": 1 / 3, "⅔": 2 / 3}
_SCALE_WORDS = {
    "thousand": 1e3,
    "million": 1e6,
    "billion": 1e9,
    "trillion": 1e12,
    "bn": 1e9,
    "k": 1e3,
    "m": 1e6,
    "b": 1e9,
}
# "1.8 million", "7B", "10M", "$1.8m" (a glued lower-case m only after a currency sign), "8½"

# a number: not after a letter or digit, except after a lower-case letter when a number ("The519 patients")
# follows that is not itself glued to a letter; a leading-dot decimal (".03"); never the tail of "1.2.3"
_NUMBER = re.compile(
    rf"(?:(?<!\w)|(?<=[a-z])(?={_DIGITS}(?![^\W\d_])))(?<!\d\.)({_DIGITS}[½¼¾⅓⅔]?|\.\d+)"
    rf"(?P<scale>\s?(?:thousand|million|billion|trillion)\b|(?:bn|[KMB])\b|(?<=[$£€]\d)m\b|(?<=[$£€]\d\.\d)m\b)?"
    rf"(?:\s?(?P<unit>(?i:{_UNIT_RE}))(?![\w/]))?"
)
_CITATION = re.compile(r"@cite_(\d+)|\\cite\{(\d+)\}|\[(\d+(?:\s*[,–-]\s*\d+)*)\]")
_LIST_MARKER = re.compile(r"(?m)^[ \t>*-]*(\d+)[.)](?=\s)|^[ \t]*#+[ \t]*(\d+)\b")
_FOLD = re.compile(r"(?i)^(?:-|\s)?(?:fold|times)\b")
_HEDGE = re.compile(
    r"(?i)(?:about|approximately|approx\.?|around|nearly|almost|roughly|some|over|more than|"
    r"less than|under|~|≈|>|<)\s*$"
)
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[A-Z(\[])|\n\s*\n|\n(?=\s*[-*#\d])")

_ONES = {
    w: i
    for i, w in enumerate(
        (
            "zero one two three four five six seven eight nine ten eleven twelve thirteen "
            "fourteen fifteen sixteen seventeen eighteen nineteen"
        ).split()
    )
}
_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if i > 1}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_FRACTIONS = {
    "half": 2,
    "halves": 2,
    "third": 3,
    "thirds": 3,
    "quarter": 4,
    "quarters": 4,
    "fourth": 4,
    "fourths": 4,
    "fifth": 5,
    "fifths": 5,
    "tenth": 10,
    "tenths": 10,
}
_NUMBER_WORD = "|".join(sorted([*_ONES, *_TENS, *_SCALES], key=len, reverse=True))
_WORDS = re.compile(rf"(?i)\b(?:{_NUMBER_WORD})(?:(?:[\s-]+|\s+and\s+)(?:{_NUMBER_WORD}))*\b")
_FRACTION = re.compile(
    rf"(?i)\b(?:(a|one|{'|'.join(w for w in _ONES if _ONES[w] > 1)})[\s-]+)?"
    rf"({'|'.join(_FRACTIONS)})\b"
)


@dataclass(frozen=True)
class Quantity:
    value: float
    decimals: int  # digits after the point as written ("1.50" -> 2); the precision rules round to
    unit: str | None  # canonical unit, or None
    kind: Kind
    start: int
    end: int
    text: str
    sentence: int  # index of the sentence it stands in
    hedged: bool = False  # "about 180": coarse rounding is allowed
    range_unit: bool = False  # the unit was taken from the upper bound of a range ("14 to 50%")
    fold: bool = False  # written as a ratio: "3-fold", "2 times"
    scale: float = 1.0  # "1.8 million": value 1.8e6, precision in millions

    @property
    def dimension(self) -> str | None:
        return _UNITS[self.unit][0] if self.unit else None

    @property
    def is_count(self) -> bool:
        """A whole number with no unit (or a count unit): what sums and ratios are built from."""
        return (
            self.kind in (Kind.NUMBER, Kind.WORD)
            and self.decimals == 0
            and self.unit in (None, "units")
            and self.scale == 1
        )

    def in_base_unit(self) -> float | None:
        return self.value * _UNITS[self.unit][1] if self.unit and _UNITS[self.unit][0] else None


def canonical_unit(text: str | None) -> str | None:
    if not text:
        return None
    unit = re.sub(r"\s+", " ", text.lower())
    return _SPELLINGS.get(unit, unit)


def unit_factor(unit: str) -> float:
    return _UNITS[unit][1]


def unit_dimension(unit: str | None) -> str | None:
    return _UNITS[unit][0] if unit else None


def _word_value(text: str) -> int:
    total, current = 0, 0
    for token in re.split(r"[\s-]+", text.lower()):
        if token == "and":
            continue
        if token in _ONES:
            current += _ONES[token]
        elif token in _TENS:
            current += _TENS[token]
        elif token == "hundred":
            current = (current or 1) * 100
        elif token in _SCALES:
            total, current = total + (current or 1) * _SCALES[token], 0
    return total + current


def _sentence_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in _SENTENCE_END.finditer(text)]


def _sentence_of(starts: list[int], pos: int) -> int:
    lo, hi = 0, len(starts)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if starts[mid] <= pos:
            lo = mid
        else:
            hi = mid
    return lo


def _hedged(text: str, start: int) -> bool:
    return bool(_HEDGE.search(text[max(0, start - 20) : start]))


def _unit_after(text: str, end: int) -> tuple[str | None, int]:
    """The unit written right after a number word, and where it ends."""
    m = re.match(rf"\s?((?i:{_UNIT_RE}))(?![\w/])", text[end : end + 24])
    return (canonical_unit(m.group(1)), end + m.end()) if m else (None, end)


def _is_year(written: str, unit: str | None) -> bool:
    return unit is None and len(written) == 4 and written.isdigit() and 1900 <= int(written) <= 2099


@lru_cache(maxsize=512)
def quantities(text: str, source: bool = False) -> tuple[Quantity, ...]:
    """Every quantity in ``text`` in order. A ``source`` also yields fractions in words ("a third") and
    the small number words "one" .. "nine" without a unit: a source's "one of the 12" is a count, while a
    summary's "two trials" or "half of" is prose, so a summary's number words count from ten, or with a unit."""
    starts = _sentence_starts(text)
    taken: list[tuple[int, int]] = []
    found: list[Quantity] = []

    def add(q: Quantity) -> None:
        found.append(q)
        taken.append((q.start, q.end))

    markers = {m.start(1) if m.group(1) else m.start(2) for m in _LIST_MARKER.finditer(text)}
    for m in _CITATION.finditer(text):
        for ref in re.findall(r"\d+", next(g for g in m.groups() if g is not None)):
            add(
                Quantity(
                    float(ref), 0, None, Kind.CITATION, m.start(), m.end(), m.group(0), _sentence_of(starts, m.start())
                )
            )
    for m in _NUMBER.finditer(text):
        if m.start(1) in markers or any(s <= m.start() < e for s, e in taken):
            continue
        raw = m.group(1).replace(",", "")
        value = float(raw[:-1]) + _VULGAR[raw[-1]] if raw[-1] in _VULGAR else float(raw)
        unit = canonical_unit(m.group("unit"))
        decimals = len(raw.split(".", 1)[1]) if "." in raw else 1 if raw[-1] in _VULGAR else 0
        scale = _SCALE_WORDS[m.group("scale").strip().lower()] if m.group("scale") else 1.0
        kind = Kind.YEAR if _is_year(m.group(1), unit) and scale == 1 else Kind.NUMBER
        add(
            Quantity(
                value * scale,
                decimals,
                unit,
                kind,
                m.start(),
                m.end(),
                m.group(0),
                _sentence_of(starts, m.start()),
                _hedged(text, m.start()),
                fold=bool(_FOLD.match(text[m.end() : m.end() + 8])),
                scale=scale,
            )
        )
    if source:
        for m in _FRACTION.finditer(text):
            count = m.group(1)
            numerator = 1 if count is None or count.lower() in ("a", "one") else _ONES[count.lower()]
            add(
                Quantity(
                    numerator / _FRACTIONS[m.group(2).lower()],
                    3,
                    None,
                    Kind.FRACTION,
                    m.start(),
                    m.end(),
                    m.group(0),
                    _sentence_of(starts, m.start()),
                )
            )
    for m in _WORDS.finditer(text):
        if any(s <= m.start() < e for s, e in taken):
            continue
        if m.group(0).lower().split()[0].split("-")[0] in _SCALES:
            continue  # "thousands of years", "hundred thousand": vague, not a count
        value = _word_value(m.group(0))
        unit, end = _unit_after(text, m.end())
        if not source and value < 10 and unit is None:
            continue
        add(
            Quantity(
                float(value),
                0,
                unit,
                Kind.WORD,
                m.start(),
                end,
                text[m.start() : end],
                _sentence_of(starts, m.start()),
                _hedged(text, m.start()),
            )
        )
    found.sort(key=lambda q: q.start)
    return tuple(_propagate_range_units(found, text))


_RANGE_GAP = re.compile(r"(?i)^\s*(?:-|–|—|to|and|or|vs\.?|versus)\s*$")
_SPREAD_GAP = re.compile(r"^\s*(?:\+/-|±|\+-)\s*$")  # "4.1 +/- 5.1 hours": one unit, no range


def _propagate_range_units(found: list[Quantity], text: str) -> list[Quantity]:
    """ "14 to 50%", "20-34 weeks", "43 vs. 34%": the first of a range or pair takes the second's unit."""
    out = list(found)
    for i in range(len(out) - 2, -1, -1):
        low, high = out[i], out[i + 1]
        if low.unit is None and high.unit is not None and low.kind in (Kind.NUMBER, Kind.WORD):
            gap = text[low.end : high.start]
            if _RANGE_GAP.match(gap):
                out[i] = dataclasses.replace(low, unit=high.unit, range_unit=True)
            elif _SPREAD_GAP.match(gap):
                out[i] = dataclasses.replace(low, unit=high.unit)
    return out


def format_value(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}" if decimals else f"{value:.0f}" if value == int(value) else f"{value:g}"


def sentence_span(text: str, pos: int) -> tuple[int, int]:
    """Start and end of the sentence around ``pos``."""
    starts = _sentence_starts(text)
    i = _sentence_of(starts, pos)
    return starts[i], starts[i + 1] if i + 1 < len(starts) else len(text)
