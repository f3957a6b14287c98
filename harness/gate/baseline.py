"""The unpruned baseline's answers, stored once per (model content hash, task, items, settings).

Stored as JSON under the baseline directory (default ``runs/baselines``), so a baseline is reused
across runs, variants and machines (the directory can be shared), and refreshed only on request.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from harness.atomic import atomic_write_text
from harness.measure.tasks import Item, TaskRun, TaskSpec


def baseline_key(fingerprint: str, task: TaskSpec, items: list[Item], backend_version: str) -> str:
    payload = [fingerprint, task.name, task.max_new_tokens, [(i.id, i.prompt) for i in items], backend_version]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


class BaselineStore:
    def __init__(self, root: Path, refresh: bool = False):
        self.root, self.refresh = Path(root), refresh
        self.opened = time.time()  # refresh: answers stored since then are this run's own (another worker's)

    def _path(self, model: str, task: TaskSpec, key: str) -> Path:
        return self.root / model / f"{task.name}-{key[:16]}.json"

    def lock_path(self, model: str) -> Path:
        """The file lock under which one process answers ``model``'s missing baseline tasks."""
        return self.root / model / ".answering.lock"

    def get(self, model: str, task: TaskSpec, items: list[Item], key: str) -> TaskRun | None:
        path = self._path(model, task, key)
        if not path.is_file() or (self.refresh and path.stat().st_mtime < self.opened):
            return None
        data = json.loads(path.read_text())
        if data.get("key") != key or len(data.get("outputs", [])) != len(items):
            return None
        return TaskRun(task, items, data["outputs"])

    def put(self, model: str, run: TaskRun, key: str, meta: dict) -> Path:
        path = self._path(model, run.task, key)
        atomic_write_text(
            path,
            json.dumps(
                {"key": key, **meta, "task": run.task.name, "items": [i.id for i in run.items], "outputs": run.outputs},
                indent=1,
            ),
        )
        return path
