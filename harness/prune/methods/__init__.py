"""Registry of pruning methods: every module of this package that defines a :class:`PruningMethod` subclass
with a ``name`` is one method (as lm-eval finds its tasks by scanning a folder). Adding a method is adding
one module here; ``register_method`` adds one from elsewhere (a test, a plugin)."""

from __future__ import annotations

import inspect
from functools import cache

from harness.discovery import unit_modules
from harness.prune.methods.base import (
    LayerChoice,
    MethodOptions,
    PruningMethod,
    ScoringMethod,
    SearchMethod,
)
from harness.prune.stats import Statistic

_EXTRA: dict[str, PruningMethod] = {}


@cache
def _discovered() -> dict[str, PruningMethod]:
    found: dict[str, PruningMethod] = {}
    for module in unit_modules(__name__, __path__):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, PruningMethod) and cls.__module__ == module.__name__ and "name" in vars(cls):
                found[cls.name] = cls()
    return found


def registered() -> dict[str, PruningMethod]:
    return {**_discovered(), **_EXTRA}


def register_method(method: PruningMethod) -> None:
    """Add a method defined outside this package; refused when its name or an alias is taken."""
    taken = {n for m in registered().values() for n in (m.name, *m.aliases)}
    clash = {method.name, *method.aliases} & taken
    if clash:
        raise ValueError(f"pruning method name {sorted(clash)} already registered")
    _EXTRA[method.name] = method


def unregister_method(name: str) -> None:
    _EXTRA.pop(name, None)


def default_methods() -> tuple[str, ...]:
    """The methods a sweep runs when none are named: every method with a ``default_rank``, in rank order."""
    ranked = [(m.default_rank, m.name) for m in registered().values() if m.default_rank is not None]
    return tuple(name for _, name in sorted(ranked))


def all_methods() -> tuple[str, ...]:
    defaults = default_methods()
    return defaults + tuple(sorted(set(registered()) - set(defaults)))


def get_method(name: str) -> PruningMethod:
    """The method called ``name`` or one of its aliases, case-insensitive (``easy-ep`` is ``easy_ep``)."""
    key = name.lower()
    for method in registered().values():
        if key == method.name or key in method.aliases:
            return method
    raise ValueError(f"unknown pruning method {name!r}; choose from {', '.join(all_methods())}")


def canonical_method(name: str) -> str:
    return get_method(name).name


def statistics_of(names: list[str]) -> tuple[Statistic, ...]:
    """The union of the statistics the named methods need, each once, in a stable order."""
    seen: dict[str, Statistic] = {}
    for name in names:
        for stat in get_method(name).statistics:
            if seen.setdefault(stat.name, stat) != stat:
                raise ValueError(f"two pruning methods define different statistics named {stat.name!r}")
    return tuple(seen[k] for k in sorted(seen))


def statistic_named(name: str) -> Statistic:
    for method in registered().values():
        for stat in method.statistics:
            if stat.name == name:
                return stat
    raise KeyError(f"no registered pruning method collects a statistic named {name!r}")


__all__ = [
    "LayerChoice",
    "MethodOptions",
    "PruningMethod",
    "ScoringMethod",
    "SearchMethod",
    "all_methods",
    "canonical_method",
    "default_methods",
    "get_method",
    "register_method",
    "registered",
    "statistic_named",
    "statistics_of",
    "unregister_method",
]
