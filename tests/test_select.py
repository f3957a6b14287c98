"""Keep counts and kept sets: refused before any work when unsafe; stable and group-balanced."""

import pytest
import torch

from harness.models.adapters import RoutingInfo
from harness.prune.select import PruningConfigError, plan_keep, select_kept, top_experts


@pytest.mark.parametrize("ratio,kept", [(0.125, 14), (0.25, 12), (0.5, 8), (0.75, 4), (0.875, 2)])
def test_ratios_in_eighths(ratio, kept):
    assert plan_keep(ratio, RoutingInfo(num_experts=16, top_k=2)).kept == kept


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.5, 1.5])
def test_ratio_outside_open_interval(ratio):
    with pytest.raises(PruningConfigError, match="strictly between 0 and 1"):
        plan_keep(ratio, RoutingInfo(num_experts=16, top_k=2))


def test_non_integer_keep_count():
    with pytest.raises(PruningConfigError, match="not a whole number"):
        plan_keep(0.3, RoutingInfo(num_experts=16, top_k=2))


def test_fewer_experts_than_top_k():
    with pytest.raises(PruningConfigError, match="top_k=8"):
        plan_keep(0.875, RoutingInfo(num_experts=32, top_k=8))
    assert plan_keep(0.75, RoutingInfo(num_experts=32, top_k=8)).kept == 8


def test_grouped_routing_divisibility_and_per_group_minimum():
    r = RoutingInfo(num_experts=16, top_k=2, n_group=4, topk_group=2)
    with pytest.raises(PruningConfigError, match="n_group=4"):
        plan_keep(0.625, r)  # keeps 6
    with pytest.raises(PruningConfigError, match="per group"):
        plan_keep(0.75, r)  # keeps 4 -> 1 per group
    assert plan_keep(0.5, r).per_group == 2


def test_ties_break_towards_lower_index():
    scores = torch.tensor([1.0, 3.0, 3.0, 0.5, 3.0])
    assert top_experts(scores, 2) == [1, 2]
    assert top_experts(scores, 4) == [1, 2, 4, 0]


def test_group_selection_keeps_equal_counts_per_group():
    r = RoutingInfo(num_experts=8, top_k=2, n_group=2, topk_group=1)
    scores = torch.tensor([9.0, 8.0, 7.0, 6.0, 0.1, 0.2, 0.3, 0.4])  # all the best in group 0
    kept = select_kept(scores, plan_keep(0.5, r), r)
    assert kept == [0, 1, 6, 7]
