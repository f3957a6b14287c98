"""MedINST32 generation tasks (ROUGE-L against the record's output), and the study's calibration pool."""

from __future__ import annotations

from pathlib import Path

from harness.benchmarks.base import Benchmark
from harness.data import medinst
from harness.data.dataset import DatasetSpec
from harness.data.prompts.instruction import instruction_prompt
from harness.data.sources import hub
from harness.measure.checks import rouge_check
from harness.measure.tasks import Item, TaskSpec

DATASET = DatasetSpec(
    "medinst",
    hub(medinst.HUB_ID, medinst.GENERATION_TASKS, (("test", "medinst.jsonl"),)),
    "medinst.jsonl",
    lambda p, skipped=None: medinst.load(p, skipped=skipped),
    "MedINST32 instruction records (generation tasks, test; one config per task, rows tagged with it)",
    layout="medinst/medinst_test.jsonl",
)
CALIBRATION = DatasetSpec(
    "medinst-calibration",
    hub(medinst.HUB_ID, (medinst.CALIBRATION_CONFIG,), (("train", f"{medinst.CALIBRATION_CONFIG}.jsonl"),)),
    f"{medinst.CALIBRATION_CONFIG}.jsonl",
    lambda p, skipped=None: medinst.load(p, skipped=skipped),
    "MedINST32 calibration pool (train); the study samples 128, seeded",
)


def _items(path: Path) -> list[Item]:
    return [
        Item(f"{r.task or 'medinst'}-{i}", instruction_prompt(r.instruction, r.input), r.output, r.input)
        for i, r in enumerate(medinst.load(path))
    ]


BENCHMARK = Benchmark(
    "medinst",
    "MedINST generation tasks",
    datasets=(DATASET, CALIBRATION),
    tasks=(
        TaskSpec(
            "medinst", DATASET, "biomedical", "generate", _items, 128, "MedINST generation tasks", needs_reference=True
        ),
    ),
    checks=(rouge_check("medinst", "MedINST generation: ROUGE-L F against the output"),),
)
