"""Collect calibration statistics from the model's own routing and its experts' real outputs.

While the collector is active, each MoE block's ``experts`` module is called by the block as
usual with ``(hidden, top_k_index, top_k_weights)`` from the block's own router. The wrapper
calls the module's original forward once per (token, slot) with unit weight, i.e. the family's
own expert code (fused, interleaved, biased, latent-projected or not) computes every routed
expert's unweighted output E_i(h_t). It accumulates the requested statistics
(``harness.prune.stats.Statistic``) and returns sum_k g_tk E_k(h_t), the very value the block would
have got, so a calibration pass costs about one ordinary MoE forward, plus, only when a requested
statistic has the ``all_experts`` scope (EAN), every expert on the sampled tokens. Nothing
re-implements routing or expert maths, which is where the reference study went wrong for GPT-OSS.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from types import MethodType
from typing import Any

import torch

from harness.models.adapters import MoEAdapter, MoEBlock
from harness.prune.stats import AllExpertTokens, CalibrationStats, LayerStats, RoutedTokens, Statistic

EAN_CHUNK_ELEMENTS = 1 << 24  # bound on tokens x experts x hidden materialised at once

ExpertsForward = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class StatsCollector(AbstractContextManager):
    """Context manager: wraps every MoE block's experts while calibration forwards run.

    ``statistics``: what to collect (default: every registered method's statistics)."""

    def __init__(
        self,
        model: torch.nn.Module,
        adapter: MoEAdapter,
        stats: CalibrationStats | None = None,
        statistics: tuple[Statistic, ...] | None = None,
    ):
        if statistics is None:
            from harness.prune.methods import registered, statistics_of

            statistics = statistics_of(list(registered()))
        self.routed = [s for s in statistics if s.scope == "routed"]
        self.all_experts = [s for s in statistics if s.scope == "all_experts"]
        self.blocks: list[MoEBlock] = adapter.moe_blocks(model)
        self.num_experts = adapter.num_experts(model.config)
        self.stats = stats or CalibrationStats()
        self.stats.names = tuple(sorted({*self.stats.names, *(s.name for s in statistics)}))
        self._domain: str | None = None
        self._valid: torch.Tensor | None = None
        self._sampled: torch.Tensor | None = None
        self._sample: torch.Tensor | None = None
        self._saved: list[tuple[torch.nn.Module, Any]] = []

    def set_batch(
        self, domain: str, valid: torch.Tensor, sampled: torch.Tensor, sample: torch.Tensor | None = None
    ) -> None:
        """Declare the next forward's domain and its flattened token masks ([batch*seq] bool): valid tokens,
        the all-experts (EAN) sample, and the sample whose expert inputs are kept for reconstruction losses."""
        self.use_batch(domain, valid, sampled, sample)
        self.count_batch()

    def use_batch(
        self, domain: str, valid: torch.Tensor, sampled: torch.Tensor, sample: torch.Tensor | None = None
    ) -> None:
        """Like ``set_batch`` without counting its tokens: a layer-major pass shows each batch to every layer
        separately and counts it once (``count_batch``)."""
        self._domain, self._valid = domain, valid.reshape(-1)
        self._sampled = (sampled & valid).reshape(-1) if self.all_experts else torch.zeros_like(self._valid)
        self._sample = None if sample is None else (sample & valid).reshape(-1)

    def count_batch(self) -> None:
        """Add the batch declared last to every MoE layer's token counts."""
        if self._domain is None or self._valid is None or self._sampled is None:
            raise RuntimeError("StatsCollector.use_batch() must be called before count_batch()")
        for blk in self.blocks:
            st = self.stats.layer(self._domain, blk.layer, self.num_experts)
            st.tokens += int(self._valid.sum())
            st.sampled_tokens += int(self._sampled.sum())

    def __enter__(self) -> StatsCollector:
        for blk in self.blocks:
            # a streamed layer's experts already have an instance forward (accelerate's hook): restored after
            self._saved.append((blk.experts, blk.experts.__dict__.get("forward")))
            blk.experts.forward = MethodType(self._make_wrapper(blk.layer, blk.experts.forward), blk.experts)
        return self

    def __exit__(self, *exc: object) -> None:
        for module, previous in self._saved:
            if previous is None:
                del module.forward  # drop the instance attribute; the class method is back
            else:
                module.forward = previous
        self._saved.clear()

    def _make_wrapper(self, layer: int, original: ExpertsForward) -> Callable[..., torch.Tensor]:
        collector = self

        def forward(
            _module: torch.nn.Module, hidden: torch.Tensor, top_k_index: torch.Tensor, top_k_weights: torch.Tensor
        ) -> torch.Tensor:
            return collector._observe(layer, original, hidden, top_k_index, top_k_weights)

        return forward

    @torch.no_grad()
    def _observe(
        self, layer: int, original: ExpertsForward, hidden: torch.Tensor, index: torch.Tensor, weights: torch.Tensor
    ) -> torch.Tensor:
        if self._domain is None or self._valid is None or self._sampled is None:
            raise RuntimeError("StatsCollector.set_batch() must be called before each calibration forward")
        n_tok, k = index.shape
        if n_tok != self._valid.numel():
            raise RuntimeError(
                f"layer {layer}: experts saw {n_tok} tokens but the batch mask has {self._valid.numel()}"
            )
        per_slot = original(
            hidden.repeat_interleave(k, dim=0),
            index.reshape(-1, 1),
            torch.ones(n_tok * k, 1, dtype=weights.dtype, device=weights.device),
        ).view(n_tok, k, -1)
        routed = (per_slot.float() * weights.float().unsqueeze(-1)).sum(dim=1)

        st = self.stats.layer(self._domain, layer, self.num_experts)
        valid = self._valid.to(hidden.device)
        view = RoutedTokens(index[valid], weights[valid], hidden[valid], per_slot[valid])
        for stat in self.routed:
            st.add(stat.name, view.index, stat.value(view))
        if self.all_experts:
            self._observe_all_experts(st, original, hidden[self._sampled.to(hidden.device)])
        if self._sample is not None:
            st.add_hidden(hidden[self._sample.to(hidden.device)])
        return routed.to(hidden.dtype)

    def _observe_all_experts(self, st: LayerStats, original: ExpertsForward, hidden: torch.Tensor) -> None:
        """Every expert's output on the sampled tokens, chunked to bound memory."""
        n_tok = hidden.shape[0]
        if n_tok == 0:
            return
        e = self.num_experts
        chunk = max(1, EAN_CHUNK_ELEMENTS // (e * hidden.shape[1]))
        experts = torch.arange(e, device=hidden.device)
        for start in range(0, n_tok, chunk):
            part = hidden[start : start + chunk]
            out = original(
                part.repeat_interleave(e, dim=0),
                experts.repeat(part.shape[0]).unsqueeze(-1),
                torch.ones(part.shape[0] * e, 1, dtype=part.dtype, device=part.device),
            )
            view = AllExpertTokens(out.float().norm(dim=-1).view(part.shape[0], e))
            for stat in self.all_experts:
                st.add(stat.name, view.index, stat.value(view))
