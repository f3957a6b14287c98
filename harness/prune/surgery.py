"""Write a pruned checkpoint by streaming the source safetensors shard by shard.

The source is never loaded as a model: each shard is read, its expert tensors are filtered or
sliced, and a smaller shard is written, so peak memory is one shard, whatever the model size.
Output goes to a temporary directory that is renamed into place only when complete; a failure
leaves nothing behind.

Key rules (one for every family; the adapter says which key prefixes are MoE blocks):
  <block>.experts.<e>.<rest>          per-expert layout: kept experts renumbered 0..M-1
  <block>.experts.<param>             fused layout: dim 0 sliced to the kept experts
  <block>.<router>.<weight|bias|...>  router rows, bias, e_score_correction_bias sliced
A slot may be dead (``None`` in the keep list, non-uniform keep counts): its expert weights and
router row are zeros and the router's dead-slot parameter (a bias) is set so it is never chosen.
Expert tensors outside the model's MoE blocks (e.g. an MTP head) are left as they are and listed.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from harness.atomic import atomic_dir
from harness.models.adapters import MoEAdapter, UnsupportedModelError, require_dead_slots
from harness.models.shards import INDEX_NAME, check_shards, source_shards

PER_EXPERT = re.compile(r"^(?P<block>.+)\.experts\.(?P<expert>\d+)\.(?P<rest>.+)$")
FUSED = re.compile(r"^(?P<block>.+)\.experts\.(?P<param>[^.]+)$")
ROUTER = re.compile(r"^(?P<block>.+)\.(?P<module>[^.]+)\.(?P<param>[^.]+)$")


@dataclass
class SurgeryReport:
    expert_bytes_before: int = 0
    expert_bytes_after: int = 0
    total_bytes_before: int = 0
    total_bytes_after: int = 0
    expert_params_before: int = 0
    expert_params_after: int = 0
    layers_touched: set[int] = field(default_factory=set)
    untouched_expert_keys: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "layers_touched"}
        d["layers_touched"] = sorted(self.layers_touched)
        return d


class _KeyRewriter:
    """Maps one source tensor to its pruned form (or drops it)."""

    def __init__(self, adapter: MoEAdapter, keep: dict[int, list[int | None]], num_experts: int):
        self.adapter, self.keep, self.num_experts = adapter, keep, num_experts
        self.renumber = {
            layer: {old: new for new, old in enumerate(ids) if old is not None} for layer, ids in keep.items()
        }
        self.dead = {layer: [slot for slot, old in enumerate(ids) if old is None] for layer, ids in keep.items()}
        slots = {len(ids) for ids in keep.values()}
        if len(slots) > 1:  # checked before any shard is read: one expert count goes into the config
            raise UnsupportedModelError(f"every MoE layer needs the same number of slots, got {sorted(slots)}")
        self.slots = slots.pop() if slots else 0
        if any(self.dead.values()):
            require_dead_slots(adapter)

    def _layer(self, block: str, key: str) -> int | None:
        layer = self.adapter.disk_layer(block)
        if layer is not None and layer not in self.keep:
            raise UnsupportedModelError(f"checkpoint key {key}: MoE layer {layer} has no kept-expert list")
        return layer

    def plan(
        self, key: str, shape: list[int]
    ) -> tuple[str, Callable[[torch.Tensor], torch.Tensor] | None, int | None, bool] | None:
        """(new key, transform or None, layer, is_expert_tensor), or None to drop the tensor."""
        if m := PER_EXPERT.match(key):
            layer = self._layer(m["block"], key)
            if layer is not None:
                new = self.renumber[layer].get(int(m["expert"]))
                return None if new is None else (f"{m['block']}.experts.{new}.{m['rest']}", None, layer, True)
        if m := FUSED.match(key):
            layer = self._layer(m["block"], key)
            if layer is not None:
                return key, self._slicer(key, shape, layer), layer, True
        if (
            (m := ROUTER.match(key))
            and m["module"] == self.adapter.router_attr
            and m["param"] in self.adapter.router_params
        ):
            layer = self._layer(m["block"], key)
            if layer is not None:
                return (
                    key,
                    self._slicer(key, shape, layer, self.adapter.dead_slot_params.get(m["param"], 0.0)),
                    layer,
                    False,
                )
        return key, None, None, False

    def dead_copies(self, key: str) -> list[str]:
        """Per-expert layout: keys of the dead slots to write as zeros shaped like ``key`` (emitted once,
        alongside the layer's first live expert)."""
        m = PER_EXPERT.match(key)
        if not m or (layer := self.adapter.disk_layer(m["block"])) is None or not self.dead.get(layer):
            return []
        if self.renumber[layer].get(int(m["expert"])) != 0:
            return []
        return [f"{m['block']}.experts.{slot}.{m['rest']}" for slot in self.dead[layer]]

    def _slicer(
        self, key: str, shape: list[int], layer: int, fill: float = 0.0
    ) -> Callable[[torch.Tensor], torch.Tensor]:
        """Rows of the kept experts in slot order; dead slots set to ``fill``."""
        if not shape or shape[0] != self.num_experts:
            raise UnsupportedModelError(
                f"checkpoint key {key} has shape {shape}; expected dim 0 = {self.num_experts} experts"
            )
        index = torch.tensor([0 if old is None else old for old in self.keep[layer]])
        dead = torch.tensor(self.dead[layer], dtype=torch.long)

        def slice_(t: torch.Tensor) -> torch.Tensor:
            out = t.index_select(0, index).contiguous()
            if len(dead):
                out[dead] = fill
            return out

        return slice_


def write_pruned_checkpoint(
    src: Path,
    dst: Path,
    adapter: MoEAdapter,
    keep: dict[int, list[int | None]],
    num_experts: int,
    progress: Callable[[str], None] | None = None,
) -> SurgeryReport:
    """Stream ``src`` into a pruned checkpoint at ``dst`` (atomically); return byte/param accounting."""
    check_shards(src)
    with atomic_dir(dst) as tmp:
        return write_pruned_tensors(src, tmp, adapter, keep, num_experts, progress)


def write_pruned_tensors(
    src: Path,
    out: Path,
    adapter: MoEAdapter,
    keep: dict[int, list[int | None]],
    num_experts: int,
    progress: Callable[[str], None] | None = None,
) -> SurgeryReport:
    """Write the pruned weights, index, config and the source's other files into the existing ``out``
    (the caller makes it atomic and adds the manifest); ``keep``: checkpoint slot -> original expert."""
    rewriter = _KeyRewriter(adapter, keep, num_experts)
    report = SurgeryReport()
    weight_map: dict[str, str] = {}
    shards = source_shards(src)
    for shard in shards:
        tensors: dict[str, torch.Tensor] = {}
        with safe_open(str(src / shard), "pt") as fh:
            metadata = fh.metadata() or {"format": "pt"}
            for key in fh.keys():
                shape = list(fh.get_slice(key).get_shape())
                plan = rewriter.plan(key, shape)
                tensor = fh.get_tensor(key)
                nbytes = tensor.numel() * tensor.element_size()
                report.total_bytes_before += nbytes
                is_expert = (PER_EXPERT.match(key) or FUSED.match(key)) is not None
                if is_expert and (plan is None or plan[3]):
                    report.expert_bytes_before += nbytes
                    report.expert_params_before += tensor.numel()
                elif is_expert:
                    report.untouched_expert_keys.append(key)
                if plan is None:
                    continue
                new_key, transform, layer, expert_tensor = plan
                if transform is not None:
                    tensor = transform(tensor)
                if layer is not None:
                    report.layers_touched.add(layer)
                out_bytes = tensor.numel() * tensor.element_size()
                report.total_bytes_after += out_bytes
                if expert_tensor:
                    report.expert_bytes_after += out_bytes
                    report.expert_params_after += tensor.numel()
                tensors[new_key] = tensor
                weight_map[new_key] = shard
                for dead_key in rewriter.dead_copies(key):
                    tensors[dead_key] = torch.zeros_like(tensor)
                    weight_map[dead_key] = shard
                    report.total_bytes_after += out_bytes
                    report.expert_bytes_after += out_bytes
                    report.expert_params_after += tensor.numel()
        save_file(tensors, str(out / shard), metadata=metadata)
        del tensors
        if progress:
            progress(shard)
    missing = sorted(set(keep) - report.layers_touched)
    if missing:
        raise UnsupportedModelError(f"{src}: no expert tensors found on disk for MoE layers {missing}")
    if (src / INDEX_NAME).is_file() or len(shards) > 1:
        index = {"metadata": {"total_size": report.total_bytes_after}, "weight_map": dict(sorted(weight_map.items()))}
        (out / INDEX_NAME).write_text(json.dumps(index, indent=2) + "\n")
    _write_config(src, out, adapter, rewriter.slots)
    for extra in src.iterdir():
        if (
            extra.is_file()
            and extra.suffix != ".safetensors"
            and extra.name not in (INDEX_NAME, "config.json", "pruning.json")
        ):
            shutil.copy2(extra, out / extra.name)
    return report


def _write_config(src: Path, out: Path, adapter: MoEAdapter, kept: int) -> None:
    config = json.loads((src / "config.json").read_text())
    adapter.set_expert_count(config, kept)
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def moe_layers_on_disk(src: Path, adapter: MoEAdapter) -> list[int]:
    """The MoE layers of a checkpoint (those with a router), from its tensor names only: no weights read."""
    layers = set()
    for shard in source_shards(src):
        with safe_open(str(src / shard), "pt") as fh:
            for key in fh.keys():
                m = ROUTER.match(key)
                if m and m["module"] == adapter.router_attr and (layer := adapter.disk_layer(m["block"])) is not None:
                    layers.add(layer)
    return sorted(layers)
