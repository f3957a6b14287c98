"""Reference routers with an expert mask, one per routing style.

Pruning an expert is meant to equal "the original model, but the router can never pick that
expert". These functions state that relation precisely for each routing style; verification and
the equivalence tests run the *original* model with its router replaced by one of them. Each is
tested to reproduce the family's own router bit for bit when nothing is masked, so they cannot
drift from the model's real routing.

Masking means the masked experts' scores are -inf *before* normalisation. For softmax-first
routers that is the same as dropping the experts, whether or not top-k weights are renormalised
afterwards, because the pruned model's softmax also runs over the kept experts only. (The
"drop after softmax" variant, which keeps the original softmax denominator, is NOT what a pruned
checkpoint computes when ``norm_topk_prob`` is False; tests document that difference.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

RouterOut = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
#: the router is the family's own module; its attributes (top_k, weight, ...) are read as that family names them
MaskedRouter = Callable[[Any, torch.Tensor, torch.Tensor], RouterOut]


def _masked(logits: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    return logits.masked_fill(~keep.to(logits.device), float("-inf"))


def softmax_then_topk(router: Any, hidden: torch.Tensor, keep: torch.Tensor) -> RouterOut:
    """Qwen3-MoE, Qwen3-Next, Qwen3.5-MoE, Mixtral, OLMoE: softmax over experts, top-k, optional renorm."""
    hidden = hidden.reshape(-1, router.hidden_dim)
    logits = F.linear(hidden, router.weight)
    probs = F.softmax(_masked(logits, keep), dtype=torch.float, dim=-1)
    top_value, top_index = torch.topk(probs, router.top_k, dim=-1)
    if getattr(router, "norm_topk_prob", True):
        top_value = top_value / top_value.sum(dim=-1, keepdim=True)
    return logits, top_value.to(logits.dtype), top_index


def topk_then_softmax(router: Any, hidden: torch.Tensor, keep: torch.Tensor) -> RouterOut:
    """GPT-OSS: top-k on raw (biased) logits, then softmax over the k selected values."""
    logits = F.linear(hidden, router.weight, router.bias)
    top_value, top_index = torch.topk(_masked(logits, keep), router.top_k, dim=-1)
    return logits, F.softmax(top_value, dim=1, dtype=top_value.dtype), top_index


def sigmoid_grouped(router: Any, hidden: torch.Tensor, keep: torch.Tensor) -> RouterOut:
    """DeepSeek-V3 and Nemotron-H: sigmoid scores, bias-corrected group-limited top-k, scaled weights."""
    hidden = hidden.view(-1, router.hidden_dim)
    logits = F.linear(hidden.type(torch.float32), router.weight.type(torch.float32))
    scores = logits.sigmoid()
    choice = _masked(scores + router.e_score_correction_bias, keep)
    n_group, per_group = router.num_group, router.num_experts // router.num_group
    group_scores = choice.view(-1, n_group, per_group).topk(2, dim=-1)[0].sum(dim=-1)
    group_idx = torch.topk(group_scores, k=router.topk_group, dim=-1, sorted=False)[1]
    group_mask = torch.zeros_like(group_scores).scatter_(1, group_idx, 1)
    score_mask = group_mask.unsqueeze(-1).expand(-1, n_group, per_group).reshape(-1, router.num_experts)
    choice = choice.masked_fill(~score_mask.bool(), float("-inf"))
    top_index = torch.topk(choice, k=router.top_k, dim=-1, sorted=False)[1]
    weights = scores.gather(1, top_index)
    if router.norm_topk_prob:
        weights = weights / (weights.sum(dim=-1, keepdim=True) + 1e-20)
    return logits, weights * router.routed_scaling_factor, top_index
