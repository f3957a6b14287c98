"""Qwen3-Next: Qwen3-MoE routing plus a sigmoid-gated shared expert (never pruned)."""

from harness.models import routing
from harness.models.adapters.base import MoEAdapter


class Qwen3NextAdapter(MoEAdapter):
    family = "qwen3_next"
    model_types = ("qwen3_next",)
    shared_attrs = ("shared_expert", "shared_expert_gate")
    masked_router = staticmethod(routing.softmax_then_topk)
