"""Sufficient statistics of one calibration pass, from which the pruning methods score experts.

A method declares the per-expert sums it needs as :class:`Statistic` objects
(``harness.prune.methods``); the collector (``harness.prune.capture``) accumulates exactly those, per
calibration domain and MoE layer, over the valid (non-padding) tokens. Two scopes:

    routed        one value per (token, routed slot): the router's top-k set K_t, the weights g the model
                  applies and each routed expert's unweighted output E_i(h_t)       -> counted in ``tokens``
    all_experts   one value per (token, expert) on a seeded token sample, every expert evaluated, routed
                  or not (the costly scope: only collected when a requested method needs it)
                                                                                     -> ``sampled_tokens``

Besides the sums, every pass keeps the experts' inputs h_t on a small seeded token sample
(``hidden_sample``): what reconstruction losses and NAEE evaluate kept sets on.

Stored as float64 so sums over many tokens lose nothing. Saved with safetensors so a sweep over
methods and ratios never touches the model again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import torch
from safetensors.torch import load_file, save_file

from harness.atomic import atomic_path

Scope = Literal["routed", "all_experts"]


class RoutedTokens:
    """One MoE block call restricted to its valid tokens: routed ids and weights [T, k], the experts' input
    [T, H] and each routed slot's unweighted output [T, k, H] (computed by the family's own experts code)."""

    def __init__(self, index: torch.Tensor, weights: torch.Tensor, hidden: torch.Tensor, outputs: torch.Tensor):
        self.index, self.weights, self.hidden, self.outputs = index, weights.float(), hidden, outputs

    @cached_property
    def norms(self) -> torch.Tensor:
        """||E_i(h_t)|| per (token, slot)."""
        return self.outputs.float().norm(dim=-1)

    @cached_property
    def contribution(self) -> torch.Tensor:
        """1 - cos(h_t, h_t + sum_k g_tk E_k(h_t)) per token [T]: how far the routed experts turn the input."""
        h = self.hidden.float()
        routed = (self.outputs.float() * self.weights.unsqueeze(-1)).sum(dim=1)
        return 1.0 - torch.nn.functional.cosine_similarity(h, h + routed, dim=-1, eps=1e-8)


class AllExpertTokens:
    """Every expert evaluated on the sampled tokens: ``index`` [T, E] (expert ids), ``norms`` [T, E]."""

    def __init__(self, norms: torch.Tensor):
        self.norms = norms.float()
        self.index = torch.arange(norms.shape[1], device=norms.device).expand(norms.shape[0], -1)


@dataclass(frozen=True)
class Statistic:
    """A per-expert sum: ``value`` gives one number per entry of the view's ``index``."""

    name: str
    value: Callable[..., torch.Tensor]  # (RoutedTokens | AllExpertTokens) -> tensor shaped like view.index
    scope: Scope = "routed"


@dataclass
class LayerStats:
    num_experts: int
    tokens: int = 0
    sampled_tokens: int = 0  # tokens of the all-experts sample
    sums: dict[str, torch.Tensor] = field(default_factory=dict)
    hidden_sample: torch.Tensor | None = None  # [T, hidden] float32

    def add(self, name: str, index: torch.Tensor, values: torch.Tensor) -> None:
        if name not in self.sums:
            self.sums[name] = torch.zeros(self.num_experts, dtype=torch.float64)
        self.sums[name].index_add_(0, index.reshape(-1).cpu(), values.reshape(-1).to(torch.float64).cpu())

    def add_hidden(self, hidden: torch.Tensor) -> None:
        part = hidden.detach().float().cpu()
        self.hidden_sample = part if self.hidden_sample is None else torch.cat([self.hidden_sample, part])


@dataclass
class CalibrationStats:
    """domain -> layer -> LayerStats, the names of the statistics collected, and how they were collected."""

    layers: dict[str, dict[int, LayerStats]] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    names: tuple[str, ...] = ()

    def layer(self, domain: str, layer: int, num_experts: int) -> LayerStats:
        per_domain = self.layers.setdefault(domain, {})
        if layer not in per_domain:
            per_domain[layer] = LayerStats(
                num_experts, sums={name: torch.zeros(num_experts, dtype=torch.float64) for name in self.names}
            )
        return per_domain[layer]

    @property
    def domains(self) -> list[str]:
        return sorted(self.layers)

    def layer_ids(self) -> list[int]:
        ids = {layer for per in self.layers.values() for layer in per}
        return sorted(ids)

    def save(self, path: Path) -> None:
        tensors, counts = {}, {}
        for domain, per in self.layers.items():
            for layer, st in per.items():
                for name, t in st.sums.items():
                    tensors[f"{domain}/{layer}/{name}"] = t.contiguous()
                if st.hidden_sample is not None:
                    tensors[f"{domain}/{layer}/hidden_sample"] = st.hidden_sample.contiguous()
                counts[f"{domain}/{layer}"] = [st.num_experts, st.tokens, st.sampled_tokens]
        metadata = {"counts": json.dumps(counts), "meta": json.dumps(self.meta), "names": json.dumps(self.names)}
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata=metadata)

    @classmethod
    def load(cls, path: Path) -> CalibrationStats:
        from safetensors import safe_open

        with safe_open(str(path), "pt") as fh:
            header = fh.metadata()
        tensors = load_file(str(path))
        names = tuple(json.loads(header["names"])) if "names" in header else _names_in(tensors)
        stats = cls(meta=json.loads(header["meta"]), names=names)
        for key, (num_experts, tokens, sampled) in json.loads(header["counts"]).items():
            domain, layer = key.rsplit("/", 1)
            st = stats.layer(domain, int(layer), num_experts)
            st.tokens, st.sampled_tokens = tokens, sampled
            for name in names:
                st.sums[name] = tensors[f"{key}/{name}"]
            st.hidden_sample = tensors.get(f"{key}/hidden_sample")
        return stats

    def has_hidden_samples(self) -> bool:
        return all(st.hidden_sample is not None for per in self.layers.values() for st in per.values())


def _names_in(tensors: dict[str, torch.Tensor]) -> tuple[str, ...]:
    """Statistic names of a file written before the names were recorded: every non-sample tensor suffix."""
    return tuple(sorted({key.rsplit("/", 1)[1] for key in tensors} - {"hidden_sample"}))
