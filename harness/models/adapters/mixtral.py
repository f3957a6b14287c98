"""Mixtral: softmax router with renormalised top-k. Checkpoints name the block ``block_sparse_moe``."""

from harness.models import routing
from harness.models.adapters.base import MoEAdapter


class MixtralAdapter(MoEAdapter):
    family = "mixtral"
    model_types = ("mixtral",)
    disk_block_pattern = r"^model\.layers\.(\d+)\.(?:mlp|block_sparse_moe)$"
    masked_router = staticmethod(routing.softmax_then_topk)
