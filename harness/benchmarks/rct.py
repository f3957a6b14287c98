"""RCT summaries (Wallace et al. 2021) under the reference study's prompt: numbers and units faithful to
the source, no template leakage, no length collapse or repetition, ROUGE-L and BERTScore against the
review's target, judged hallucination."""

from __future__ import annotations

from pathlib import Path

from harness.benchmarks.base import Benchmark
from harness.data import rct
from harness.data.dataset import DatasetSpec
from harness.data.prompts import summarization
from harness.data.sources import RCT, GitHubFiles
from harness.measure.checks import summary_checks
from harness.measure.tasks import Item, TaskSpec

DATASET = DatasetSpec(
    "rct",
    GitHubFiles(*RCT, (("test-inputs.csv", "test-inputs.csv"), ("test-targets.csv", "test-targets.csv"))),
    ".",
    lambda p, skipped=None: rct.load(p, skipped=skipped),
    "RCT summarisation inputs/targets CSVs (test split)",
    layout="rct",
)


def _items(path: Path) -> list[Item]:
    items = []
    for r in rct.load(path):
        source = summarization.rct_source_block(r.review_id, r.articles)
        items.append(Item(r.review_id, summarization.rct_prompt(source), r.target, source))
    return items


BENCHMARK = Benchmark(
    "rct",
    "RCT summaries (study prompt)",
    datasets=(DATASET,),
    tasks=(
        TaskSpec(
            "rct",
            DATASET,
            "biomedical",
            "generate",
            _items,
            128,
            "RCT summaries (study prompt)",
            grounded=True,
            judge_instruction=summarization.RCT_INSTRUCTION,
        ),
    ),
    checks=summary_checks("rct", rouge=True, bertscore=True),
    instructions=(summarization.RCT_INSTRUCTION,),
)
