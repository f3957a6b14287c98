"""Tolerances per (model, check) from thresholds.yaml (shipped defaults, overridable per model and check)."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import yaml

DEFAULT_FILE = Path(__file__).resolve().parent / "thresholds.yaml"  # package data


@dataclass(frozen=True)
class Threshold:
    tolerance: float
    alpha: float


class Thresholds:
    def __init__(self, data: dict, source: str = "<dict>"):
        self.source = source
        self.defaults = dict(data.get("defaults") or {})
        self.checks = dict(data.get("checks") or {})
        self.models = {
            name: dict((entry or {}).get("checks") or {}) for name, entry in (data.get("models") or {}).items()
        }
        for key in ("tolerance", "alpha"):
            if not isinstance(self.defaults.get(key), (int, float)):
                raise ValueError(f"{source}: defaults.{key} must be a number")
        for scope, table in [("checks", self.checks), *((f"models.{m}.checks", t) for m, t in self.models.items())]:
            for pattern, entry in table.items():
                unknown = set(entry or {}) - {"tolerance", "alpha"}
                if not isinstance(entry, dict) or unknown:
                    raise ValueError(
                        f"{source}: {scope}.{pattern}: expected a mapping with tolerance/alpha, got {entry!r}"
                    )

    @classmethod
    def load(cls, path: Path | None = None) -> Thresholds:
        path = Path(path or DEFAULT_FILE)
        if not path.is_file():
            raise FileNotFoundError(f"thresholds file {path} not found")
        return cls(yaml.safe_load(path.read_text()) or {}, str(path))

    def for_check(self, model: str, check: str) -> Threshold:
        merged = dict(self.defaults)
        for table in (self.checks, self.models.get(model, {})):
            for pattern, entry in table.items():
                if fnmatchcase(check, pattern):
                    merged.update(entry)
        return Threshold(float(merged["tolerance"]), float(merged["alpha"]))
