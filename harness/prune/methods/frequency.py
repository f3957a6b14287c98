"""Frequency: the share of calibration tokens routed to expert i, sum_t 1[i in K_t] / T."""

from __future__ import annotations

import torch

from harness.prune.methods.base import ROUTED_COUNT, ScoringMethod
from harness.prune.stats import LayerStats


class Frequency(ScoringMethod):
    name = "frequency"
    aliases = ("freq",)
    default_rank = 1
    statistics = (ROUTED_COUNT,)

    def layer_scores(self, st: LayerStats) -> torch.Tensor:
        return st.sums[ROUTED_COUNT.name] / max(st.tokens, 1)
