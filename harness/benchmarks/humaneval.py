"""HumanEval 0-shot through lm-eval's ``humaneval_instruct`` as the study ran it (its prompt, generation
prefix, stop strings and fence handling, chat template); the tests are executed
(``harness.metrics.code_exec``, only with HF_ALLOW_CODE_EVAL=1)."""

from __future__ import annotations

from pathlib import Path

from harness.benchmarks.base import Benchmark
from harness.data import humaneval
from harness.data.dataset import DatasetSpec
from harness.data.sources import hub
from harness.measure.checks import lm_eval_check
from harness.measure.tasks import Item, LmEvalTask, TaskSpec

DATASET = DatasetSpec(
    "humaneval",
    hub(humaneval.HUB_ID, (None,), (("test", "test.jsonl"),)),
    "test.jsonl",
    lambda p, skipped=None: humaneval.load(p, skipped),
    "HumanEval problems with unit tests (lm-eval humaneval_instruct, executed)",
    layout="general/humaneval_test.jsonl",
)


def _items(path: Path) -> list[Item]:
    return [Item(r.task_id, r.prompt, r.canonical_solution, rows_file=str(path)) for r in humaneval.load(path)]


TASK = TaskSpec(
    "humaneval",
    DATASET,
    "general",
    "lm_eval",
    _items,
    1024,
    "HumanEval 0-shot through lm-eval's humaneval_instruct (official YAML, chat template; tests executed, pass@1)",
    executes_code=True,
    lm_eval=LmEvalTask("humaneval_instruct", "pass@1", "create_test", 0, chat=True),
)
BENCHMARK = Benchmark.of(TASK, lm_eval_check("humaneval.pass_at_1", TASK.description))
