"""One adapter per MoE family, one module each, found by scanning this package and registered by
``config.model_type``: adding a family is adding one module here."""

from __future__ import annotations

import inspect
from typing import Any

from harness.discovery import unit_modules
from harness.models.adapters.base import MoEAdapter, MoEBlock, RoutingInfo, UnsupportedModelError


def _discovered() -> tuple[type[MoEAdapter], ...]:
    """Every ``MoEAdapter`` subclass with a ``family`` defined in a module of this package (one per family)."""
    return tuple(
        cls
        for module in unit_modules(__name__, __path__)
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, MoEAdapter) and cls.__module__ == module.__name__ and "family" in vars(cls)
    )


ADAPTERS: tuple[type[MoEAdapter], ...] = _discovered()
_BY_MODEL_TYPE = {mt: cls for cls in ADAPTERS for mt in cls.model_types}


def supported_model_types() -> list[str]:
    return sorted(_BY_MODEL_TYPE)


def dead_slot_families() -> list[str]:
    """Families whose router can switch a slot off (needed for non-uniform keep counts)."""
    return sorted(cls.family for cls in ADAPTERS if cls.dead_slot_params)


def require_dead_slots(adapter: MoEAdapter) -> None:
    """Refuse non-uniform keep counts for a family whose router cannot keep a padded slot off."""
    if not adapter.dead_slot_params:
        raise UnsupportedModelError(
            f"{adapter.family}: non-uniform keep counts need a router bias to switch padded (dead) expert slots "
            f"off, since a config holds one expert count; families with one: {', '.join(dead_slot_families())}"
        )


def adapter_for(config: Any) -> MoEAdapter:
    """The adapter for a transformers config (or a config.json dict)."""
    model_type = config.get("model_type") if isinstance(config, dict) else getattr(config, "model_type", None)
    cls = _BY_MODEL_TYPE.get(str(model_type))
    if cls is None:
        raise UnsupportedModelError(
            f"unsupported architecture model_type={model_type!r}; supported: {', '.join(supported_model_types())}"
        )
    return cls()


__all__ = [
    "ADAPTERS",
    "MoEAdapter",
    "MoEBlock",
    "RoutingInfo",
    "UnsupportedModelError",
    "adapter_for",
    "dead_slot_families",
    "require_dead_slots",
    "supported_model_types",
]
