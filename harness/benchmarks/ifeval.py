"""IFEval 0-shot through lm-eval's own task and checkers (chat template, prompt-level strict accuracy)."""

from __future__ import annotations

from pathlib import Path

from harness.benchmarks.base import Benchmark
from harness.data import ifeval
from harness.data.dataset import DatasetSpec
from harness.data.sources import hub
from harness.measure.checks import lm_eval_check
from harness.measure.tasks import Item, LmEvalTask, TaskSpec

DATASET = DatasetSpec(
    "ifeval",
    hub(ifeval.HUB_ID, (None,), (("train", "test.jsonl"),)),
    "test.jsonl",  # the hub's only split is "train"
    lambda p, skipped=None: ifeval.load(p, skipped),
    "IFEval prompts with verifiable instructions (lm-eval ifeval)",
    layout="general/ifeval_test.jsonl",
)


def _items(path: Path) -> list[Item]:
    return [
        Item(str(r.key), r.prompt, "instructions: " + ", ".join(r.instruction_id_list), rows_file=str(path))
        for r in ifeval.load(path)
    ]


TASK = TaskSpec(
    "ifeval",
    DATASET,
    "general",
    "lm_eval",
    _items,
    128,
    "IFEval 0-shot through lm-eval (official YAML and checkers, chat template, prompt-level strict accuracy)",
    lm_eval=LmEvalTask("ifeval", "prompt_level_strict_acc", "none", 0, chat=True),
)
BENCHMARK = Benchmark.of(TASK, lm_eval_check("ifeval.prompt_strict", TASK.description))
