"""PubMedQA (labelled set, test PMIDs) by log-likelihood over yes / no / maybe, as lm-eval's ``pubmedqa``."""

from __future__ import annotations

from pathlib import Path

from harness.benchmarks.base import Benchmark
from harness.data import pubmedqa
from harness.data.dataset import DatasetSpec
from harness.data.prompts import multiple_choice
from harness.data.sources import PUBMEDQA, GitHubFiles
from harness.measure.checks import choice_accuracy
from harness.measure.tasks import Item, TaskSpec

DATASET = DatasetSpec(
    "pubmedqa",
    GitHubFiles(
        *PUBMEDQA,
        (("data/ori_pqal.json", "ori_pqal.json"), ("data/test_ground_truth.json", "test_ground_truth.json")),
    ),
    ".",
    lambda p, skipped=None: pubmedqa.load(p, skipped=skipped),
    f"PubMedQA labelled set, test PMIDs (hub copy: {pubmedqa.HUB_ID}/{pubmedqa.HUB_CONFIG})",
    layout="pubmedqa",
)
LABELS = ("yes", "no", "maybe")


def _items(path: Path) -> list[Item]:
    return [
        Item(
            r.pmid, multiple_choice.pubmedqa_text(r.contexts, r.question), choices=LABELS, answer=LABELS.index(r.label)
        )
        for r in pubmedqa.load(path)
    ]


TASK = TaskSpec("pubmedqa", DATASET, "biomedical", "choice", _items, description="PubMedQA (lm-eval template)")
BENCHMARK = Benchmark.of(TASK, choice_accuracy("pubmedqa", TASK.description))
