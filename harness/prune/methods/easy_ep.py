"""EASY-EP: sum_t 1[i in K_t] g_it ||E_i(h_t)|| (1 - cos(h_t, h~_t)) / T, with h_t the experts' input and
h~_t = h_t + the routed experts' weighted output ("before and after routed experts", EASY-EP section 3).
Shared experts are outside h~ and never scored."""

from __future__ import annotations

from harness.prune.methods.base import PerTokenMean
from harness.prune.stats import Statistic

TURNED_NORM_SUM = Statistic("easy_ep", lambda view: view.weights * view.norms * view.contribution.unsqueeze(-1))


class EasyEP(PerTokenMean):
    name = "easy_ep"
    aliases = ("easy-ep", "easyep")
    default_rank = 5
    statistics = (TURNED_NORM_SUM,)
