"""Pruning effects on the embedded model: every method x ratio, profiled against the unpruned model."""

from __future__ import annotations

import json
from pathlib import Path

from harness.cli.prune_cmd import default_calibration
from harness.data.calibration import CalibrationSource
from harness.embedded.evaluate import profile
from harness.models.loading import load_model, load_tokenizer, resolve
from harness.prune.calibrate import CalibrationSettings
from harness.prune.sweep import run_sweep

DATA_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "tiny-moe" / "data"


def _row(name: str, p) -> dict:
    return {"variant": name, "bio_facts": p.bio_facts, "general_facts": p.general_facts, "bio_mcq": p.bio_mcq, "general_mcq": p.general_mcq, **{f"medhalt_{k}": v for k, v in p.medhalt.items()},
            "rct_faithful": p.rct_faithful, "rct_dose_exact": p.rct_dose_exact, "news_faithful": p.news_faithful}


def run(methods: list[str], ratios: list[float], out_dir: Path, limit: int | None = None,
        calibration: list[str] | None = None) -> list[dict]:
    model = resolve("tiny-moe")
    tok = load_tokenizer(model.path)
    rows = [_row("unpruned", profile(load_model(model.path), tok, DATA_DIR, limit))]
    sources = [CalibrationSource.parse(s) for s in (calibration or default_calibration("tiny-moe"))]
    results = run_sweep(model, methods, ratios, [0], sources, out_dir / "pruned", out_dir / "cache",
                        CalibrationSettings(), calibration_name="+".join(s.domain for s in sources))
    for r in results:
        rows.append(_row(r.path.name, profile(load_model(r.path), tok, DATA_DIR, limit)))
    return rows


def format_table(rows: list[dict]) -> str:
    keys = list(rows[0])
    widths = [max(len(k), *(len(f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k])) for r in rows)) for k in keys]
    lines = ["  ".join(k.ljust(w) for k, w in zip(keys, widths))]
    for r in rows:
        lines.append("  ".join((f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k])).ljust(w) for k, w in zip(keys, widths)))
    return "\n".join(lines)


def save(rows: list[dict], path: Path) -> None:
    path.write_text(json.dumps(rows, indent=2) + "\n")
