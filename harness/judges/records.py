"""Judge records: one summary pair judged by several LLM judges, as the gate writes them and as the
reference study released them (gucci-j/moe-pruning-reliability, ``evaluation/manual_eval/data/``).

One layout serves both. A JSON list or JSONL of objects with ``document_id``, ``dataset``,
``pruning_ratio`` and either
  relative: ``judge_model_answers: {judge: {resolved_answers: {q1_hallucinations_more: pruned|vanilla, ...}}}``
  absolute: ``source_model_absolute_judgement`` / ``pruned_model_absolute_judgement``:
            ``{judge: {score: float}}`` (DeepEval hallucination, higher = more hallucinated)
The gate also writes ``order: baseline_first|pruned_first`` (it asks both orders; the study asked one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness.data.records import DataFormatError

Kind = Literal["relative", "absolute"]
ABSOLUTE_SIDES = {"source": "source_model_absolute_judgement", "pruned": "pruned_model_absolute_judgement"}
HALLUCINATED_ABOVE = 0.5  # an absolute score above this is the label "hallucinated"


@dataclass(frozen=True)
class JudgeRecord:
    kind: Kind
    dataset: str
    document_id: str
    ratio: float | None
    labels: dict[str, dict[str, str]]  # unit ("q1_hallucinations_more", "source") -> judge -> label
    where: str  # "file:line" for messages


def _ratio(where: str, raw: object) -> float | None:
    if raw is None:
        return None  # outputs gated from elsewhere may name no ratio: counted in no window
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataFormatError(f"{where}: field 'pruning_ratio': expected a number in (0, 1), got {raw!r}") from None
    if not 0 < value < 1:
        raise DataFormatError(f"{where}: field 'pruning_ratio': expected a number in (0, 1), got {raw!r}")
    return value


def _parse(where: str, row: object) -> JudgeRecord:
    if not isinstance(row, dict):
        raise DataFormatError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for key in ("document_id", "dataset"):
        if not isinstance(row.get(key), str):
            raise DataFormatError(f"{where}: field {key!r}: expected a string, got {row.get(key)!r}")
    ratio = _ratio(where, row.get("pruning_ratio"))
    labels: dict[str, dict[str, str]] = {}
    if "judge_model_answers" in row:
        answers = row["judge_model_answers"]
        if not isinstance(answers, dict) or not answers:
            raise DataFormatError(
                f"{where}: field 'judge_model_answers': expected {{judge: {{resolved_answers: ...}}}}"
            )
        for judge, entry in answers.items():
            resolved = entry.get("resolved_answers") if isinstance(entry, dict) else None
            if not isinstance(resolved, dict):
                raise DataFormatError(f"{where}: judge {judge!r}: field 'resolved_answers' missing")
            for question, label in resolved.items():
                labels.setdefault(question, {})[judge] = str(label)
        order = row.get("order")
        suffix = f"@{order}" if isinstance(order, str) else ""
        return JudgeRecord("relative", row["dataset"], row["document_id"] + suffix, ratio, labels, where)
    if all(k in row for k in ABSOLUTE_SIDES.values()):
        for side, key in ABSOLUTE_SIDES.items():
            if not isinstance(row[key], dict):
                raise DataFormatError(f"{where}: field {key!r}: expected {{judge: {{score: ...}}}}")
            for judge, entry in row[key].items():
                score = entry.get("score") if isinstance(entry, dict) else None
                if score is None:
                    labels.setdefault(side, {})  # the judge gave no usable answer: no label from it
                    continue
                if not isinstance(score, (int, float)):
                    raise DataFormatError(
                        f"{where}: field {key!r}: judge {judge!r}: expected a numeric 'score' or null, got {score!r}"
                    )
                labels.setdefault(side, {})[judge] = "hallucinated" if score > HALLUCINATED_ABOVE else "supported"
        return JudgeRecord("absolute", row["dataset"], row["document_id"], ratio, labels, where)
    raise DataFormatError(
        f"{where}: neither 'judge_model_answers' (relative) nor "
        f"{' and '.join(map(repr, ABSOLUTE_SIDES.values()))} (absolute)"
    )


def load_records(path: Path) -> list[JudgeRecord]:
    """Records of a JSON list or a JSONL file; errors name the file and the line or list index."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path}: cannot read ({exc})") from exc
    if text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from exc
        return [_parse(f"{path}: record {i + 1}", row) for i, row in enumerate(rows)]
    records = []
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataFormatError(f"{path}:{n}: invalid JSON ({exc.msg})") from exc
            records.append(_parse(f"{path}:{n}", row))
    return records


def write_records(path: Path, rows: list[dict]) -> None:
    """JSONL, written whole or not at all."""
    from harness.atomic import atomic_write_text

    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
