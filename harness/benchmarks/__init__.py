"""Registry of benchmarks: every module of this package that defines a :class:`Benchmark` is one (as
lm-eval finds its tasks by scanning a folder). Adding a benchmark is adding one module here (plus,
optionally, a tolerance line in ``harness/gate/thresholds.yaml``); the gate suites are parametrized from
this registry. ``register_benchmark`` adds one from elsewhere (a test, a plugin)."""

from __future__ import annotations

from functools import cache
from typing import TypeVar

from harness.benchmarks.base import Benchmark
from harness.data.dataset import DatasetSpec
from harness.discovery import unit_modules
from harness.measure.checks import CheckSpec, use_instructions
from harness.measure.tasks import TaskSpec

_EXTRA: dict[str, Benchmark] = {}
T = TypeVar("T")


@cache
def _discovered() -> dict[str, Benchmark]:
    found: dict[str, Benchmark] = {}
    for module in unit_modules(__name__, __path__):
        for value in vars(module).values():
            if isinstance(value, Benchmark):
                found[value.name] = value
    return found


def benchmarks() -> dict[str, Benchmark]:
    return {**_discovered(), **_EXTRA}


def tasks() -> dict[str, TaskSpec]:
    return {t.name: t for b in benchmarks().values() for t in b.tasks}


def checks() -> dict[str, CheckSpec]:
    return {c.name: c for b in benchmarks().values() for c in b.checks}


def datasets() -> dict[str, DatasetSpec]:
    return {d.name: d for b in benchmarks().values() for d in b.datasets}


def instructions() -> tuple[str, ...]:
    """Every benchmark's prompt instructions: an answer that echoes any of them leaks the template."""
    return tuple(text for b in benchmarks().values() for text in b.instructions)


use_instructions(instructions)


def _get(kind: str, known: dict[str, T], name: str) -> T:
    if name not in known:
        raise ValueError(f"unknown {kind} {name!r}; known: {', '.join(known)}")
    return known[name]


def get_task(name: str) -> TaskSpec:
    return _get("task", tasks(), name)


def get_check(name: str) -> CheckSpec:
    return _get("check", checks(), name)


def get_dataset(name: str) -> DatasetSpec:
    return _get("dataset", datasets(), name)


def benchmark_of(check: str) -> Benchmark:
    """The benchmark that declares ``check``."""
    for bench in benchmarks().values():
        if any(c.name == check for c in bench.checks):
            return bench
    raise ValueError(f"unknown check {check!r}; known: {', '.join(checks())}")


def register_benchmark(bench: Benchmark) -> None:
    """Add a benchmark defined outside this package; refused when it reuses a benchmark, task, check or
    dataset name (every name selects exactly one thing)."""
    clashes = [
        f"{kind} {sorted(taken)}"
        for kind, mine, theirs in (
            ("benchmark", {bench.name}, set(benchmarks())),
            ("task", {t.name for t in bench.tasks}, set(tasks())),
            ("check", {c.name for c in bench.checks}, set(checks())),
            ("dataset", {d.name for d in bench.datasets}, set(datasets())),
        )
        if (taken := mine & theirs)
    ]
    if clashes:
        raise ValueError(f"benchmark {bench.name}: already registered: {'; '.join(clashes)}")
    _EXTRA[bench.name] = bench


def unregister_benchmark(name: str) -> None:
    _EXTRA.pop(name, None)
