"""Sufficient statistics of one calibration pass, from which every saliency metric is derived.

Per calibration domain and MoE layer, over the valid (non-padding) calibration tokens t and the
router's top-k set K_t with the weights g the model itself applies:

    tokens          number of tokens seen
    freq[i]         sum_t 1[i in K_t]
    gate[i]         sum_t 1[i in K_t] g_it
    reap[i]         sum_t 1[i in K_t] g_it ||E_i(h_t)||
    easy_ep[i]      sum_t 1[i in K_t] g_it ||E_i(h_t)|| (1 - cos(h_t, h_t + sum_j g_jt E_j(h_t)))
    ean[i]          sum over the EAN token sample of ||E_i(h_t)|| (every expert, routed or not)
    ean_tokens      size of the EAN token sample
    hidden_sample   the experts' inputs h_t on a small seeded token sample: what reconstruction losses
                    and NAEE evaluate kept sets on (``harness.prune.reconstruction``)

Stored as float64 so sums over many tokens lose nothing. Saved with safetensors so a sweep over
methods and ratios never touches the model again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

STAT_NAMES = ("freq", "gate", "reap", "easy_ep", "ean")


@dataclass
class LayerStats:
    num_experts: int
    tokens: int = 0
    ean_tokens: int = 0
    sums: dict[str, torch.Tensor] = field(default_factory=dict)
    hidden_sample: torch.Tensor | None = None  # [T, hidden] float32

    def __post_init__(self) -> None:
        for name in STAT_NAMES:
            self.sums.setdefault(name, torch.zeros(self.num_experts, dtype=torch.float64))

    def add(self, name: str, index: torch.Tensor, values: torch.Tensor) -> None:
        self.sums[name].index_add_(0, index.reshape(-1).cpu(), values.reshape(-1).to(torch.float64).cpu())

    def add_hidden(self, hidden: torch.Tensor) -> None:
        part = hidden.detach().float().cpu()
        self.hidden_sample = part if self.hidden_sample is None else torch.cat([self.hidden_sample, part])


@dataclass
class CalibrationStats:
    """domain -> layer -> LayerStats, plus the description of how they were collected."""

    layers: dict[str, dict[int, LayerStats]] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def layer(self, domain: str, layer: int, num_experts: int) -> LayerStats:
        per_domain = self.layers.setdefault(domain, {})
        if layer not in per_domain:
            per_domain[layer] = LayerStats(num_experts)
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
                counts[f"{domain}/{layer}"] = [st.num_experts, st.tokens, st.ean_tokens]
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        save_file(tensors, str(tmp), metadata={"counts": json.dumps(counts), "meta": json.dumps(self.meta)})
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "CalibrationStats":
        from safetensors import safe_open

        with safe_open(str(path), "pt") as fh:
            header = fh.metadata()
        tensors = load_file(str(path))
        stats = cls(meta=json.loads(header["meta"]))
        for key, (num_experts, tokens, ean_tokens) in json.loads(header["counts"]).items():
            domain, layer = key.rsplit("/", 1)
            st = stats.layer(domain, int(layer), num_experts)
            st.tokens, st.ean_tokens = tokens, ean_tokens
            for name in STAT_NAMES:
                st.sums[name] = tensors[f"{key}/{name}"]
            st.hidden_sample = tensors.get(f"{key}/hidden_sample")
        return stats

    def has_hidden_samples(self) -> bool:
        return all(st.hidden_sample is not None for per in self.layers.values() for st in per.values())
