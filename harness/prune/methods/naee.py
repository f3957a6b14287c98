"""NAEE (Lu et al., ACL 2024): per layer, keep the set S of the plan's size that minimises the layer's
reconstruction loss L(S) on the calibration token sample (``harness.prune.reconstruction``).

Exactly, by enumerating every S allowed by the routing groups when there are at most ``max_subsets``;
above that by greedy removal (drop, one at a time, the expert whose removal raises L least) refined by
swaps (exchange a kept and a dropped expert of one group while L falls). The paper prunes layer by
layer, each layer seeing the earlier layers already pruned; here every layer sees the unpruned model's
hidden states, so one calibration pass still serves every method, ratio and NAEE (a sequential pass
would cost one forward per layer, method and ratio). An expert's score in the manifest is how much the
layer's loss grows when it alone is removed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations, product
from math import comb, prod
from typing import Any, Literal

import torch

from harness.models.adapters import RoutingInfo
from harness.prune.methods.base import LayerChoice, MethodOptions, SearchMethod
from harness.prune.reconstruction import LayerReconstruction
from harness.prune.select import KeepPlan

Search = Literal["exact", "greedy"]
DEFAULT_MAX_SUBSETS = MethodOptions.naee_max_subsets
SWAP_ROUNDS = 8


class NAEE(SearchMethod):
    name = "naee"

    def new_account(self, options: MethodOptions) -> dict[str, Any]:
        return {**super().new_account(options), "max_subsets": options.naee_max_subsets}

    def key_fields(self, options: MethodOptions) -> list:
        return [options.reconstruction_tokens_per_sample, options.naee_max_subsets]

    def choose_layer(
        self, layers: list[LayerReconstruction], plan: KeepPlan, routing: RoutingInfo, options: MethodOptions
    ) -> LayerChoice:
        choice = naee_select(layers, plan, routing, options.naee_max_subsets)
        everything = range(routing.num_experts)
        without = [tuple(e for e in everything if e != i) for i in everything]
        per_domain = [r.losses(without) for r in layers]
        scores = torch.tensor([sum(v) / len(layers) for v in zip(*per_domain)], dtype=torch.float64)
        return LayerChoice(choice.kept, scores, choice.strategy, choice.evaluations)


@dataclass(frozen=True)
class NaeeChoice:
    kept: list[int]
    loss: float
    strategy: Search
    evaluations: int


def _groups(routing: RoutingInfo) -> list[list[int]]:
    size = routing.num_experts // routing.n_group
    return [list(range(g * size, (g + 1) * size)) for g in range(routing.n_group)]


def subset_count(plan: KeepPlan, routing: RoutingInfo) -> int:
    return prod(comb(len(g), plan.per_group) for g in _groups(routing))


def naee_select(
    layers: list[LayerReconstruction], plan: KeepPlan, routing: RoutingInfo, max_subsets: int = DEFAULT_MAX_SUBSETS
) -> NaeeChoice:
    """The kept set of ``plan.kept`` experts (``plan.per_group`` per routing group) with the lowest mean
    loss over ``layers`` (one per calibration domain: domains weigh equally). Ties: the lexicographically
    smallest set."""

    def losses(sets: list[tuple[int, ...]]) -> list[float]:
        per_domain = [r.losses(sets) for r in layers]
        return [sum(v) / len(layers) for v in zip(*per_domain)]

    start = sum(r.evaluations for r in layers)
    groups = _groups(routing)
    if subset_count(plan, routing) <= max_subsets:
        sets = [
            tuple(sorted(i for part in parts for i in part))
            for parts in product(*(combinations(g, plan.per_group) for g in groups))
        ]
        values = losses(sets)
        best = min(range(len(sets)), key=lambda n: (values[n], sets[n]))
        return NaeeChoice(list(sets[best]), values[best], "exact", sum(r.evaluations for r in layers) - start)
    kept, value = _greedy(losses, groups, plan.per_group)
    return NaeeChoice(kept, value, "greedy", sum(r.evaluations for r in layers) - start)


def _greedy(
    losses: Callable[[list[tuple[int, ...]]], list[float]], groups: list[list[int]], per_group: int
) -> tuple[list[int], float]:
    """Greedy removal by loss, then best-swap refinement (at most SWAP_ROUNDS swaps)."""
    group_of = {i: g for g, members in enumerate(groups) for i in members}
    kept = sorted(group_of)
    counts = [len(g) for g in groups]
    while any(c > per_group for c in counts):
        drops = [i for i in kept if counts[group_of[i]] > per_group]
        values = losses([tuple(k for k in kept if k != i) for i in drops])
        _, drop = min(zip(values, drops))
        kept.remove(drop)
        counts[group_of[drop]] -= 1
    current = losses([tuple(kept)])[0]
    for _ in range(SWAP_ROUNDS):
        swaps = [(i, j) for i in kept for j in group_of if j not in kept and group_of[i] == group_of[j]]
        if not swaps:
            break
        sets = [tuple(sorted([k for k in kept if k != i] + [j])) for i, j in swaps]
        values = losses(sets)
        best = min(range(len(sets)), key=lambda n: (values[n], sets[n]))
        if values[best] >= current - 1e-12:
            break
        kept, current = list(sets[best]), values[best]
    return kept, current
