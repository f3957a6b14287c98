"""Generation cache: one SQLite row per (checkpoint content hash, request, parameters, backend version).

Why SQLite: every finished item is committed on its own (a transaction per row), so a run killed
mid-way (Ctrl-C, kill -9) loses at most the items still in flight, and several pytest-xdist workers
can share one file (WAL journal, busy timeout). Each row stores the sha256 of its value; a row whose
value no longer matches (disk corruption, a hand edit) is deleted and regenerated, never returned.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

SCHEMA_VERSION = 1


def default_cache_dir() -> Path:
    return Path(os.environ.get("MOEGATE_CACHE_DIR", Path.home() / ".cache" / "moegate"))


def request_key(checkpoint: str, kind: str, request: Any, params: dict, backend: str) -> str:
    """Content key of one request; two checkpoints never share one, whatever their names."""
    payload = json.dumps([SCHEMA_VERSION, checkpoint, kind, request, params, backend], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class CacheInfo:
    path: Path
    entries: int
    size_bytes: int
    per_checkpoint: dict[str, int]

    def as_dict(self) -> dict:
        return {
            "path": str(self.path),
            "entries": self.entries,
            "size_bytes": self.size_bytes,
            "per_checkpoint": self.per_checkpoint,
        }


class GenerationCache:
    """A key -> JSON value store, written atomically per item."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # switching a new file to WAL needs an exclusive lock that SQLite's busy timeout does not wait for:
        # processes opening the cache at the same moment (xdist workers) take turns through a file lock
        with FileLock(str(self.path) + ".init.lock"):
            self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, checkpoint TEXT NOT NULL, "
                "kind TEXT NOT NULL, value TEXT NOT NULL, digest TEXT NOT NULL, created REAL NOT NULL)"
            )
        self.corrupt_dropped = 0

    def close(self) -> None:
        self._db.close()

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        """Values of the keys present and intact; corrupt rows are deleted and reported missing."""
        found: dict[str, Any] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = self._db.execute(
                f"SELECT key, value, digest FROM entries WHERE key IN ({','.join('?' * len(chunk))})", chunk
            ).fetchall()
            for key, value, digest in rows:
                try:
                    if _digest(value) != digest:
                        raise ValueError("digest mismatch")
                    found[key] = json.loads(value)
                except ValueError:
                    self._db.execute("DELETE FROM entries WHERE key = ?", (key,))
                    self.corrupt_dropped += 1
        return found

    def put(self, key: str, value: Any, checkpoint: str, kind: str) -> None:
        text = json.dumps(value)
        self._db.execute(
            "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?)",
            (key, checkpoint, kind, text, _digest(text), time.time()),
        )

    def info(self) -> CacheInfo:
        per = dict(self._db.execute("SELECT checkpoint, COUNT(*) FROM entries GROUP BY checkpoint").fetchall())
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return CacheInfo(self.path, sum(per.values()), size, per)

    def prune(self, checkpoint: str | None = None, older_than_s: float | None = None, corrupt: bool = False) -> int:
        """Delete entries of one checkpoint (hash prefix), older than a cut-off, or failing their digest."""
        removed = 0
        if checkpoint is not None:
            removed += self._db.execute("DELETE FROM entries WHERE checkpoint LIKE ?", (checkpoint + "%",)).rowcount
        if older_than_s is not None:
            removed += self._db.execute("DELETE FROM entries WHERE created < ?", (time.time() - older_than_s,)).rowcount
        if corrupt:
            bad = [k for k, v, d in self._db.execute("SELECT key, value, digest FROM entries") if _digest(v) != d]
            for key in bad:
                self._db.execute("DELETE FROM entries WHERE key = ?", (key,))
            removed += len(bad)
        if removed:
            self._db.execute("VACUUM")
        return removed
