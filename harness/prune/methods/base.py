"""What a pruning method is: the calibration statistics it needs and how it turns them into a kept set.

Two kinds, as llm-compressor's modifiers share one shape:

* :class:`ScoringMethod` scores every expert of a layer from the calibration statistics; the sweep keeps
  the highest scores (per layer, or across layers with ``--allocation global``).
* :class:`SearchMethod` chooses the kept set itself, per layer, on the reconstruction token sample
  (``harness.prune.reconstruction``).

A method is one module in this package that defines a subclass with a ``name``; the registry
(``harness.prune.methods``) finds it. Capture collects the union of the requested methods' statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from harness.prune.stats import CalibrationStats, LayerStats, Statistic

if TYPE_CHECKING:
    from harness.models.adapters import RoutingInfo
    from harness.prune.reconstruction import LayerReconstruction
    from harness.prune.select import KeepPlan

#: shared by methods that normalise by how often an expert is routed
ROUTED_COUNT = Statistic("freq", lambda view: torch.ones_like(view.weights))


@dataclass(frozen=True)
class MethodOptions:
    """Settings a method's choice depends on besides the statistics (they enter its variant key)."""

    seed: int = 0
    all_expert_tokens_per_sample: int | None = 256
    reconstruction_tokens_per_sample: int = 4
    naee_max_subsets: int = 100_000


class PruningMethod:
    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    #: position in the default method set; None: opt-in only (``--method NAME``)
    default_rank: ClassVar[int | None] = None
    statistics: ClassVar[tuple[Statistic, ...]] = ()
    #: False for data-free methods: no calibration set is needed and none enters the variant key
    needs_data: ClassVar[bool] = True
    #: True when the method picks kept sets itself (no scores to spread with a global allocation)
    searches: ClassVar[bool] = False

    def key_fields(self, options: MethodOptions) -> list:
        """What besides (model, data, ratio, seed, allocation) changes this method's kept sets: part of the
        variant key, so changing it builds a new variant instead of reusing the old one."""
        if any(s.scope == "all_experts" for s in self.statistics):
            return [options.all_expert_tokens_per_sample]
        return []


class ScoringMethod(PruningMethod):
    def layer_scores(self, st: LayerStats) -> torch.Tensor:
        """One domain's scores of one layer's experts (original indexing); higher means more salient."""
        raise NotImplementedError

    def scores(self, stats: CalibrationStats | None, layer: int, num_experts: int, seed: int) -> torch.Tensor:
        """Mean over calibration domains: the per-domain scores are per-token expectations, so every domain
        weighs the same however many tokens it has (the study averages per-domain scores)."""
        if stats is None or not stats.layers:
            raise ValueError(f"method {self.name} needs calibration statistics")
        return torch.stack([self.layer_scores(stats.layers[d][layer]) for d in stats.domains]).mean(dim=0)


class PerTokenMean(ScoringMethod):
    """Scores as the per-token expectation of the method's one statistic: its sum over the domain's tokens
    divided by their count (frequency, gate, easy_ep)."""

    def layer_scores(self, st: LayerStats) -> torch.Tensor:
        [stat] = self.statistics
        return st.sums[stat.name] / max(st.tokens, 1)


@dataclass(frozen=True)
class LayerChoice:
    kept: list[int]
    scores: torch.Tensor  # per expert, for the manifest
    strategy: str  # how it was found (e.g. exact | greedy)
    evaluations: int


class SearchMethod(PruningMethod):
    searches = True

    def new_account(self, options: MethodOptions) -> dict[str, Any]:
        """The search account the sweep fills layer by layer (``PruningManifest.search``)."""
        return {"strategy": None, "evaluations": 0, "seconds": 0.0}

    def choose_layer(
        self, layers: list[LayerReconstruction], plan: KeepPlan, routing: RoutingInfo, options: MethodOptions
    ) -> LayerChoice:
        """The kept set of one layer, from its reconstruction samples (one per calibration domain)."""
        raise NotImplementedError
