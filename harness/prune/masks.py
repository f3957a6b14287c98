"""Kept-expert masks given from outside: the reference study's released ``expert_mask.json`` files and
moegate's own ``pruning.json``, validated against the model before any work.

Study format: a JSON list with one entry per MoE layer in model order, each the list of kept expert
ids (possibly in score order). moegate format: a ``pruning.json`` whose ``kept_experts`` maps layer
index -> kept ids. Both become {layer: sorted kept ids}.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from harness.models.adapters import MoEAdapter, RoutingInfo, UnsupportedModelError
from harness.prune.select import PruningConfigError, plan_keep


class MaskError(ValueError):
    """A mask that does not fit the model; the message names the file, layer and id."""


@dataclass(frozen=True)
class ExpertMask:
    name: str
    path: Path
    sha256: str
    kept: dict[int, list[int]]
    format: str  # "study" | "moegate"

    @property
    def uniform(self) -> bool:
        return len({len(ids) for ids in self.kept.values()}) == 1

    def ratio(self, num_experts: int) -> float:
        """The pruning ratio of the fullest layer (uniform masks: of every layer)."""
        return 1.0 - max(len(ids) for ids in self.kept.values()) / num_experts


def _read(path: Path) -> tuple[object, str]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MaskError(f"mask {path}: cannot read ({exc})") from exc
    try:
        return json.loads(raw), hashlib.sha256(raw).hexdigest()
    except json.JSONDecodeError as exc:
        raise MaskError(f"mask {path}: line {exc.lineno}: invalid JSON ({exc.msg})") from exc


def load_mask(name: str, path: Path, moe_layers: list[int], routing: RoutingInfo, adapter: MoEAdapter) -> ExpertMask:
    """Read and validate a mask for a model whose MoE layers are ``moe_layers`` (in order)."""
    data, digest = _read(path)
    if isinstance(data, list):
        if len(data) != len(moe_layers):
            raise MaskError(f"mask {path}: {len(data)} layer entries, the model has {len(moe_layers)} MoE layers")
        entries, fmt = dict(zip(moe_layers, data)), "study"
    elif isinstance(data, dict) and isinstance(data.get("kept_experts"), dict):
        try:
            entries = {int(k): v for k, v in data["kept_experts"].items()}
        except ValueError:
            raise MaskError(f"mask {path}: kept_experts keys must be layer numbers") from None
        if sorted(entries) != moe_layers:
            raise MaskError(f"mask {path}: layers {sorted(entries)} do not match the model's MoE layers {moe_layers}")
        fmt = "moegate"
    else:
        raise MaskError(
            f"mask {path}: expected a JSON list of kept-expert lists (one per MoE layer) or a "
            "pruning.json with kept_experts"
        )
    kept = {layer: _layer_ids(path, layer, ids, routing) for layer, ids in entries.items()}
    mask = ExpertMask(name, path, digest, kept, fmt)
    if not mask.uniform:
        try:
            from harness.models.adapters import require_dead_slots

            require_dead_slots(adapter)
        except UnsupportedModelError as exc:
            counts = sorted({len(ids) for ids in kept.values()})
            raise MaskError(f"mask {path}: layers keep different counts {counts}; {exc}") from None
    else:
        try:
            plan_keep(mask.ratio(routing.num_experts), routing)
        except PruningConfigError as exc:
            raise MaskError(f"mask {path}: {exc}") from None
    return mask


def _layer_ids(path: Path, layer: int, ids: object, routing: RoutingInfo) -> list[int]:
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise MaskError(f"mask {path}: layer {layer}: expected a list of expert ids, got {str(ids)[:80]}")
    for i in ids:
        if not 0 <= i < routing.num_experts:
            raise MaskError(f"mask {path}: layer {layer}: expert id {i} is out of range 0..{routing.num_experts - 1}")
    seen = set()
    for i in ids:
        if i in seen:
            raise MaskError(f"mask {path}: layer {layer}: expert id {i} appears twice")
        seen.add(i)
    if len(ids) < routing.top_k:
        raise MaskError(f"mask {path}: layer {layer}: keeps {len(ids)} experts, fewer than top_k={routing.top_k}")
    size = routing.num_experts // routing.n_group
    if routing.n_group > 1:
        per = [sum(1 for i in ids if i // size == g) for g in range(routing.n_group)]
        if len(set(per)) != 1 or per[0] < 2:
            raise MaskError(
                f"mask {path}: layer {layer}: keeps {per} experts per routing group; grouped routing "
                "needs the same count (>= 2) in every group"
            )
    return sorted(ids)


def parse_masks(entries: list[str]) -> dict[str, Path]:
    """``NAME=FILE`` or ``FILE`` (named after the file) -> {name: path}; names must be unique."""
    masks: dict[str, Path] = {}
    for entry in entries:
        name, sep, path = entry.partition("=")
        name, file = (name, Path(path)) if sep else (Path(entry).stem, Path(entry))
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"--mask {entry!r}: the name must be letters, digits, '-' or '_'")
        if name in masks:
            raise ValueError(f"--mask {entry!r}: the name {name!r} is given twice")
        masks[name] = file
    return masks
