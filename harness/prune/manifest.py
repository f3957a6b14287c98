"""``pruning.json``: what a pruned variant is and how it was made, written once when the variant is complete.

One typed record, read back by the sweep (reuse), coverage, masks and reports. The layout on disk is
``moegate-pruning/1``: layer keys are strings (JSON), slots map a checkpoint slot to its original expert
(``null``: a dead slot of a non-uniform variant), scores are rounded to 8 digits.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

FORMAT = "moegate-pruning/1"
FILENAME = "pruning.json"


class ManifestError(ValueError):
    """A pruning.json that is missing, unreadable or not in a format this version reads."""


@dataclass
class Source:
    name: str
    path: str
    hub_id: str | None
    revision: str | None
    fingerprint: str


@dataclass
class CalibrationRecord:
    name: str
    hash: str
    sources: dict[str, dict]
    n_samples: int
    max_length: int
    ean_tokens_per_sample: int | None
    mode: str = "full"  # the source model whole (full) or its decoder layers streamed (layerwise)


@dataclass
class PruningManifest:
    variant_key: str
    source: Source
    method: str  # a pruning method's name, or ``mask`` for given kept sets
    ratio: float
    seed: int
    experts_before: int
    experts_kept: int
    top_k: int
    n_group: int
    allocation: str
    live_experts: dict[int, int]
    calibration: CalibrationRecord | None
    kept_experts: dict[int, list[int]]
    slots: dict[int, list[int | None]]
    scores: dict[int, list[float]]
    libraries: dict[str, str]
    reconstruction_loss: dict[int, float | None] = field(default_factory=dict)
    #: a search method's account (NAEE): strategy (exact | greedy | mixed across layers), max_subsets,
    #: evaluations (kept sets evaluated), seconds
    search: dict[str, Any] | None = None
    mask: dict[str, str] | None = None  # name, path, sha256, format of a given mask
    surgery: dict[str, Any] = field(default_factory=dict)
    verification: dict[str, Any] | None = None
    format: str = FORMAT

    @property
    def verified(self) -> bool:
        """Not known to be broken: verified, or written with ``--no-verify``."""
        return self.verification is None or bool(self.verification.get("ok"))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        out: dict[str, Any] = {"format": data.pop("format")}
        for name in ("live_experts", "kept_experts", "slots", "scores", "reconstruction_loss"):
            data[name] = {str(layer): value for layer, value in data[name].items()}
        return out | {k: v for k, v in data.items() if not (k in ("search", "mask") and v is None)}

    def write(self, directory: Path) -> Path:
        path = directory / FILENAME
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n")
        return path

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = FILENAME) -> PruningManifest:
        if data.get("format") != FORMAT:
            raise ManifestError(f"{where}: format {data.get('format')!r}, expected {FORMAT!r}")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        try:
            for name in ("live_experts", "kept_experts", "slots", "scores", "reconstruction_loss"):
                values[name] = {int(layer): v for layer, v in values.get(name, {}).items()}
            values["source"] = Source(**values["source"])
            if values.get("calibration") is not None:
                values["calibration"] = CalibrationRecord(**values["calibration"])
            return cls(**values)
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"{where}: not a complete {FORMAT} manifest ({exc})") from None

    @classmethod
    def read(cls, directory: Path) -> PruningManifest:
        path = directory / FILENAME
        if not path.is_file():
            raise ManifestError(f"{directory}: no {FILENAME} (not a moegate pruned variant)")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{path}: not JSON ({exc})") from None
        return cls.from_json(data, str(path))
