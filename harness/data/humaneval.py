"""HumanEval rows as the Hugging Face dataset ``openai/openai_humaneval`` exposes them (split ``test``,
164 rows): ``task_id``, ``prompt`` (signature + docstring), ``canonical_solution``, ``test`` (defines
``check(candidate)``) and ``entry_point``. Scored by lm-eval's ``humaneval_instruct`` task with
moegate's execution metric (``harness.metrics.code_exec``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data.records import fail, parse_each, read_jsonl

HUB_ID = "openai/openai_humaneval"


@dataclass(frozen=True)
class HumanEvalItem:
    task_id: str
    prompt: str
    canonical_solution: str
    test: str
    entry_point: str


def load(path: Path, skipped: list[str] | None = None) -> list[HumanEvalItem]:
    def parse(line: str, rec: Any) -> HumanEvalItem:
        if not isinstance(rec, dict):
            raise fail(path, line, "(record)", "a JSON object", rec)
        for key in ("task_id", "prompt", "canonical_solution", "test", "entry_point"):
            if not isinstance(rec.get(key), str) or not rec[key].strip():
                raise fail(path, line, key, "a non-empty string", rec.get(key))
        if f"def {rec['entry_point']}(" not in rec["prompt"]:
            raise fail(
                path,
                line,
                "prompt",
                f"a prompt defining the entry point `def {rec['entry_point']}(`",
                rec["prompt"][:80],
            )
        if "def check(" not in rec["test"]:
            raise fail(path, line, "test", "test code defining `def check(candidate)`", rec["test"][:80])
        return HumanEvalItem(rec["task_id"], rec["prompt"], rec["canonical_solution"], rec["test"], rec["entry_point"])

    return parse_each(read_jsonl(path), parse, skipped)
