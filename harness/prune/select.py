"""Turn a pruning ratio into a keep count and a per-layer kept set, refusing unsafe requests early."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harness.models.adapters import RoutingInfo


class PruningConfigError(ValueError):
    """The requested pruning cannot produce a loadable, equivalent model."""


@dataclass(frozen=True)
class KeepPlan:
    ratio: float
    kept: int  # experts kept per layer
    per_group: int  # kept per routing group (== kept when routing is not grouped)


def plan_keep(ratio: float, routing: RoutingInfo) -> KeepPlan:
    """Validate ``ratio`` against the model's routing and return how many experts stay.

    M = (1 - p) N must be an integer, at least top_k, and, for group-limited routing, divisible
    by the group count with at least two experts per group (the router scores a group by its
    top-2 experts) and enough experts in the allowed groups to fill top_k.
    """
    n = routing.num_experts
    if not 0.0 < ratio < 1.0:
        raise PruningConfigError(f"ratio must be strictly between 0 and 1, got {ratio}")
    exact = (1.0 - ratio) * n
    kept = round(exact)
    if abs(exact - kept) > 1e-6:
        raise PruningConfigError(
            f"ratio {ratio} keeps {exact:g} of {n} experts, not a whole number; "
            f"use a multiple of 1/{n} (12.5% steps work for any multiple of 8 experts)"
        )
    if kept < routing.top_k:
        raise PruningConfigError(
            f"ratio {ratio} keeps {kept} experts per layer but the router picks top_k={routing.top_k}; "
            f"the smallest allowed keep count is {routing.top_k}"
        )
    g = routing.n_group
    if kept % g:
        raise PruningConfigError(
            f"ratio {ratio} keeps {kept} experts, not divisible by the router's n_group={g}; "
            "group-limited routing needs the same number of experts in every group"
        )
    per_group = kept // g
    if g > 1 and per_group < 2:
        raise PruningConfigError(f"ratio {ratio} leaves {per_group} expert per group; the router needs >= 2")
    if routing.topk_group * per_group < routing.top_k:
        raise PruningConfigError(
            f"ratio {ratio}: {routing.topk_group} allowed groups x {per_group} experts < top_k={routing.top_k}"
        )
    return KeepPlan(ratio=ratio, kept=kept, per_group=per_group)


def top_experts(scores: torch.Tensor, count: int) -> list[int]:
    """The ``count`` highest scores; ties go to the lower expert index (stable, reproducible)."""
    order = torch.sort(-scores.to(torch.float64), stable=True).indices
    return order[:count].tolist()


def select_kept(scores: torch.Tensor, plan: KeepPlan, routing: RoutingInfo) -> list[int]:
    """Kept expert ids (ascending) for one layer; equally many from each routing group."""
    group_size = routing.num_experts // routing.n_group
    kept: list[int] = []
    for g in range(routing.n_group):
        offset = g * group_size
        kept += [offset + i for i in top_experts(scores[offset : offset + group_size], plan.per_group)]
    return sorted(kept)


ALLOCATIONS = ("uniform", "global")


def _unit_minimum(routing: RoutingInfo) -> int:
    """Fewest live experts a routing group (the whole layer when ungrouped) may keep."""
    if routing.n_group == 1:
        return routing.top_k
    return max(2, -(-routing.top_k // routing.topk_group))


def allocate_global(scores: dict[int, torch.Tensor], plan: KeepPlan, routing: RoutingInfo) -> dict[int, list[int]]:
    """Non-uniform keep counts: the uniform plan's total (``plan.kept`` x layers) spread over layers.

    Scores are not comparable across layers, so each expert is ranked by its share of its layer's
    total saliency. Every layer (every routing group) first keeps its ``top_k`` (group: two, or
    enough to fill top_k from the allowed groups) best experts so routing stays valid; the rest of
    the budget goes to the highest shares anywhere, ties to the lower (layer, expert).
    """
    group_size = routing.num_experts // routing.n_group
    minimum = _unit_minimum(routing)
    live: dict[int, list[int]] = {}
    candidates: list[tuple[float, int, int]] = []
    for layer, s in scores.items():
        s = s.to(torch.float64)
        if bool((s < 0).any()):
            raise PruningConfigError(f"layer {layer}: negative saliency scores cannot be allocated globally")
        share = s / s.sum() if float(s.sum()) > 0 else torch.full_like(s, 1.0 / len(s))
        live[layer] = []
        for g in range(routing.n_group):
            offset = g * group_size
            ranked = [offset + i for i in top_experts(share[offset : offset + group_size], group_size)]
            live[layer] += ranked[:minimum]
            candidates += [(-float(share[e]), layer, e) for e in ranked[minimum:]]
    budget = plan.kept * len(scores) - sum(len(v) for v in live.values())
    if budget < 0:
        raise PruningConfigError(
            f"ratio {plan.ratio} leaves {plan.kept * len(scores)} experts in all, fewer than the "
            f"{minimum} per routing group every layer needs"
        )
    for _, layer, expert in sorted(candidates)[:budget]:
        live[layer].append(expert)
    return {layer: sorted(ids) for layer, ids in live.items()}


def slot_layout(live: dict[int, list[int]], routing: RoutingInfo) -> dict[int, list[int | None]]:
    """Checkpoint slots per layer: live expert ids, padded with dead slots (``None``) so every layer
    (and every routing group) has as many slots as the fullest one; one expert count fits the config."""
    group_size = routing.num_experts // routing.n_group
    groups = {
        layer: [[e for e in ids if e // group_size == g] for g in range(routing.n_group)] for layer, ids in live.items()
    }
    width = max(len(members) for per in groups.values() for members in per)
    return {
        layer: [slot for members in per for slot in sorted(members) + [None] * (width - len(members))]
        for layer, per in groups.items()
    }
