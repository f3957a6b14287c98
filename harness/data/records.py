"""Shared plumbing for dataset loaders: located errors and CSV/JSON readers."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

csv.field_size_limit(1 << 30)
T = TypeVar("T")


class DataFormatError(ValueError):
    """A record does not have the expected shape; the message says where."""


def load_json(path: Path) -> Any:
    """A whole JSON document; a syntax error names the file and line."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from exc


def fail(path: Path, where: str, field: str, expected: str, got: Any = None) -> DataFormatError:
    """An error naming the file, the place (``row 3`` for CSV, ``line 3`` for JSONL) and the field."""
    shown = "" if got is None else f", got {str(got)[:80]!r}"
    return DataFormatError(f"{path}: {where}: field {field!r}: expected {expected}{shown}")


def read_csv(path: Path, required: tuple[str, ...]) -> Iterator[tuple[str, dict[str, str]]]:
    """("row N", row) for each CSV row, N counted from 1 after the header; checks the header first."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise DataFormatError(f"{path}: header lacks columns {missing}; has {reader.fieldnames}")
        for i, row in enumerate(reader, start=1):
            yield f"row {i}", row


def read_jsonl(path: Path) -> Iterator[tuple[str, Any]]:
    """("line N", parsed value) for each non-empty line."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    yield f"line {lineno}", json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataFormatError(f"{path}: line {lineno}: invalid JSON ({exc.msg})") from exc


def as_int(path: Path, where: str, field: str, value: Any) -> int:
    try:
        return int(float(value)) if isinstance(value, str) and "." in value else int(value)
    except (TypeError, ValueError):
        raise fail(path, where, field, "an integer", value) from None


def parse_each(
    items: Iterable[tuple[str, Any]], parse: Callable[[str, Any], T | None], skipped: list[str] | None = None
) -> list[T]:
    """Parse every (location, raw) item. Strict by default: the first malformed record raises.
    Lenient when ``skipped`` is a list: malformed records are left out and their errors appended.
    ``parse`` may return None for records that are valid but not wanted (e.g. another split)."""
    out: list[T] = []
    for where, raw in items:
        try:
            record = parse(where, raw)
        except DataFormatError as exc:
            if skipped is None:
                raise
            skipped.append(str(exc))
            continue
        if record is not None:
            out.append(record)
    return out
