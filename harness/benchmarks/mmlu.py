"""MMLU 3-shot by log-likelihood over the letters, as lm-eval's ``mmlu_<subject>`` renders it: MultiMedQA's
six medical subjects (a biomedical check) and every other subject (general)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.benchmarks.base import Benchmark
from harness.data import mcq
from harness.data.dataset import DatasetSpec
from harness.data.prompts import multiple_choice
from harness.data.sources import hub
from harness.measure.checks import choice_accuracy
from harness.measure.tasks import Item, TaskSpec

DATASET = DatasetSpec(
    "mmlu",
    hub("cais/mmlu", ("all",), (("test", "test.jsonl"), ("dev", "dev.jsonl"))),
    "test.jsonl",
    lambda p, skipped=None: mcq.load_mmlu(p, skipped),
    "MMLU rows (dev.jsonl beside it gives the 3 shots)",
    layout="general/mmlu_test.jsonl",
)
SHOTS = 3


def _items(medical: bool) -> Callable[[Path], list[Item]]:
    """MMLU rows of MultiMedQA's six medical subjects (``medical``) or of every other subject, 3-shot:
    the first three rows of the subject's ``dev`` split (``dev.jsonl`` beside ``test.jsonl``), as
    lm-eval's ``first_n`` sampler takes them."""

    def load(path: Path) -> list[Item]:
        dev_path = path.with_name(path.name.replace("test", "dev"))
        if not dev_path.is_file():
            raise FileNotFoundError(f"MMLU {SHOTS}-shot needs the dev split beside {path}: {dev_path} not found")
        shots: dict[str, list[tuple[str, tuple[str, ...], int]]] = {}
        for r in mcq.load_mmlu(dev_path):
            shots.setdefault(r.subject, []).append((r.question, r.choices, r.answer))
        items = []
        for i, r in enumerate(mcq.load_mmlu(path)):
            if r.medical != medical:
                continue
            if len(shots.get(r.subject, ())) < SHOTS:
                raise ValueError(
                    f"{path}: row {i + 1}: subject {r.subject!r} has {len(shots.get(r.subject, ()))} "
                    f"rows in {dev_path}; {SHOTS}-shot needs {SHOTS}"
                )
            items.append(
                Item(
                    str(i),
                    multiple_choice.mmlu_prompt(r.subject, r.question, r.choices, shots[r.subject][:SHOTS]),
                    choices=multiple_choice.LETTERS,
                    answer=r.answer,
                )
            )
        return items

    return load


TASKS = (
    TaskSpec(
        "mmlu_medical",
        DATASET,
        "biomedical",
        "choice",
        _items(True),
        description="MMLU's six MultiMedQA medical subjects (lm-eval template, 3-shot)",
    ),
    TaskSpec(
        "mmlu",
        DATASET,
        "general",
        "choice",
        _items(False),
        description="MMLU without the medical subjects (lm-eval template, 3-shot)",
    ),
)
BENCHMARK = Benchmark(
    "mmlu",
    "MMLU 3-shot, medical subjects and the rest",
    datasets=(DATASET,),
    tasks=TASKS,
    checks=tuple(choice_accuracy(t.name, t.description) for t in TASKS),
)
