"""REAP (router-weighted expert activation pruning): the mean over the tokens ROUTED to i of
g_it ||E_i(h_t)||. That is the REAP paper's mean, not the reference code's sum; an expert never routed
scores 0."""

from __future__ import annotations

import torch

from harness.prune.methods.base import ROUTED_COUNT, ScoringMethod
from harness.prune.stats import LayerStats, Statistic

WEIGHTED_NORM_SUM = Statistic("reap", lambda view: view.weights * view.norms)


class Reap(ScoringMethod):
    name = "reap"
    default_rank = 4
    statistics = (ROUTED_COUNT, WEIGHTED_NORM_SUM)

    def layer_scores(self, st: LayerStats) -> torch.Tensor:
        count = st.sums[ROUTED_COUNT.name]
        mean = st.sums[WEIGHTED_NORM_SUM.name] / count.clamp(min=1)
        return torch.where(count > 0, mean, torch.zeros_like(count))
