"""Resolve a model name or path to a local checkpoint directory, and load it.

Offline first: nothing is downloaded unless ``allow_download`` is set (``--download`` on the
command line). A missing model fails with one message naming the hub id, revision, cache
directory and the override.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from harness.models.registry import ModelSpec, get_spec

if TYPE_CHECKING:
    from transformers import PreTrainedModel


class ModelNotAvailableError(FileNotFoundError):
    """The weights are neither local nor allowed to be downloaded."""


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    path: Path
    spec: ModelSpec | None
    revision: str  # commit actually used (snapshot hash) or "local"

    @property
    def chat_template_kwargs(self) -> dict[str, Any]:
        return dict(self.spec.chat_template_kwargs) if self.spec else {}


def resolve(name_or_path: str, *, cache_dir: str | None = None, allow_download: bool = False) -> ResolvedModel:
    """Map a registry name or a directory to a local checkpoint directory."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotAvailableError(f"{path} is a directory but has no config.json: not a Hugging Face checkpoint")
        return ResolvedModel(name=path.name, path=path.resolve(), spec=None, revision="local")
    spec = get_spec(name_or_path)
    if spec is None:
        from harness.models.registry import REGISTRY

        raise ModelNotAvailableError(
            f"{name_or_path!r} is neither a local checkpoint directory nor a registered model "
            f"({', '.join(sorted(REGISTRY))})"
        )
    if spec.local_dir is not None:
        if not (spec.local_dir / "config.json").is_file():
            raise ModelNotAvailableError(f"embedded model {spec.name} is missing at {spec.local_dir}")
        return ResolvedModel(name=spec.name, path=spec.local_dir, spec=spec, revision=spec.revision)
    return _from_hub(spec, cache_dir=cache_dir, allow_download=allow_download)


def _from_hub(spec: ModelSpec, *, cache_dir: str | None, allow_download: bool) -> ResolvedModel:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    offline = not allow_download or os.environ.get("HF_HUB_OFFLINE") == "1"
    if spec.hub_id is None:
        raise ModelNotAvailableError(f"{spec.name}: no hub id registered to download it from")
    try:
        local = snapshot_download(
            spec.hub_id,
            revision=spec.revision,
            cache_dir=cache_dir,
            local_files_only=offline,
            allow_patterns=["*.json", "*.safetensors", "*.jinja", "*.model", "*.txt", "*.py"],
        )
    except (LocalEntryNotFoundError, OSError) as exc:
        where = cache_dir or os.environ.get("HF_HUB_CACHE") or "~/.cache/huggingface/hub"
        how = "pass --download to fetch it" if offline else "the download failed"
        raise ModelNotAvailableError(
            f"model {spec.name} ({spec.hub_id}@{spec.revision}) is not in the cache {where}; {how}, "
            f"or pass a local checkpoint directory instead of the name ({type(exc).__name__}: {exc})"
        ) from exc
    return ResolvedModel(name=spec.name, path=Path(local), spec=spec, revision=Path(local).name)


def read_config_json(path: Path) -> dict:
    with open(path / "config.json", encoding="utf-8") as fh:
        return json.load(fh)


def load_model(path: Path, *, dtype: str | torch.dtype = "auto", device: str = "cpu") -> PreTrainedModel:
    """Load a causal LM for calibration or verification (eval mode, no gradients)."""
    from transformers import AutoModelForCausalLM

    model: PreTrainedModel = AutoModelForCausalLM.from_pretrained(
        path, dtype=dtype, device_map=device if device != "cpu" else None
    )
    model.eval()
    return model


def load_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


def build_from_config(config: Any) -> PreTrainedModel:
    """Random-weight model from a config, on a private copy of the config (from_config aliases it)."""
    from transformers import AutoModelForCausalLM

    model: PreTrainedModel = AutoModelForCausalLM.from_config(copy.deepcopy(config))
    model.eval()
    return model
