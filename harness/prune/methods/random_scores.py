"""Random: uniform scores from a generator seeded by (seed, layer). Reproducible, data-free: the floor any
data-driven method must beat."""

from __future__ import annotations

import hashlib

import torch

from harness.prune.methods.base import ScoringMethod
from harness.prune.stats import CalibrationStats


class Random(ScoringMethod):
    name = "random"
    default_rank = 0
    needs_data = False

    def scores(self, stats: CalibrationStats | None, layer: int, num_experts: int, seed: int) -> torch.Tensor:
        digest = hashlib.sha256(f"moegate-random:{seed}:{layer}".encode()).digest()
        gen = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little"))
        return torch.rand(num_experts, generator=gen, dtype=torch.float64)
