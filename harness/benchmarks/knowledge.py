"""Knowledge probes: cloze facts scored by log-likelihood over their choices, one task per domain. There is
no public source: the rows are the user's own (the embedded model ships its world's facts)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.benchmarks.base import Benchmark
from harness.data import mcq
from harness.data.dataset import DatasetSpec
from harness.data.sources import LocalOnly
from harness.measure.checks import choice_accuracy
from harness.measure.tasks import Domain, Item, TaskSpec

DATASET = DatasetSpec(
    "knowledge",
    LocalOnly("a JSONL of cloze facts (id, domain, context, choices, answer)"),
    "facts.jsonl",
    lambda p, skipped=None: mcq.load_cloze(p, skipped),
    "knowledge probes by log-likelihood (per domain)",
    layout="knowledge/facts.jsonl",
)


def _items(domain: Domain) -> Callable[[Path], list[Item]]:
    def load(path: Path) -> list[Item]:
        return [
            Item(c.id, c.context, choices=c.choices, answer=c.answer)
            for c in mcq.load_cloze(path)
            if c.domain == domain
        ]

    return load


DOMAINS: tuple[tuple[str, Domain], ...] = (("bio", "biomedical"), ("general", "general"))
TASKS = tuple(
    TaskSpec(f"knowledge_{short}", DATASET, domain, "choice", _items(domain), description=f"{domain} facts")
    for short, domain in DOMAINS
)
BENCHMARK = Benchmark(
    "knowledge",
    "per-domain knowledge probes (cloze, log-likelihood)",
    datasets=(DATASET,),
    tasks=TASKS,
    checks=tuple(choice_accuracy(t.name, t.description) for t in TASKS),
)
