"""Multi-News+ summaries under the reference study's prompt: general-domain reliability (numbers,
leakage, collapse, repetition) and judged hallucination."""

from __future__ import annotations

from pathlib import Path

from harness.benchmarks.base import Benchmark
from harness.data import multi_news
from harness.data.dataset import DatasetSpec
from harness.data.prompts import summarization
from harness.data.sources import MULTI_NEWS_PLUS, GitHubFiles
from harness.measure.checks import summary_checks
from harness.measure.tasks import Item, TaskSpec

DATASET = DatasetSpec(
    "multi-news-plus",
    GitHubFiles(*MULTI_NEWS_PLUS, folder=("cleansing/cleansed_data", "cleansed_data*.json", "cleansed_data")),
    "cleansed_data",
    lambda p, skipped=None: multi_news.load(p, skipped=skipped).clusters,
    "Multi-News+ cleansed JSON chunks (test split)",
    layout="multi_news_plus/cleansed_data",
)


def _items(path: Path) -> list[Item]:
    return [
        Item(str(c.idx), summarization.news_prompt(c.documents), c.summary, "\n\n".join(c.documents))
        for c in multi_news.load(path).clusters
    ]


BENCHMARK = Benchmark(
    "multi_news",
    "Multi-News+ summaries (study prompt)",
    datasets=(DATASET,),
    tasks=(
        TaskSpec(
            "multi_news",
            DATASET,
            "general",
            "generate",
            _items,
            128,
            "Multi-News+ summaries (study prompt)",
            max_model_len=8192,
            grounded=True,
            judge_instruction=summarization.NEWS_INSTRUCTION,
        ),
    ),
    checks=summary_checks("multi_news", rouge=False, bertscore=False),
    instructions=(summarization.NEWS_INSTRUCTION,),
)
