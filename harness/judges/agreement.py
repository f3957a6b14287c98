"""Inter-judge agreement, as the study's tables: Fleiss' kappa across all judges, Cohen's kappa per pair.

The study's Table 1 LLM-LLM row is the mean Cohen's kappa over judge pairs, units pooled over the four
relative questions, per ratio window (reproduced on its released records: 0.508 / 0.370 / 0.676).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from itertools import combinations


def fleiss_kappa(ratings: Sequence[Sequence[Hashable]]) -> float:
    """``ratings[i]`` = the labels the raters gave item i (same number of raters per item)."""
    if not ratings:
        raise ValueError("no items")
    n = len(ratings[0])
    if n < 2 or any(len(r) != n for r in ratings):
        raise ValueError("every item needs the same number (>= 2) of ratings")
    categories = sorted({label for r in ratings for label in r}, key=str)
    counts = [Counter(r) for r in ratings]
    p_items = [(sum(c[k] ** 2 for k in categories) - n) / (n * (n - 1)) for c in counts]
    p_bar = sum(p_items) / len(ratings)
    p_cat = [sum(c[k] for c in counts) / (len(ratings) * n) for k in categories]
    p_e = sum(p**2 for p in p_cat)
    return 1.0 if p_e == 1 else (p_bar - p_e) / (1 - p_e)


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    from sklearn.metrics import cohen_kappa_score

    if len(set(a) | set(b)) == 1:
        return 1.0
    return float(cohen_kappa_score([str(x) for x in a], [str(x) for x in b]))


def pairwise_cohen(labels: Mapping[str, Sequence[Hashable]]) -> dict[str, float]:
    """Cohen's kappa for every pair of judges (``"judge1 vs judge2"``) on items all of them labelled."""
    return {f"{x} vs {y}": cohen_kappa(labels[x], labels[y]) for x, y in combinations(sorted(labels), 2)}


WINDOWS = (("low", 0.0, 0.25), ("moderate", 0.375, 0.5), ("extreme", 0.625, 1.0))  # the study's ratio windows
WEAK_BELOW = 0.4  # agreement under this makes judged checks weak evidence


def window(ratio: float | None) -> str:
    """The study's ratio windows: low <= 25%, moderate 37.5-50%, extreme >= 62.5%."""
    if ratio is None:
        return "unknown"
    for name, lo, hi in WINDOWS:
        if lo - 1e-9 <= ratio <= hi + 1e-9:
            return name
    return "between"  # a ratio the study never used, e.g. 0.3


def agreement_stats(units: Sequence[dict[str, Hashable]]) -> dict[str, object]:
    """``units[i]`` = judge -> label for one rated unit, pooled. Units some judge left unrated are left
    out and counted. Fleiss' kappa, Cohen's kappa per pair, and their mean (the study's LLM-LLM figure)."""
    judges = sorted({j for u in units for j in u}, key=str)
    complete = [u for u in units if all(j in u for j in judges)]
    out: dict[str, object] = {"units": len(complete), "incomplete_units": len(units) - len(complete), "judges": judges}
    if len(judges) < 2 or not complete:
        return out
    labels = {j: [u[j] for u in complete] for j in judges}
    pairs = pairwise_cohen(labels)
    return out | {
        "fleiss_kappa": fleiss_kappa([[u[j] for j in judges] for u in complete]),
        "cohen_kappa": pairs,
        "mean_cohen_kappa": sum(pairs.values()) / len(pairs),
    }
