"""Frequency: the share of calibration tokens routed to expert i, sum_t 1[i in K_t] / T."""

from __future__ import annotations

from harness.prune.methods.base import ROUTED_COUNT, PerTokenMean


class Frequency(PerTokenMean):
    name = "frequency"
    aliases = ("freq",)
    default_rank = 1
    statistics = (ROUTED_COUNT,)
