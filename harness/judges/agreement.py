"""Inter-judge agreement, as the study's tables: Fleiss' kappa across all judges, Cohen's kappa per pair."""

from __future__ import annotations

from collections import Counter
from itertools import combinations
from typing import Hashable, Sequence


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
    p_e = sum(p ** 2 for p in p_cat)
    return 1.0 if p_e == 1 else (p_bar - p_e) / (1 - p_e)


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    from sklearn.metrics import cohen_kappa_score

    if len(set(a) | set(b)) == 1:
        return 1.0
    return float(cohen_kappa_score([str(x) for x in a], [str(x) for x in b]))


def pairwise_cohen(labels: dict[str, Sequence[Hashable]]) -> dict[str, float]:
    """Cohen's kappa for every pair of judges (``"judge1 vs judge2"``) on items all of them labelled."""
    return {f"{x} vs {y}": cohen_kappa(labels[x], labels[y]) for x, y in combinations(sorted(labels), 2)}
