"""Qwen2-MoE (Qwen1.5-MoE-A2.7B, Qwen2-57B-A14B): softmax router, optional top-k renormalisation, a
sigmoid-gated shared expert (never pruned); dense layers (``mlp_only_layers``) are not MoE blocks."""

from harness.models import routing
from harness.models.adapters.base import MoEAdapter


class Qwen2MoeAdapter(MoEAdapter):
    family = "qwen2_moe"
    model_types = ("qwen2_moe",)
    shared_attrs = ("shared_expert", "shared_expert_gate")
    masked_router = staticmethod(routing.softmax_then_topk)
