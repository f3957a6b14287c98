"""GSM8K rows as the Hugging Face dataset ``openai/gsm8k`` (config ``main``) exposes them: question, answer
(worked solution ending in ``#### <number>``), read from local JSONL (``train`` for the 5 shots, ``test``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data.records import fail, parse_each, read_jsonl

HUB_ID = "openai/gsm8k"


@dataclass(frozen=True)
class GSM8KItem:
    question: str
    answer: str


def load(path: Path, skipped: list[str] | None = None) -> list[GSM8KItem]:
    def parse(line: str, rec: Any) -> GSM8KItem:
        if not isinstance(rec, dict):
            raise fail(path, line, "(record)", "a JSON object", rec)
        for key in ("question", "answer"):
            if not isinstance(rec.get(key), str):
                raise fail(path, line, key, "a string", rec.get(key))
        if "####" not in rec["answer"]:
            raise fail(path, line, "answer", "a solution ending in '#### <number>'", rec["answer"][-60:])
        return GSM8KItem(rec["question"], rec["answer"])

    return parse_each(read_jsonl(path), parse, skipped)
