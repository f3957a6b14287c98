"""GSM8K 5-shot through lm-eval's own task (official YAML, flexible-extract exact match), run through the
gate's backend and cache."""

from __future__ import annotations

from pathlib import Path

from harness.benchmarks.base import Benchmark
from harness.data import gsm8k
from harness.data.dataset import DatasetSpec
from harness.data.sources import hub
from harness.measure.checks import lm_eval_check
from harness.measure.tasks import Item, LmEvalTask, TaskSpec

DATASET = DatasetSpec(
    "gsm8k",
    hub(gsm8k.HUB_ID, ("main",), (("test", "test.jsonl"), ("train", "train.jsonl"))),
    "test.jsonl",
    lambda p, skipped=None: gsm8k.load(p, skipped),
    "GSM8K test rows (train.jsonl beside it gives the 5 shots)",
    layout="general/gsm8k_test.jsonl",
)


def _items(path: Path) -> list[Item]:
    return [Item(str(i), r.question, r.answer, rows_file=str(path)) for i, r in enumerate(gsm8k.load(path))]


TASK = TaskSpec(
    "gsm8k",
    DATASET,
    "general",
    "lm_eval",
    _items,
    256,
    "GSM8K 5-shot through lm-eval (official YAML, flexible-extract exact match)",
    lm_eval=LmEvalTask("gsm8k", "exact_match", "flexible-extract", 5, chat=False),
)
BENCHMARK = Benchmark.of(TASK, lm_eval_check("gsm8k.exact_match", TASK.description))
