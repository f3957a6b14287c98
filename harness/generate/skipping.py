"""Dynamic expert skipping at generation time (NAEE, Lu et al. 2024, section 4.2): a routed expert whose
weight is below ``beta`` times the token's top-1 weight is not used, and the remaining weights are
renormalised as the family does (families that renormalise top-k weights keep their total weight;
the others, e.g. Qwen3 with norm_topk_prob=False and OLMoE, keep the remaining weights as they are).

It is not a checkpoint change: the experts module of each MoE block is wrapped while a backend
generates (transformers only). beta = 0 skips nothing and changes no output. The share of routed
(token, slot) expert calls skipped is counted and accumulated per (checkpoint, beta) in a JSON file.
Transformers' eager expert code still runs a skipped slot with weight 0, so the compute saving is not
realised here; the gate measures what skipping does to quality.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from pathlib import Path
from types import MethodType
from typing import Any

import torch

from harness.atomic import atomic_write_text
from harness.models.adapters import MoEAdapter


def check_beta(beta: float) -> None:
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"skip beta must be in [0, 1), got {beta}")


class ExpertSkipping(AbstractContextManager):
    def __init__(self, model: torch.nn.Module, adapter: MoEAdapter, beta: float, stats_path: Path | None = None):
        check_beta(beta)
        self.blocks = adapter.moe_blocks(model)
        self.renormalise = adapter.renormalises_topk(model.config)
        self.beta, self.stats_path = beta, stats_path
        self.skipped = self.total = 0
        self._saved: list[torch.nn.Module] = []

    def __enter__(self) -> ExpertSkipping:
        for blk in self.blocks:
            original = blk.experts.forward
            blk.experts.forward = MethodType(self._wrapper(original), blk.experts)
            self._saved.append(blk.experts)
        return self

    def __exit__(self, *exc: object) -> None:
        for module in self._saved:
            del module.forward
        self._saved.clear()
        if self.stats_path is not None and self.total:
            before = read_counts(self.stats_path)
            atomic_write_text(
                self.stats_path,
                json.dumps({"beta": self.beta, "skipped": before[0] + self.skipped, "total": before[1] + self.total}),
            )

    def _wrapper(self, original: Any):
        skipping = self

        def forward(
            _module: torch.nn.Module, hidden: torch.Tensor, top_k_index: torch.Tensor, top_k_weights: torch.Tensor
        ) -> torch.Tensor:
            return original(hidden, top_k_index, skipping.reweight(top_k_weights))

        return forward

    @torch.no_grad()
    def reweight(self, weights: torch.Tensor) -> torch.Tensor:
        keep = weights >= self.beta * weights.max(dim=-1, keepdim=True).values
        self.skipped += int((~keep).sum())
        self.total += keep.numel()
        kept = weights * keep
        if self.renormalise:
            kept = kept * (weights.sum(dim=-1, keepdim=True) / kept.sum(dim=-1, keepdim=True))
        return kept.to(weights.dtype)


def read_counts(path: Path) -> tuple[int, int]:
    """(skipped, total) expert calls recorded in ``path`` (0, 0 when absent)."""
    if not path.is_file():
        return 0, 0
    data = json.loads(path.read_text())
    return int(data["skipped"]), int(data["total"])


def stats_path(cache_dir: Path, checkpoint: str, beta: float) -> Path:
    return cache_dir / "skipping" / f"{checkpoint[:24]}-beta{beta:g}.json"
