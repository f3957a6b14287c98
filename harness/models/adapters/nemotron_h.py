"""Nemotron-H (Nemotron-3-Nano): hybrid Mamba / attention / MoE stack.

Only layers whose mixer has routed experts are MoE blocks. Routing is DeepSeek-V3 style (sigmoid,
correction bias, groups). Hub checkpoints use the ``backbone.`` prefix, transformers v5 ``model.``.
"""

import torch

from harness.models import routing
from harness.models.adapters.base import DEAD_SLOT_BIAS, MoEAdapter


class NemotronHAdapter(MoEAdapter):
    family = "nemotron_h"
    model_types = ("nemotron_h",)
    shared_attrs = ("shared_experts",)
    disk_block_pattern = r"^(?:model|backbone)\.layers\.(\d+)\.mixer$"
    router_params = ("weight", "e_score_correction_bias")
    dead_slot_params = {"e_score_correction_bias": DEAD_SLOT_BIAS}
    masked_router = staticmethod(routing.sigmoid_grouped)

    def block_of(self, layer: torch.nn.Module) -> torch.nn.Module | None:
        mixer = getattr(layer, "mixer", None)
        return mixer if mixer is not None and hasattr(mixer, self.experts_attr) else None
