"""Per-worker parts of one result file: each pytest-xdist worker writes its rows next to the file,
the controller merges them at the end of the session, so the file covers the whole run whatever the
parallelism. Stale parts of an interrupted run are cleared when a session starts."""

from __future__ import annotations

import json
from pathlib import Path


def _parts_dir(path: Path) -> Path:
    return path.parent / f".{path.stem}-parts"


def clear_parts(path: Path) -> None:
    for part in _parts_dir(path).glob("*.json"):
        part.unlink()


def write_part(path: Path, worker: str, rows: list[dict]) -> None:
    folder = _parts_dir(path)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{worker}.json").write_text(json.dumps(rows))


def has_parts(path: Path) -> bool:
    return any(_parts_dir(path).glob("*.json"))


def merge_parts(path: Path) -> list[dict]:
    """Every worker's rows, in worker order; the parts are removed."""
    merged = []
    for part in sorted(_parts_dir(path).glob("*.json")):
        merged += json.loads(part.read_text())
        part.unlink()
    return merged
