"""Inverted effects, where that is cheap to see: a summary number the source states, next to a word of
one direction ("increased to 48%") while every mention of that number in the source that has a direction
word sits next to the opposite one ("decreased to 48%"). Mixed or missing direction words on either side: no finding
(precision first; a summary that rephrases the direction without such a word is not caught).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from harness.metrics.numbers import quantities, sentence_span

_UP = r"increas\w*|higher|greater|larger|longer|rose|risen|rising|elevat\w*|gain\w*|more\s+likely"
_DOWN = r"decreas\w*|lower|smaller|shorter|fell|fallen|falling|declin\w*|reduc\w*|drop\w*|less\s+likely"
_DIRECTION = re.compile(rf"(?i)\b(?:(?P<up>{_UP})|(?P<down>{_DOWN}))\b")
WINDOW = 60  # characters either side of the number, within its sentence
LITERAL_RULES = ("literal", "range_bound", "word")


def _directions(text: str, start: int, end: int) -> list[tuple[str, int, int]]:
    s, e = sentence_span(text, start)
    lo, hi = max(s, start - WINDOW), min(e, end + WINDOW)
    return [("up" if m.group("up") else "down", lo + m.start(), lo + m.end()) for m in _DIRECTION.finditer(text[lo:hi])]


def direction_findings(summary: str, source: str, checked: Sequence) -> list:
    """``checked``: the summary's number checks (``factcheck.NumberCheck``); returns ``factcheck.Finding``s."""
    from harness.metrics.factcheck import Finding

    by_value: dict[float, list[tuple[int, int]]] = {}
    for stated in quantities(source, source=True):
        by_value.setdefault(stated.value, []).append((stated.start, stated.end))
    summary_numbers = {(q.start, q.end): q for q in quantities(summary)}
    found = []
    for n in checked:
        q = summary_numbers.get((n.start, n.end))
        if q is None or n.rule not in LITERAL_RULES or q.value not in by_value:
            continue
        mine = _directions(summary, q.start, q.end)
        if len({d for d, _, _ in mine}) != 1:
            continue
        theirs = [t for s, e in by_value[q.value] if (t := {d for d, _, _ in _directions(source, s, e)})]
        direction = mine[0][0]
        if theirs and all(direction not in t for t in theirs):
            _, ws, we = mine[0]
            found.append(
                Finding(
                    "direction_inverted",
                    summary[ws:we],
                    ws,
                    we,
                    f"the source puts {n.span} with the opposite direction",
                )
            )
    return found
