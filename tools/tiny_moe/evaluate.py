"""Quick utility/reliability profile of a (pruned) embedded model on the shipped synthetic sets.

Used to show that the embedded model is far above chance and that pruning has real, measurable
effects. The gate suites (issue 7) run the full checks; this is the fixture's own acceptance probe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch

from harness.benchmarks import get_task
from harness.generate.base import Backend, choose_many
from harness.generate.cached import CachedBackend
from harness.measure.tasks import load_items
from harness.metrics import factcheck
from harness.metrics import medhalt as medhalt_metrics
from tools.tiny_moe.tasks import knowledge_items
from tools.tiny_moe.world import WORLD_SEED, World, make_world

CHOICE_TASKS = ("medqa", "medmcqa", "pubmedqa", "mmlu_medical", "mmlu")


@dataclass
class Profile:
    bio_facts: float  # drug -> disease recall, log-likelihood over every disease of the world (chance 1/24)
    general_facts: float  # country -> capital recall over every capital (chance 1/32)
    choice: dict[str, float]  # accuracy on each of CHOICE_TASKS, asked as the gate asks (3-shot MMLU)
    medhalt: dict[str, float]
    rct_faithful: float  # summaries whose every number(+unit) appears in the source
    rct_dose_exact: float  # summaries stating the trial's dose with its exact unit
    news_faithful: float

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def choice_accuracy(backend: Backend, task: str, data: Path, limit: int | None = None) -> float:
    """Accuracy on a gate choice task (its official prompt and protocol, ``harness.measure.tasks``)."""
    items = load_items(get_task(task), data, limit)
    picks = choose_many(backend, [(it.prompt, it.choices) for it in items])
    return sum(p == it.answer for p, it in zip(picks, items)) / len(items)


def fact_recall(backend: Backend, world: World) -> tuple[float, float]:
    """Share of world facts whose true completion is the most likely among all candidates, per domain."""
    items = knowledge_items(world)
    hits = [
        p == it["answer"]
        for p, it in zip(choose_many(backend, [(it["context"], it["choices"]) for it in items]), items)
    ]

    def share(domain: str) -> float:
        return sum(h for h, it in zip(hits, items) if it["domain"] == domain) / sum(
            it["domain"] == domain for it in items
        )

    return share("biomedical"), share("general")


def _dose(source: str) -> str:
    found = re.search(r"received \S+ (\S+ \S+) or placebo", source)
    if found is None:
        raise ValueError(f"embedded RCT source without 'received <drug> <dose> or placebo': {source[:80]!r}")
    return found.group(1)


def _generate(
    backend: Backend, task: str, data: Path, limit: int | None, max_new_tokens: int
) -> tuple[list, list[str]]:
    """A gate generation task's items (its official prompt, ``harness.benchmarks``) and the model's raw answers."""
    items = load_items(get_task(task), data, limit)
    return items, backend.generate([it.prompt for it in items], max_new_tokens=max_new_tokens)


def _faithful(items: list, outputs: list[str]) -> float:
    return sum(factcheck.numbers_faithful(out, it.source) for out, it in zip(outputs, items)) / len(items)


def profile(backend: CachedBackend, data: Path, limit: int | None = None) -> Profile:
    bio_facts, general_facts = fact_recall(backend, make_world(WORLD_SEED))
    choice = {task: choice_accuracy(backend, task, data, limit) for task in CHOICE_TASKS}
    halt = {}
    for test in ("fct", "nota", "fake"):
        items, outputs = _generate(backend, f"medhalt_{test}", data, limit, 96)
        halt[test] = medhalt_metrics.score(test, outputs, [it.reference for it in items]).accuracy
    reviews, summaries = _generate(backend, "rct", data, limit, 96)
    dose_exact = sum(_dose(it.source) in s for it, s in zip(reviews, summaries)) / len(reviews)
    clusters, news = _generate(backend, "multi_news", data, limit, 64)
    return Profile(
        bio_facts, general_facts, choice, halt, _faithful(reviews, summaries), dose_exact, _faithful(clusters, news)
    )


def routing_histograms(model: torch.nn.Module, tokenizer, sources: dict[str, Path], samples: int = 128) -> dict:
    """Share of routed slots per expert, per layer and calibration domain (from one calibration pass)."""
    from harness.data.calibration import CalibrationSource
    from harness.models.adapters import adapter_for
    from harness.prune.calibrate import CalibrationSettings, build_calibration, collect_stats
    from harness.prune.methods import statistics_of

    settings = CalibrationSettings(n_samples=samples)
    batches = build_calibration([CalibrationSource(d, p) for d, p in sources.items()], tokenizer, {}, settings, seed=0)
    stats = collect_stats(
        model,
        adapter_for(model.config),
        batches,
        settings,
        0,
        tokenizer.pad_token_id,
        statistics_of(["frequency"]),
        False,
    )
    out: dict = {}
    for domain, layers in stats.layers.items():
        for layer, st in layers.items():
            freq = st.sums["freq"]
            out.setdefault(layer, {})[domain] = (freq / freq.sum()).tolist()
    return out


def total_variation(p: list[float], q: list[float]) -> float:
    return 0.5 * sum(abs(a - b) for a, b in zip(p, q))
