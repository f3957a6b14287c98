"""Multi-XScience related-work generation in the study's MedINST32 rendering (abstract + references under
its instruction): numbers faithful to the abstracts, no template leakage, no collapse or repetition,
ROUGE-L against the related-work section, judged hallucination."""

from __future__ import annotations

from pathlib import Path

from harness.benchmarks.base import Benchmark
from harness.data import multi_xscience
from harness.data.dataset import DatasetSpec
from harness.data.prompts.instruction import instruction_prompt
from harness.data.sources import MULTI_XSCIENCE, GitHubFiles
from harness.measure.checks import summary_checks
from harness.measure.tasks import Item, TaskSpec

DATASET = DatasetSpec(
    "multi-xscience",
    GitHubFiles(*MULTI_XSCIENCE, (("data/test.json.gz", "test.json.gz"),)),
    "test.json.gz",
    lambda p, skipped=None: multi_xscience.load(p, skipped),
    "Multi-XScience raw JSON (gz)",
    layout="multi_xscience/test.json.gz",
)


def _items(path: Path) -> list[Item]:
    return [
        Item(
            r.aid,
            instruction_prompt(multi_xscience.INSTRUCTION, r.to_medinst_input()),
            r.related_work,
            r.to_medinst_input(),
        )
        for r in multi_xscience.load(path)
    ]


BENCHMARK = Benchmark(
    "multi_xscience",
    "Multi-XScience related work (MedINST32 rendering, study instruction)",
    datasets=(DATASET,),
    tasks=(
        TaskSpec(
            "multi_xscience",
            DATASET,
            "biomedical",
            "generate",
            _items,
            128,
            "Multi-XScience related work (MedINST32 rendering, study instruction)",
            grounded=True,
            judge_instruction=multi_xscience.INSTRUCTION,
        ),
    ),
    checks=summary_checks("multi_xscience", rouge=True, bertscore=False),
)
