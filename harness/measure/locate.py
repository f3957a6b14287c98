"""Where a task's dataset is read from.

With a data directory (the embedded model's ``fixtures/tiny-moe/data``, or ``--data-dir``) files are
read at each dataset's ``layout`` path; without one, each dataset comes from its cache location
(``$MOEGATE_DATA_DIR/<name>``), whose error names the official source and the override.
"""

from __future__ import annotations

from pathlib import Path

from harness.data.dataset import DatasetSpec, resolve_path


def dataset_path(spec: DatasetSpec, data_dir: Path | None) -> Path:
    if data_dir is None:
        return resolve_path(spec)
    if not spec.layout:
        raise FileNotFoundError(
            f"dataset {spec.name} has no place in a data directory ({data_dir}); read it from its cache "
            f"location instead (without --data-dir). Official source: {spec.source}"
        )
    path = Path(data_dir) / spec.layout
    if not path.exists():
        raise FileNotFoundError(
            f"dataset {spec.name} not found at {path} (data directory {data_dir}; expected layout: "
            f"{spec.layout}). Official source: {spec.source}"
        )
    return path
