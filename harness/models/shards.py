"""A checkpoint's safetensors shards, and a header-only check that every one is there and whole.

A shard that is missing or cut short (an interrupted download or copy) otherwise surfaces as
safetensors' "incomplete metadata" with no file name, or midway through a long pass. The check reads
only each shard's header (its first bytes), so it runs before any work, and names the shard and the
first tensor that is not fully there.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

INDEX_NAME = "model.safetensors.index.json"


class CheckpointError(ValueError):
    """A checkpoint's weight files are missing, truncated or unreadable."""


def source_shards(src: Path) -> list[str]:
    """The shard file names of the checkpoint at ``src`` (from its index when it has one)."""
    index = src / INDEX_NAME
    if index.is_file():
        weight_map = json.loads(index.read_text())["weight_map"]
        return sorted(set(weight_map.values()))
    files = sorted(p.name for p in src.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{src}: no safetensors weights (pruning needs safetensors checkpoints)")
    return files


def _index_tensors(src: Path) -> dict[str, list[str]]:
    index = src / INDEX_NAME
    if not index.is_file():
        return {}
    tensors: dict[str, list[str]] = {}
    for name, shard in json.loads(index.read_text())["weight_map"].items():
        tensors.setdefault(shard, []).append(name)
    return tensors


def _check_shard(path: Path, expected: list[str]) -> None:
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path}: {size} bytes, too short for a safetensors header (truncated?)")
        (header_len,) = struct.unpack("<Q", head)
        if 8 + header_len > size:
            raise CheckpointError(
                f"{path}: its header needs {header_len} bytes but the file has {size}: truncated "
                f"(holds {', '.join(expected[:3]) or 'unknown tensors'}{' ...' if len(expected) > 3 else ''})"
            )
        try:
            header = json.loads(fh.read(header_len))
        except ValueError as err:
            raise CheckpointError(f"{path}: unreadable safetensors header ({err})") from err
    data = size - 8 - header_len
    for name, info in sorted(
        ((k, v) for k, v in header.items() if k != "__metadata__"), key=lambda kv: kv[1]["data_offsets"][1]
    ):
        end = info["data_offsets"][1]
        if end > data:
            raise CheckpointError(
                f"{path}: tensor {name} ends at byte {end} of the data but the file holds {data}: truncated"
            )
    missing = sorted(set(expected) - set(header))
    if missing:
        raise CheckpointError(
            f"{path}: the index places {missing[0]}{f' and {len(missing) - 1} more' if len(missing) > 1 else ''} "
            "in this shard but it does not hold it"
        )


def check_shards(src: Path) -> None:
    """Raise ``CheckpointError`` naming the shard (and tensor) when any shard is missing or truncated."""
    expected = _index_tensors(src)
    for shard in source_shards(src):
        path = src / shard
        if not path.is_file():
            names = expected.get(shard, [])
            raise CheckpointError(
                f"{path}: shard missing (the index places {len(names)} tensors in it"
                f"{', e.g. ' + names[0] if names else ''})"
            )
        _check_shard(path, expected.get(shard, []))
