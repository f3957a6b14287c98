"""Paired statistics for a variant against the baseline on the same items.

Binary checks: exact McNemar test (one-sided binomial on the discordant pairs: does the variant
lose more items than it wins?). Continuous checks: paired bootstrap CI of the mean difference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest


@dataclass(frozen=True)
class PairedResult:
    baseline: float
    variant: float
    delta: float  # variant - baseline, in the check's own units
    ci: tuple[float, float]  # 95% paired bootstrap CI of delta
    p_value: float  # one-sided: evidence that the variant is worse
    n: int


def bootstrap_ci(deltas: np.ndarray, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    if len(deltas) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = deltas[rng.integers(0, len(deltas), size=(n_boot, len(deltas)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def mcnemar_worse(baseline: np.ndarray, variant: np.ndarray) -> float:
    """P(at least this many baseline-right/variant-wrong pairs | no difference), exact."""
    lost = int(((baseline == 1) & (variant == 0)).sum())
    won = int(((baseline == 0) & (variant == 1)).sum())
    return 1.0 if lost + won == 0 else float(binomtest(lost, lost + won, 0.5, alternative="greater").pvalue)


def bootstrap_worse(deltas: np.ndarray, n_boot: int = 2000, seed: int = 0) -> float:
    """Share of bootstrap means at or above zero: a one-sided p-value for "worse" (deltas oriented so
    that negative is worse)."""
    if len(deltas) == 0 or not deltas.any():
        return 1.0
    rng = np.random.default_rng(seed)
    means = deltas[rng.integers(0, len(deltas), size=(n_boot, len(deltas)))].mean(axis=1)
    return float((means >= 0).mean())


def paired(baseline: list[float], variant: list[float], binary: bool, higher_is_better: bool) -> PairedResult:
    if len(baseline) != len(variant):
        raise ValueError(f"paired statistics need the same items: baseline has {len(baseline)}, variant {len(variant)}")
    b, v = np.asarray(baseline, dtype=float), np.asarray(variant, dtype=float)
    deltas = v - b
    oriented = deltas if higher_is_better else -deltas
    p = (
        mcnemar_worse(b if higher_is_better else v, v if higher_is_better else b)
        if binary
        else bootstrap_worse(oriented)
    )
    return PairedResult(
        float(b.mean()) if len(b) else float("nan"),
        float(v.mean()) if len(v) else float("nan"),
        float(deltas.mean()) if len(deltas) else float("nan"),
        bootstrap_ci(deltas),
        p,
        len(b),
    )
