"""IFEval rows as the Hugging Face dataset ``google/IFEval`` exposes them (split ``train``, 541 rows):
``key`` (int), ``prompt``, ``instruction_id_list`` (ids of lm-eval's instruction registry) and
``kwargs`` (one dict per instruction; keys a given instruction does not use may be null).
Scored by lm-eval's ``ifeval`` task (official YAML and checkers)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data.records import fail, parse_each, read_jsonl

HUB_ID = "google/IFEval"


@dataclass(frozen=True)
class IFEvalItem:
    key: int
    prompt: str
    instruction_id_list: tuple[str, ...]
    kwargs: tuple[dict, ...]


def load(path: Path, skipped: list[str] | None = None) -> list[IFEvalItem]:
    def parse(line: str, rec: Any) -> IFEvalItem:
        if not isinstance(rec, dict):
            raise fail(path, line, "(record)", "a JSON object", rec)
        if not isinstance(rec.get("key"), int):
            raise fail(path, line, "key", "an integer", rec.get("key"))
        if not isinstance(rec.get("prompt"), str) or not rec["prompt"].strip():
            raise fail(path, line, "prompt", "a non-empty string", rec.get("prompt"))
        ids, kwargs = rec.get("instruction_id_list"), rec.get("kwargs")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and ":" in i for i in ids):
            raise fail(path, line, "instruction_id_list", "a non-empty list of ids like 'punctuation:no_comma'", ids)
        if not isinstance(kwargs, list) or len(kwargs) != len(ids) or not all(isinstance(k, dict) for k in kwargs):
            raise fail(path, line, "kwargs", f"a list of {len(ids)} objects (one per instruction)", kwargs)
        return IFEvalItem(rec["key"], rec["prompt"], tuple(ids), tuple(kwargs))

    return parse_each(read_jsonl(path), parse, skipped)
