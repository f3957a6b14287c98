"""MedMCQA (validation split) by log-likelihood over the letters, as lm-eval's ``medmcqa`` renders it."""

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
    "medmcqa",
    hub("openlifescienceai/medmcqa", (None,), (("validation", "validation.jsonl"),)),
    "validation.jsonl",
    lambda p, skipped=None: mcq.load_medmcqa(p, skipped),
    "MedMCQA rows (lm-eval medmcqa, validation split)",
    layout="multimedqa/medmcqa_validation.jsonl",
)


def _items(path: Path) -> list[Item]:
    return [
        Item(
            str(i),
            multiple_choice.medmcqa_text(r.question, r.choices),
            choices=multiple_choice.LETTERS,
            answer=r.answer,
        )
        for i, r in enumerate(mcq.load_medmcqa(path))
    ]


TASK = TaskSpec("medmcqa", DATASET, "biomedical", "choice", _items, description="MedMCQA (lm-eval template)")
BENCHMARK = Benchmark.of(TASK, choice_accuracy("medmcqa", TASK.description))
