"""A benchmark unit: the datasets it reads, the tasks it asks and the checks that score them."""

from __future__ import annotations

from dataclasses import dataclass

from harness.data.dataset import DatasetSpec
from harness.measure.checks import CheckSpec
from harness.measure.tasks import TaskSpec


@dataclass(frozen=True)
class Benchmark:
    """Everything the gate needs to run one benchmark, declared in one module of ``harness.benchmarks``.

    ``datasets`` pin where the rows officially live and how they are parsed, ``tasks`` turn rows into
    prompted items (the official prompt), ``checks`` score each answer (utility or reliability, its
    direction and domain), and ``instructions`` are the prompt texts whose echo in an answer is leakage.
    """

    name: str  # also the pytest marker of its checks (``pytest suites -m rct``)
    description: str
    datasets: tuple[DatasetSpec, ...]
    tasks: tuple[TaskSpec, ...]
    checks: tuple[CheckSpec, ...]
    instructions: tuple[str, ...] = ()

    @classmethod
    def of(cls, task: TaskSpec, *checks: CheckSpec, instructions: tuple[str, ...] = ()) -> Benchmark:
        """A benchmark of one task on one dataset, named and described as its task."""
        return cls(task.name, task.description, (task.dataset,), (task,), checks, instructions)

    def __post_init__(self) -> None:
        mine = {t.name for t in self.tasks}
        for check in self.checks:
            if check.task not in mine:
                raise ValueError(
                    f"benchmark {self.name}: check {check.name} names task {check.task!r}, not one of {sorted(mine)}"
                )
        for task in self.tasks:
            if task.dataset not in self.datasets:
                raise ValueError(
                    f"benchmark {self.name}: task {task.name} reads dataset {task.dataset.name}, not declared here"
                )
