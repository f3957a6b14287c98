"""Gate: the mean routing weight expert i receives, sum_t 1[i in K_t] g_it / T, with g the weights the model
itself applies (after any renormalisation or scaling)."""

from __future__ import annotations

import torch

from harness.prune.methods.base import ScoringMethod
from harness.prune.stats import LayerStats, Statistic

GATE_SUM = Statistic("gate", lambda view: view.weights)


class Gate(ScoringMethod):
    name = "gate"
    aliases = ("gating",)
    default_rank = 2
    statistics = (GATE_SUM,)

    def layer_scores(self, st: LayerStats) -> torch.Tensor:
        return st.sums[GATE_SUM.name] / max(st.tokens, 1)
