"""OLMoE: softmax router, top-k weights NOT renormalised by default (norm_topk_prob=False)."""

from harness.models import routing
from harness.models.adapters.base import MoEAdapter


class OlmoeAdapter(MoEAdapter):
    family = "olmoe"
    model_types = ("olmoe",)
    masked_router = staticmethod(routing.softmax_then_topk)
    renormalises = False
