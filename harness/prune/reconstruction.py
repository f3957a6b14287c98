"""How far a kept set distorts a MoE layer: the reconstruction loss every variant records and NAEE minimises.

Reconstruction loss of a kept set S on the layer's token sample (t over sampled calibration tokens):

    L(S) = mean_t || y_t - y_t(S) ||^2,   y_t(S) = sum_{i in topk_S(t)} w_ti(S) E_i(h_t)

where y_t is the routed experts' output of the unpruned block and y_t(S) its output when the
router can only pick experts of S, computed by the family's masked reference router
(``harness.models.routing``), i.e. exactly what the pruned checkpoint computes. Shared experts are
the same on both sides and cancel. Every expert's output E_i(h_t) is computed once per layer by the
family's own experts module (kept as per-token Gram matrices); a kept set then costs a share of one
batched router call and T x E^2 products, not a forward pass.

NAEE (``harness.prune.methods.naee``) searches the kept set minimising it.
"""

from __future__ import annotations

import torch

from harness.models.adapters import MoEAdapter, MoEBlock

OUTPUT_CHUNK_ELEMENTS = 1 << 24  # tokens x experts x hidden materialised at once


class LayerReconstruction:
    """One layer's token sample with every expert's output on it; ``losses(sets)`` for any kept sets."""

    def __init__(self, adapter: MoEAdapter, block: MoEBlock, hidden: torch.Tensor, num_experts: int):
        self.adapter, self.block, self.num_experts = adapter, block, num_experts
        param = next(block.experts.parameters())
        self.hidden = hidden.to(device=param.device, dtype=param.dtype)
        outputs = self._all_outputs()  # [T, E, H]
        # per-token Gram matrix of the expert outputs: ||sum_i d_i E_i||^2 = d^T G d, so a kept set costs
        # T x E^2, not T x k x H
        self.gram = torch.einsum("teh,tfh->tef", outputs, outputs).to(torch.float64)
        self.full = self._weights(torch.ones(1, num_experts, dtype=torch.bool))[0]
        self.evaluations = 0

    @torch.no_grad()
    def _all_outputs(self) -> torch.Tensor:
        n_tok, width = self.hidden.shape
        e = self.num_experts
        chunk = max(1, OUTPUT_CHUNK_ELEMENTS // (e * width))
        experts = torch.arange(e, device=self.hidden.device)
        parts = []
        for start in range(0, n_tok, chunk):
            part = self.hidden[start : start + chunk]
            out = self.block.experts(
                part.repeat_interleave(e, dim=0),
                experts.repeat(part.shape[0]).unsqueeze(-1),
                torch.ones(part.shape[0] * e, 1, dtype=part.dtype, device=part.device),
            )
            parts.append(out.to(torch.float64).view(part.shape[0], e, -1))
        return torch.cat(parts) if parts else torch.zeros(0, e, width, dtype=torch.float64)

    @torch.no_grad()
    def _weights(self, keep: torch.Tensor) -> torch.Tensor:
        """Dense routing weights [B, T, E] for each of B kept sets (``keep``: [B, E] bool). The masked
        routers take one keep row per token, so B sets are one router call on B copies of the sample."""
        b, n_tok = keep.shape[0], self.hidden.shape[0]
        rows = keep.to(self.hidden.device).repeat_interleave(n_tok, dim=0)
        _, weights, index = self.adapter.masked_router(self.block.router, self.hidden.repeat(b, 1), keep=rows)
        dense = torch.zeros(b * n_tok, self.num_experts, dtype=torch.float64, device=self.hidden.device)
        dense.scatter_(1, index.long(), weights.to(torch.float64))
        return dense.view(b, n_tok, self.num_experts)

    def mask(self, kept: list[int] | tuple[int, ...]) -> torch.Tensor:
        keep = torch.zeros(self.num_experts, dtype=torch.bool)
        keep[list(kept)] = True
        return keep

    def losses(self, kept_sets: list[tuple[int, ...]]) -> list[float]:
        """L(S) for every S of ``kept_sets``, evaluated in batches."""
        self.evaluations += len(kept_sets)
        n_tok, width = self.hidden.shape
        if n_tok == 0:
            return [0.0] * len(kept_sets)
        batch = max(1, OUTPUT_CHUNK_ELEMENTS // (n_tok * max(width, self.num_experts**2)))
        out: list[float] = []
        for start in range(0, len(kept_sets), batch):
            keep = torch.stack([self.mask(k) for k in kept_sets[start : start + batch]])
            d = self.full.unsqueeze(0) - self._weights(keep)
            out += (torch.einsum("bte,tef,btf->b", d, self.gram, d) / n_tok).tolist()
        return out

    def loss(self, kept: list[int] | tuple[int, ...]) -> float:
        return self.losses([tuple(kept)])[0]
