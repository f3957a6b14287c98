"""GPT-OSS: biased router, top-k on logits then softmax; fused, interleaved gate/up experts with biases."""

from harness.models import routing
from harness.models.adapters.base import DEAD_SLOT_BIAS, MoEAdapter


class GptOssAdapter(MoEAdapter):
    family = "gpt_oss"
    model_types = ("gpt_oss",)
    router_attr = "router"
    router_params = ("weight", "bias")
    dead_slot_params = {"bias": DEAD_SLOT_BIAS}
    masked_router = staticmethod(routing.topk_then_softmax)
    renormalises = True  # softmax over the k selected logits always sums to 1
