"""Content fingerprints of checkpoints, so caches key on what a model IS, never on its name."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

FULL_HASH_LIMIT = 256 << 20  # files up to 256 MiB are hashed whole
SAMPLE_BLOCKS = 64  # larger files: header + size + 64 evenly spaced 64 KiB blocks
BLOCK = 64 << 10


def weight_files(path: Path) -> list[Path]:
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{path}: no *.safetensors weight files")
    return files


def _file_digest(file: Path, h: hashlib._Hash) -> None:
    size = file.stat().st_size
    h.update(f"{file.name}:{size}".encode())
    with open(file, "rb") as fh:
        if size <= FULL_HASH_LIMIT:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
            return
        header_len = int.from_bytes(fh.read(8), "little")
        h.update(fh.read(header_len))
        step = max(BLOCK, (size - BLOCK) // SAMPLE_BLOCKS)
        for offset in range(0, size - BLOCK, step):
            fh.seek(offset)
            h.update(fh.read(BLOCK))


def checkpoint_fingerprint(path: Path) -> str:
    """sha256 over config.json (canonical JSON) and the weight files' bytes (sampled when huge)."""
    h = hashlib.sha256()
    with open(path / "config.json", encoding="utf-8") as fh:
        h.update(json.dumps(json.load(fh), sort_keys=True).encode())
    for file in weight_files(path):
        _file_digest(file, h)
    return h.hexdigest()
