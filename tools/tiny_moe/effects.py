"""Pruning effects on the embedded model: every method x ratio, profiled against the unpruned model."""

from __future__ import annotations

import json
from pathlib import Path

from harness.data.calibration import CalibrationSource
from harness.gate.variants import default_calibration
from harness.generate.backends import BackendOptions, open_backend
from harness.models.loading import resolve
from harness.models.registry import FIXTURES_DIR
from harness.prune.calibrate import CalibrationSettings
from harness.prune.sweep import SweepRequest, run_sweep
from tools.tiny_moe.evaluate import Profile, profile

DATA_DIR = FIXTURES_DIR / "tiny-moe" / "data"


def _row(name: str, p: Profile) -> dict:
    """One flat table row: the profile's fields in order, choice and Med-HALT tasks spread into their own columns."""
    row: dict = {"variant": name}
    for key, value in p.as_dict().items():
        row.update(
            {(f"medhalt_{task}" if key == "medhalt" else task): acc for task, acc in value.items()}
            if isinstance(value, dict)
            else {key: value}
        )
    return row


def _profile(path: Path, limit: int | None, options: BackendOptions | None) -> Profile:
    with open_backend(path, options=options) as backend:
        return profile(backend, DATA_DIR, limit)


def run(
    methods: list[str],
    ratios: list[float],
    out_dir: Path,
    limit: int | None = None,
    calibration: list[str] | None = None,
    options: BackendOptions | None = None,
) -> list[dict]:
    model = resolve("tiny-moe")
    rows = [_row("unpruned", _profile(model.path, limit, options))]
    sources = [CalibrationSource.parse(s) for s in calibration] if calibration else default_calibration("tiny-moe")
    results = run_sweep(
        model,
        SweepRequest(
            methods, ratios, [0], sources, CalibrationSettings(), calibration_name="+".join(s.domain for s in sources)
        ),
        out_dir / "pruned",
        out_dir / "cache",
    )
    for r in results:
        rows.append(_row(r.path.name, _profile(r.path, limit, options)))
    return rows


def format_table(rows: list[dict]) -> str:
    keys = list(rows[0])
    widths = [max(len(k), *(len(f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k])) for r in rows)) for k in keys]
    lines = ["  ".join(k.ljust(w) for k, w in zip(keys, widths))]
    for r in rows:
        lines.append(
            "  ".join((f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k])).ljust(w) for k, w in zip(keys, widths))
        )
    return "\n".join(lines)


def save(rows: list[dict], path: Path) -> None:
    path.write_text(json.dumps(rows, indent=2) + "\n")
