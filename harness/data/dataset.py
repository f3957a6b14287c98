"""A dataset: where it officially lives, where it is cached, how it is parsed.

Each benchmark unit (``harness.benchmarks``) declares its ``DatasetSpec``s: data plus one loader; the
registry there finds one by name. The default local location is ``$MOEGATE_DATA_DIR/<name>``
(``~/.cache/moegate/datasets/<name>``); ``--data-dir`` or an explicit path overrides it. Nothing here
touches the network.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data.sources import Origin


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    origin: Origin  # the official source at its pinned commit (what ``data download`` fetches)
    default_file: str  # file or folder name inside the dataset directory
    load: Callable[..., Any]  # (path, skipped=None) -> records
    description: str
    layout: str = ""  # path inside a data directory laid out like fixtures/tiny-moe/data ("": none there)

    @property
    def source(self) -> str:
        return self.origin.describe()


def data_root() -> Path:
    return Path(os.environ.get("MOEGATE_DATA_DIR", Path.home() / ".cache" / "moegate" / "datasets"))


def default_path(spec: DatasetSpec, root: Path | None = None) -> Path:
    return (root or data_root()) / spec.name / spec.default_file


def resolve_path(spec: DatasetSpec, path: Path | None = None, root: Path | None = None) -> Path:
    """The file or folder to read, or a clear error naming source, cache location and override."""
    name = spec.name
    target = path or default_path(spec, root)
    if not target.exists():
        raise FileNotFoundError(
            f"dataset {name} not found at {target}. Official source: {spec.source} ({spec.description}). "
            "Place the files there "
            f"(cache root: {root or data_root()}, env MOEGATE_DATA_DIR), pass the path explicitly "
            f"(`python -m harness data check {name} PATH`), or fetch it: `python -m harness data download {name}`"
        )
    return target


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0
