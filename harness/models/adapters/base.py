"""The adapter interface: everything the pruning engine needs to know about one MoE family.

Nothing outside ``harness/models`` may look at module names, config keys or tensor layouts of a
particular family; it asks the adapter instead (the way vLLM keeps model code per architecture).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from harness.models.routing import RouterOut

DEAD_SLOT_BIAS = -1.0e4  # finite (no inf arithmetic in bf16/fp16), far below any logit or sigmoid score


class UnsupportedModelError(ValueError):
    """The checkpoint's architecture has no adapter, or its config cannot be pruned safely."""


@dataclass
class MoEBlock:
    """One routed-expert block of a loaded model."""

    layer: int  # index in the decoder stack; also the ``layers.{i}`` number in checkpoint keys
    name: str  # module path in the loaded model
    block: torch.nn.Module
    router: torch.nn.Module
    experts: torch.nn.Module
    shared: list[str] = field(default_factory=list)  # module names of shared experts (never pruned)


@dataclass(frozen=True)
class RoutingInfo:
    """What selection must respect: top-k, and group-limited routing if any."""

    num_experts: int
    top_k: int
    n_group: int = 1
    topk_group: int = 1


class MoEAdapter:
    """Base adapter; a family subclasses it and fills the class attributes."""

    family: ClassVar[str]
    model_types: ClassVar[tuple[str, ...]]
    #: config keys that may hold the routed-expert count (any alias present is updated)
    expert_count_keys: ClassVar[tuple[str, ...]] = ("num_experts", "num_local_experts", "n_routed_experts")
    #: attribute names of the router / experts submodule inside a block
    router_attr: ClassVar[str] = "gate"
    experts_attr: ClassVar[str] = "experts"
    #: submodule names of shared experts inside a block (kept as they are)
    shared_attrs: ClassVar[tuple[str, ...]] = ()
    #: regex matching a MoE block's key prefix in a checkpoint; group 1 is the layer index
    disk_block_pattern: ClassVar[str] = r"^model\.layers\.(\d+)\.mlp$"
    #: router parameter names sliced along dim 0 with the experts
    router_params: ClassVar[tuple[str, ...]] = ("weight",)
    #: router parameters that can switch an expert slot off, with the value that does it (a bias far
    #: below any score: the slot is never in the top-k). Empty: the family cannot hold dead slots, so
    #: it cannot store non-uniform keep counts under one config-wide expert count.
    dead_slot_params: ClassVar[dict[str, float]] = {}

    @staticmethod
    def masked_router(router: Any, hidden: torch.Tensor, keep: torch.Tensor) -> RouterOut:
        """The family's router with experts outside ``keep`` unselectable (one of ``harness.models.routing``)."""
        raise NotImplementedError

    #: True when a block's top-k weights are renormalised over the chosen experts
    renormalises: ClassVar[bool] = True

    # -- config ---------------------------------------------------------------------------
    def text_config(self, config: Any) -> Any:
        """The (sub)config that holds the MoE fields."""
        return config

    def text_config_dict(self, config_json: dict) -> dict:
        """The same, for a raw config.json dictionary (used when editing it on disk)."""
        return config_json

    def num_experts(self, config: Any) -> int:
        cfg = self.text_config(config)
        for key in self.expert_count_keys:
            value = getattr(cfg, key, None)
            if isinstance(value, int):
                return value
        raise UnsupportedModelError(f"{self.family}: no expert count among {self.expert_count_keys}")

    def routing_info(self, config: Any) -> RoutingInfo:
        cfg = self.text_config(config)
        return RoutingInfo(
            num_experts=self.num_experts(config),
            top_k=int(cfg.num_experts_per_tok),
            n_group=int(getattr(cfg, "n_group", None) or 1),
            topk_group=int(getattr(cfg, "topk_group", None) or 1),
        )

    def renormalises_topk(self, config: Any) -> bool:
        return bool(getattr(self.text_config(config), "norm_topk_prob", self.renormalises))

    def set_expert_count(self, config_json: dict, kept: int) -> list[str]:
        """Write the new expert count into every alias present in config.json; return the keys."""
        target = self.text_config_dict(config_json)
        keys = [k for k in self.expert_count_keys if k in target]
        if not keys:
            raise UnsupportedModelError(
                f"{self.family}: config.json has none of {self.expert_count_keys}; cannot record the pruned count"
            )
        for key in keys:
            target[key] = kept
        return keys

    # -- modules --------------------------------------------------------------------------
    def decoder_layers(self, model: Any) -> torch.nn.ModuleList:
        return model.model.layers

    def block_of(self, layer: torch.nn.Module) -> torch.nn.Module | None:
        """The MoE block inside one decoder layer, or None for a dense / non-MoE layer."""
        block = getattr(layer, "mlp", None)
        return block if block is not None and hasattr(block, self.experts_attr) else None

    def moe_blocks(self, model: torch.nn.Module) -> list[MoEBlock]:
        blocks = []
        layers = self.decoder_layers(model)
        prefix = {id(m): n for n, m in model.named_modules()}
        for i, layer in enumerate(layers):
            block = self.block_of(layer)
            if block is None:
                continue
            blocks.append(
                MoEBlock(
                    layer=i,
                    name=prefix[id(block)],
                    block=block,
                    router=getattr(block, self.router_attr),
                    experts=getattr(block, self.experts_attr),
                    shared=[a for a in self.shared_attrs if hasattr(block, a)],
                )
            )
        if not blocks:
            raise UnsupportedModelError(f"{self.family}: found no MoE blocks in {type(model).__name__}")
        return blocks

    # -- checkpoint keys ------------------------------------------------------------------
    def disk_layer(self, prefix: str) -> int | None:
        """Layer index if ``prefix`` is a MoE block's key prefix in a checkpoint, else None."""
        m = re.match(self.disk_block_pattern, prefix)
        return int(m.group(1)) if m else None
