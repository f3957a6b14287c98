"""Calibration sources: read, validate, sample (seeded) and render calibration records.

Accepted records, one JSON object per line (``.jsonl``) or a JSON array (``.json``):
  * MedINST-style instruction records ``{"instruction", "input", "output"[, "history"]}``: chat-
    templated as the study did: user = instruction (+ blank line + "Input: <input>" when there is
    an input), assistant = the gold output; ``history`` pairs come first as earlier turns.
  * chat records ``{"messages": [{"role", "content"}, ...]}``: templated as they are.
  * plain text records ``{"text": ...}``: tokenized as they are, no template, no special tokens.
Every record is validated; an error names the file, the line (or array index) and the field.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data.prompts.instruction import instruction_prompt
from harness.data.records import DataFormatError, load_json

MEDINST_HUB_ID = "aialt/MedINST32"
MEDINST_CALIBRATION_CONFIG = "unseen_train_100k"


@dataclass(frozen=True)
class CalibrationRecord:
    kind: str  # "instruction" | "chat" | "text"
    payload: Any  # list of chat messages, or the text

    def messages(self) -> list[dict[str, str]]:
        if self.kind == "text":
            raise ValueError("text records have no messages")
        return self.payload


@dataclass(frozen=True)
class CalibrationSource:
    """A named calibration domain backed by a local file."""

    domain: str
    path: Path

    @classmethod
    def parse(cls, spec: str) -> CalibrationSource:
        """``PATH`` or ``DOMAIN=PATH`` (the domain defaults to the file stem)."""
        domain, sep, path = spec.partition("=")
        if not sep:
            domain, path = Path(spec).stem, spec
        p = Path(path).expanduser()
        if not p.is_file():
            raise FileNotFoundError(
                f"calibration file {p} does not exist. Pass a local JSONL/JSON file with --calibration; "
                f"the default biomedical source is the hub dataset {MEDINST_HUB_ID} "
                f"(config {MEDINST_CALIBRATION_CONFIG}): `python -m harness data download medinst-calibration`"
            )
        return cls(domain=domain, path=p)

    def content_hash(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def _str_field(rec: dict, name: str, where: str, required: bool = True) -> str:
    value = rec.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise DataFormatError(f"{where}: field {name!r} must be a string, got {type(value).__name__}")
    return value


def parse_record(rec: Any, where: str) -> CalibrationRecord:
    """Validate one raw JSON value and turn it into a CalibrationRecord."""
    if not isinstance(rec, dict):
        raise DataFormatError(f"{where}: expected a JSON object, got {type(rec).__name__}")
    if "messages" in rec:
        msgs = rec["messages"]
        if not isinstance(msgs, list) or not msgs:
            raise DataFormatError(f"{where}: field 'messages' must be a non-empty list")
        for j, msg in enumerate(msgs):
            if (
                not isinstance(msg, dict)
                or not isinstance(msg.get("role"), str)
                or not isinstance(msg.get("content"), str)
            ):
                raise DataFormatError(f"{where}: messages[{j}] needs string 'role' and 'content'")
        return CalibrationRecord("chat", [{"role": m["role"], "content": m["content"]} for m in msgs])
    if "instruction" in rec:
        instruction = _str_field(rec, "instruction", where)
        text_input = _str_field(rec, "input", where, required=False)
        output = _str_field(rec, "output", where)
        turns: list[dict[str, str]] = []
        for j, pair in enumerate(rec.get("history") or []):
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
                raise DataFormatError(f"{where}: history[{j}] must be a [user, assistant] pair of strings")
            turns += [{"role": "user", "content": pair[0]}, {"role": "assistant", "content": pair[1]}]
        user = instruction_prompt(instruction, text_input)
        turns += [{"role": "user", "content": user}, {"role": "assistant", "content": output}]
        return CalibrationRecord("instruction", turns)
    if "text" in rec:
        return CalibrationRecord("text", _str_field(rec, "text", where))
    raise DataFormatError(f"{where}: expected one of the fields 'instruction', 'messages' or 'text'; got {sorted(rec)}")


def iter_raw(path: Path) -> Iterator[tuple[str, Any]]:
    """(location, raw JSON value) for each record of a .jsonl or .json file."""
    if path.suffix == ".json":
        data = load_json(path)
        if not isinstance(data, list):
            raise DataFormatError(f"{path}: expected a JSON array of records")
        for i, rec in enumerate(data):
            yield f"{path}: record {i}", rec
        return
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataFormatError(f"{path}: line {lineno}: invalid JSON ({exc.msg})") from exc
            yield f"{path}: line {lineno}", rec


def read_records(path: Path) -> list[CalibrationRecord]:
    records = [parse_record(rec, where) for where, rec in iter_raw(path)]
    if not records:
        raise DataFormatError(f"{path}: no records")
    return records


def sample_records(records: list[CalibrationRecord], n: int, seed: int) -> list[CalibrationRecord]:
    """``n`` records drawn without replacement by a seeded shuffle (all of them if fewer)."""
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    return [records[i] for i in order[: min(n, len(records))]]


def render(record: CalibrationRecord, tokenizer: Any, chat_kwargs: dict[str, Any], max_length: int) -> list[int]:
    """Token ids of one calibration record (templated for chat/instruction, raw for text)."""
    if record.kind == "text":
        ids = tokenizer(record.payload, add_special_tokens=False)["input_ids"]
    else:
        text = tokenizer.apply_chat_template(
            record.messages(), tokenize=False, add_generation_prompt=False, **chat_kwargs
        )
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return list(ids[:max_length])
