"""Units found by scanning a package, as lm-eval finds its tasks: every module but ``base``, imported."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Iterator
from types import ModuleType


def unit_modules(package: str, path: Iterable[str]) -> Iterator[ModuleType]:
    """The modules of ``package`` (its ``__path__``), each imported once, ``base`` (shared types) left out."""
    for info in pkgutil.iter_modules(list(path)):
        if info.name != "base":
            yield importlib.import_module(f"{package}.{info.name}")
