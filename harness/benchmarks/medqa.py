"""MedQA (USMLE, 4 options) by log-likelihood over the letters, as lm-eval's ``medqa_4options`` renders it."""

from __future__ import annotations

from pathlib import Path

from harness.benchmarks.base import Benchmark
from harness.data import mcq
from harness.data.dataset import DatasetSpec
from harness.data.prompts import multiple_choice
from harness.data.sources import hub
from harness.measure.checks import choice_accuracy
from harness.measure.tasks import Item, TaskSpec

DATASET = DatasetSpec(
    "medqa",
    hub("GBaker/MedQA-USMLE-4-options-hf", (None,), (("test", "test.jsonl"),)),
    "test.jsonl",
    lambda p, skipped=None: mcq.load_medqa(p, skipped),
    "MedQA 4-option rows (lm-eval medqa_4options)",
    layout="multimedqa/medqa_4options_test.jsonl",
)


def _items(path: Path) -> list[Item]:
    return [
        Item(
            str(i), multiple_choice.medqa_text(r.question, r.choices), choices=multiple_choice.LETTERS, answer=r.answer
        )
        for i, r in enumerate(mcq.load_medqa(path))
    ]


TASK = TaskSpec("medqa", DATASET, "biomedical", "choice", _items, description="MedQA 4 options (lm-eval template)")
BENCHMARK = Benchmark.of(TASK, choice_accuracy("medqa", TASK.description))
