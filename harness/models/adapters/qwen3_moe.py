"""Qwen3-MoE (Qwen3-30B-A3B): softmax router, optional top-k renormalisation, no shared expert."""

from harness.models import routing
from harness.models.adapters.base import MoEAdapter


class Qwen3MoeAdapter(MoEAdapter):
    family = "qwen3_moe"
    model_types = ("qwen3_moe",)
    masked_router = staticmethod(routing.softmax_then_topk)
