"""Outputs generated elsewhere, gated like the gate's own: a JSONL of (task, item, baseline output,
variant output) rows that any serving stack can write, read back into the pairs of ``TaskRun``s the
checks compare. The gate writes the same file (``--save-outputs``) from what it answered.

One row per (variant, task, item):
  task              a gate task whose checks read text: summaries (rct, multi_news, multi_xscience),
                    Med-HALT (medhalt_fct / _nota / _fake), medinst, letter choice (medqa, ...)
  item_id           the item's id (the same item must carry the same baseline output in every row)
  variant           the variant's name (its id in reports)
  baseline_output   the unpruned model's answer; variant_output: the variant's
  source            the document a summary must stay faithful to (summary tasks)
  prompt            the prompt (optional; shown with the worst items)
  reference         gold text (ROUGE-L), the correct answer (Med-HALT), the correct choice (letter choice)
  choices           letter choice: the options; both outputs and the reference are one of them
  model, parameters optional: the model's registry name (per-model tolerances) and the variant's
                    parameters shown in reports (method, ratio, ...)
Tasks scored by lm-eval itself (gsm8k, ifeval, humaneval) need the model: their rows are refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write_text
from harness.benchmarks import tasks
from harness.data.records import DataFormatError
from harness.measure.tasks import Item, TaskRun, TaskSpec


@dataclass(frozen=True)
class ExternalVariant:
    """A variant known only by its outputs: what reports and tolerances need of a ``VariantSpec``."""

    id: str
    model: str
    params: tuple[tuple[str, str], ...] = ()

    @property
    def model_name(self) -> str:
        return self.model

    def parameters(self) -> dict[str, str]:
        return {"model": self.model, **dict(self.params)}

    @property
    def ratio(self) -> float | None:
        try:
            return float(dict(self.params)["ratio"])
        except (KeyError, ValueError):
            return None

    @property
    def method(self) -> str | None:
        return dict(self.params).get("method")


@dataclass
class OutputsFile:
    path: Path
    variants: list[ExternalVariant] = field(default_factory=list)
    runs: dict[tuple[str, str], tuple[TaskRun, TaskRun]] = field(default_factory=dict)  # (variant, task) -> pair
    skipped: list[str] = field(default_factory=list)  # --lenient: "file:line: reason"

    @property
    def tasks(self) -> set[str]:
        return {task for _, task in self.runs}

    def pair(self, variant: str, task: str) -> tuple[TaskRun, TaskRun] | None:
        return self.runs.get((variant, task))


def _field(where: str, row: dict, name: str, required: bool = True) -> Any:
    value = row.get(name)
    if value is None:
        if required:
            raise DataFormatError(f"{where}: field {name!r}: missing")
        return None
    return value


def _text(where: str, row: dict, name: str, required: bool = True) -> str:
    value = _field(where, row, name, required)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DataFormatError(f"{where}: field {name!r}: expected a string, got {type(value).__name__}")
    return value


def _task(where: str, row: dict) -> TaskSpec:
    name = _text(where, row, "task")
    known = tasks()
    task = known.get(name)
    if task is None:
        raise DataFormatError(f"{where}: field 'task': unknown task {name!r}; known: {', '.join(known)}")
    if task.request == "lm_eval":
        raise DataFormatError(
            f"{where}: field 'task': {name} is scored by lm-eval on the model's own requests; "
            "gate it with the model (pytest suites --model ...), not from outputs"
        )
    return task


def _parse(where: str, row: Any) -> tuple[ExternalVariant, TaskSpec, Item, Any, Any]:
    if not isinstance(row, dict):
        raise DataFormatError(f"{where}: expected a JSON object, got {type(row).__name__}")
    task = _task(where, row)
    variant_name = _text(where, row, "variant")
    item_id = row.get("item_id")
    if not isinstance(item_id, (str, int)) or isinstance(item_id, bool):
        raise DataFormatError(f"{where}: field 'item_id': expected a string, got {item_id!r}")
    base, out = _text(where, row, "baseline_output"), _text(where, row, "variant_output")
    source = _text(where, row, "source", required=task.grounded)
    reference = _text(where, row, "reference", required=task.needs_reference or task.request == "choice")
    prompt = _text(where, row, "prompt", required=False)
    choices: tuple[str, ...] = ()
    answer: int = -1
    if task.request == "choice":
        raw = _field(where, row, "choices")
        if not isinstance(raw, list) or len(raw) < 2 or not all(isinstance(c, str) for c in raw):
            raise DataFormatError(f"{where}: field 'choices': expected a list of at least 2 strings")
        choices = tuple(raw)
        for name, value in (("reference", reference), ("baseline_output", base), ("variant_output", out)):
            if value not in choices:
                raise DataFormatError(f"{where}: field {name!r}: {value!r} is not one of the choices {list(choices)}")
        answer = choices.index(reference)
        base, out = choices.index(base), choices.index(out)  # type: ignore[assignment]
    params = row.get("parameters") or {}
    if not isinstance(params, dict):
        raise DataFormatError(f"{where}: field 'parameters': expected an object")
    model = _text(where, row, "model", required=False) or str(params.get("model") or "external")
    variant = ExternalVariant(variant_name, model, tuple((str(k), str(v)) for k, v in params.items() if k != "model"))
    return variant, task, Item(str(item_id), prompt, reference, source, choices, answer), base, out


def read_outputs(path: Path, lenient: bool = False) -> OutputsFile:
    """Rows of ``path`` into baseline/variant run pairs. Strict by default: the first malformed row is an
    error naming the file, line and field; ``lenient`` skips such rows and counts them in ``skipped``."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found (a JSONL of gate outputs)")
    result = OutputsFile(path)
    rows: dict[tuple[str, str], list[tuple[Item, Any, Any]]] = {}
    variants: dict[str, ExternalVariant] = {}
    seen: dict[tuple[str, str, str], str] = {}
    baselines: dict[tuple[str, str], tuple[Any, str]] = {}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataFormatError(f"{where}: invalid JSON ({exc.msg})") from None
                variant, task, item, base, out = _parse(where, raw)
                if variants.get(variant.id, variant) != variant:
                    raise DataFormatError(
                        f"{where}: variant {variant.id!r}: model/parameters differ from its first row"
                    )
                key = (variant.id, task.name, item.id)
                if key in seen:
                    raise DataFormatError(
                        f"{where}: item {item.id!r} of {task.name} for {variant.id!r} repeats {seen[key]}"
                    )
                first = baselines.setdefault((task.name, item.id), (base, where))
                if first[0] != base:
                    raise DataFormatError(
                        f"{where}: field 'baseline_output': item {item.id!r} of {task.name} has "
                        f"another baseline output at {first[1]}"
                    )
            except DataFormatError as exc:
                if not lenient:
                    raise
                result.skipped.append(str(exc))
                continue
            seen[key] = where
            variants.setdefault(variant.id, variant)
            rows.setdefault((variant.id, task.name), []).append((item, base, out))
    if not rows:
        raise DataFormatError(
            f"{path}: no usable rows" + (f" ({len(result.skipped)} skipped)" if result.skipped else "")
        )
    result.variants = list(variants.values())
    for (vid, task_name), entries in rows.items():
        task = tasks()[task_name]
        items = [e[0] for e in entries]
        result.runs[(vid, task_name)] = (
            TaskRun(task, items, [e[1] for e in entries]),
            TaskRun(task, items, [e[2] for e in entries]),
        )
    return result


def output_rows(variant: Any, baseline: TaskRun, run: TaskRun) -> list[dict]:
    """The rows of one (variant, task) pair, as ``read_outputs`` reads them (lm-eval tasks: none)."""
    if run.task.request == "lm_eval":
        return []
    rows = []
    for item, base, out in zip(run.items, baseline.outputs, run.outputs):
        choices = item.choices if run.task.request == "choice" else None

        def shown(o: Any, choices: Sequence[str] | None = choices) -> Any:
            return choices[o] if choices is not None else o

        row = {
            "task": run.task.name,
            "item_id": item.id,
            "variant": variant.id,
            "model": variant.model_name,
            "parameters": variant.parameters(),
            "prompt": item.prompt,
            "baseline_output": shown(base),
            "variant_output": shown(out),
        }
        if item.source:
            row["source"] = item.source
        if run.task.request == "choice":
            row |= {"choices": list(item.choices), "reference": item.choices[item.answer]}
        elif item.reference:
            row["reference"] = item.reference
        rows.append(row)
    return rows


def write_outputs(path: Path, rows: Iterable[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
