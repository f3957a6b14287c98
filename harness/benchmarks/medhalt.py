"""Med-HALT reasoning tests (FCT, NOTA, Fake): the official prompts and parsing, accuracy vs the baseline.

Source: github.com/medhalt/medhalt (pinned in ``harness.data.sources``); prompts in
``harness.data.prompts.medhalt``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.benchmarks.base import Benchmark
from harness.data import medhalt
from harness.data.dataset import DatasetSpec
from harness.data.prompts import medhalt as prompts
from harness.data.sources import MEDHALT, GitHubFiles
from harness.measure.checks import medhalt_accuracy
from harness.measure.tasks import Item, TaskSpec

TESTS = ("fct", "nota", "fake")


def _dataset(test: str) -> DatasetSpec:
    f = medhalt.FILES[test]
    return DatasetSpec(
        f"medhalt-{test}",
        GitHubFiles(*MEDHALT, ((f"medhalt/datasets/{f}", f),)),
        f,
        lambda p, skipped=None, t=test: medhalt.load(t, p, skipped),
        f"Med-HALT reasoning {test.upper()} CSV (hub copy: {medhalt.HUB_ID})",
        layout=f"medhalt/{f}",
    )


def _items(test: str) -> Callable[[Path], list[Item]]:
    def load(path: Path) -> list[Item]:
        return [
            Item(r.id, prompts.build_prompt(test, r.question, r.options), r.correct_answer)
            for r in medhalt.load(test, path)
        ]

    return load


DESCRIPTIONS = {"fct": "false confidence test", "nota": "none of the above", "fake": "fake questions"}
DATASETS = {t: _dataset(t) for t in TESTS}

BENCHMARK = Benchmark(
    "medhalt",
    "Med-HALT reasoning FCT / NOTA / Fake (official prompts and parsing)",
    datasets=tuple(DATASETS.values()),
    tasks=tuple(
        TaskSpec(
            f"medhalt_{t}",
            DATASETS[t],
            "biomedical",
            "generate",
            _items(t),
            96,
            f"Med-HALT {DESCRIPTIONS[t]}",
            needs_reference=True,
        )
        for t in TESTS
    ),
    checks=tuple(medhalt_accuracy(t) for t in TESTS),
    instructions=tuple(prompt for prompt, _ in prompts.TASKS.values()),
)
