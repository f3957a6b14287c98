"""DeepSeek-V3 style: sigmoid router with score-correction bias and group-limited top-k.

The first ``first_k_dense_replace`` layers are dense MLPs (no ``experts``) and are skipped.
Shared experts are kept.
"""

from harness.models import routing
from harness.models.adapters.base import DEAD_SLOT_BIAS, MoEAdapter


class DeepseekV3Adapter(MoEAdapter):
    family = "deepseek_v3"
    model_types = ("deepseek_v3",)
    shared_attrs = ("shared_experts",)
    router_params = ("weight", "e_score_correction_bias")
    dead_slot_params = {"e_score_correction_bias": DEAD_SLOT_BIAS}
    masked_router = staticmethod(routing.sigmoid_grouped)
