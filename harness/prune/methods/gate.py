"""Gate: the mean routing weight expert i receives, sum_t 1[i in K_t] g_it / T, with g the weights the model
itself applies (after any renormalisation or scaling)."""

from __future__ import annotations

from harness.prune.methods.base import PerTokenMean
from harness.prune.stats import Statistic

GATE_SUM = Statistic("gate", lambda view: view.weights)


class Gate(PerTokenMean):
    name = "gate"
    aliases = ("gating",)
    default_rank = 2
    statistics = (GATE_SUM,)
