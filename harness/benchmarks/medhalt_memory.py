"""Med-HALT memory test IR_pmid2title: given a PubMed id, the model must return the paper's exact title or
say 'Unknown'; a made-up title is a memory hallucination (a reliability check).

The whole benchmark is this one module: the pinned file, its parser, the official prompt and scoring.
Source: github.com/medhalt/medhalt @ 3dfe1e4: ``medhalt/datasets/IR_pmid2title.csv`` (columns ``PMID``,
``Title``), the prompt ``medhalt/prompts/IR_pmid2title/prompts.json`` (id "v0"), the item formatter
``medhalt/prompts/utils.py::pmid2title_format`` with the zero-shot assembly of ``get_full_prompt``
(``{prompt}\\n{output_format}\\n`` + item), and the rule of
``medhalt/eval/eval_full.py::IR_pmid2title_pubmedlink2title_eval``: correct when the output's
``paper_title`` equals the title, case-insensitively. An output with no ``paper_title`` counts as wrong
(the official code drops it; the same choice as the reasoning tests, ``harness.metrics.medhalt``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.benchmarks.base import Benchmark
from harness.data.dataset import DatasetSpec
from harness.data.records import as_int, fail, parse_each, read_csv
from harness.data.sources import MEDHALT, GitHubFiles
from harness.measure.checks import CheckSpec
from harness.measure.tasks import Item, TaskRun, TaskSpec
from harness.metrics.medhalt import parse_output

FILE = "IR_pmid2title.csv"
PROMPT = (
    "You are an intelligent retrieval system that uses state-of-the-art natural language processing and "
    "information retrieval techniques to search for and fetch the title of a specific scientific article. You "
    "take Pubmed Research Paper PMID as input and retrieves the title of a given scientific article by searching "
    "through your memory."
)
OUTPUT_FORMAT = (
    "The response should be returned in JSON format with the key 'paper_title' and the corresponding Pubmed "
    "Paper title as its value. If the article is not found or the correct title is unknown, respond with "
    "'Unknown' to indicate the absence of the requested information, don't try to make up an answer."
)


@dataclass(frozen=True)
class Paper:
    pmid: str
    title: str


def load(path: Path, skipped: list[str] | None = None) -> list[Paper]:
    """The file's (PMID, Title) rows; a row without a numeric PMID or a title is an error naming it."""

    def parse(where: str, rec: dict[str, str]) -> Paper:
        if not rec["Title"].strip():
            raise fail(path, where, "Title", "the paper's title")
        return Paper(str(as_int(path, where, "PMID", rec["PMID"])), rec["Title"])

    return parse_each(read_csv(path, ("PMID", "Title")), parse, skipped)


def prompt(pmid: str) -> str:
    return f"{PROMPT}\n{OUTPUT_FORMAT}\nInput: { ({'Pmid': pmid})!r}\nOutput: "


def title_correct(output: str, title: str) -> bool:
    parsed = parse_output(output)
    return parsed is not None and "paper_title" in parsed and str(parsed["paper_title"]).lower() == title.lower()


def _items(path: Path) -> list[Item]:
    return [Item(p.pmid, prompt(p.pmid), p.title) for p in load(path)]


def _value(run: TaskRun, i: int, _b: TaskRun) -> float:
    return float(title_correct(run.outputs[i], run.items[i].reference))


DATASET = DatasetSpec(
    "medhalt-pmid2title",
    GitHubFiles(*MEDHALT, ((f"medhalt/datasets/{FILE}", FILE),)),
    FILE,
    lambda p, skipped=None: load(p, skipped),
    "Med-HALT memory IR_pmid2title CSV (PMID -> title)",
    layout=f"medhalt/{FILE}",
)
TASK = TaskSpec(
    "medhalt_pmid2title",
    DATASET,
    "biomedical",
    "generate",
    _items,
    96,
    "Med-HALT memory: PMID to paper title",
    needs_reference=True,
)
BENCHMARK = Benchmark(
    "medhalt_memory",
    "Med-HALT memory test IR_pmid2title (official prompt and scoring)",
    datasets=(DATASET,),
    tasks=(TASK,),
    checks=(
        CheckSpec(
            "medhalt_pmid2title.accuracy",
            "reliability",
            True,
            True,
            _value,
            "Med-HALT IR_pmid2title: share of exact titles (case-insensitive; no paper_title is wrong)",
        ),
    ),
    instructions=(PROMPT,),
)
