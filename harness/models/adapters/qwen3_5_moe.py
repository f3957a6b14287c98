"""Qwen3.5/3.6-MoE, text-only or the composite vision-language checkpoint.

Routing always renormalises top-k; a sigmoid-gated shared expert is kept. In the composite
checkpoint the MoE fields live in ``text_config`` and the language model's weights under
``model.language_model``; the vision tower and any MTP head are left untouched.
"""

from typing import Any

import torch

from harness.models import routing
from harness.models.adapters.base import MoEAdapter


class Qwen3_5MoeAdapter(MoEAdapter):
    family = "qwen3_5_moe"
    model_types = ("qwen3_5_moe", "qwen3_5_moe_text")
    shared_attrs = ("shared_expert", "shared_expert_gate")
    disk_block_pattern = r"^model\.(?:language_model\.)?layers\.(\d+)\.mlp$"
    masked_router = staticmethod(routing.softmax_then_topk)

    def text_config(self, config: Any) -> Any:
        return getattr(config, "text_config", None) or config

    def text_config_dict(self, config_json: dict) -> dict:
        return config_json.get("text_config") or config_json

    def decoder_layers(self, model: Any) -> torch.nn.ModuleList:
        inner = model.model
        return inner.language_model.layers if hasattr(inner, "language_model") else inner.layers
