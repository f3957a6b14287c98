"""Imports run one way along the pipeline: a stage of ``harness`` imports only the stages before it
(data -> models -> prune -> generate -> metrics -> measure -> benchmarks -> judges -> gate -> report ->
the pytest plugin and the CLI), shared helpers import no stage, and nothing in ``harness`` imports the
tiny-model lab in ``tools/``. Checked on the source, imports inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parents[1] / "harness"

#: every top-level module or package of harness, by rank: a unit may import units of a lower rank only
#: (and its own package); equal ranks do not import each other
RANK = {
    "atomic": 0,
    "batching": 0,
    "discovery": 0,
    "http_retry": 0,
    "data": 1,
    "models": 2,
    "prune": 3,
    "generate": 4,
    "metrics": 5,
    "measure": 6,
    "benchmarks": 7,
    "judges": 8,
    "gate": 9,
    "report": 10,
    "pytest_gate": 11,
    "plugin": 12,
    "suites": 13,
    "cli": 13,
    "__main__": 14,
    "fixtures": 0,
}


def _unit(module: str) -> str:
    return module.split(".")[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return found


def _sources() -> list[Path]:
    return sorted(p for p in HARNESS.rglob("*.py") if "fixtures" not in p.parts)


def test_every_unit_of_harness_has_a_rank():
    units = {p.stem if p.parent == HARNESS else p.relative_to(HARNESS).parts[0] for p in _sources()}
    assert units - {"__init__"} <= set(RANK), sorted(units - {"__init__"} - set(RANK))


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(HARNESS.parent)))
def test_a_module_imports_only_earlier_stages(path):
    mine = path.stem if path.parent == HARNESS else path.relative_to(HARNESS).parts[0]
    if mine == "__init__":
        return
    wrong = []
    for line, module in _imports(path):
        if module.startswith("tools"):
            wrong.append(f"line {line}: {module} (the tiny-model lab is not part of the product)")
        elif module.startswith("harness."):
            theirs = _unit(module)
            if theirs != mine and RANK[theirs] >= RANK[mine]:
                wrong.append(f"line {line}: {module} ({theirs}, rank {RANK[theirs]} >= {mine}, rank {RANK[mine]})")
    assert not wrong, f"{path.relative_to(HARNESS.parent)} imports a later stage: " + "; ".join(wrong)
