"""EAN: expert activation norm, the mean ||E_i(h_t)|| over a seeded token sample with every expert
evaluated, routed or not. The one default method that needs all experts on every sampled token (the
``all_experts`` scope); the sample size is ``--ean-tokens`` per calibration sample. The reference code took
the first 256 tokens of each sample, i.e. mostly chat-template boilerplate; the sample here is random."""

from __future__ import annotations

import torch

from harness.prune.methods.base import ScoringMethod
from harness.prune.stats import LayerStats, Statistic

NORM_SUM = Statistic("ean", lambda view: view.norms, scope="all_experts")


class ExpertActivationNorm(ScoringMethod):
    name = "ean"
    default_rank = 3
    statistics = (NORM_SUM,)

    def layer_scores(self, st: LayerStats) -> torch.Tensor:
        return st.sums[NORM_SUM.name] / max(st.sampled_tokens, 1)
