"""Calibration without holding the whole model: decoder layers streamed from the checkpoint.

``layerwise`` loads the model with every decoder layer on accelerate's ``"disk"`` device: the weights stay
in the checkpoint's safetensors files (tensors stored in another layout, e.g. per-expert weights fused on
load, are written once to ``offload_dir``) and each layer's weights are brought onto the execution device
only while that layer runs, by accelerate's hooks, then dropped. The family's own transformers modules
compute every layer (attention masks, rotary embeddings, Mamba mixers, sinks), so statistics equal the
full pass. Embeddings, final norm and head stay resident. ``auto`` picks ``full`` when the checkpoint fits
the device's free memory with a margin.

Calibration then runs layer-major (``harness.prune.layer_major``): each streamed layer is made resident
once (``layer_resident``) and every batch goes through it, so the weights are read once per pass; the
hidden states wait on the device between layers, or in ``--activation-dir``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch

if TYPE_CHECKING:
    from transformers import PreTrainedModel

CalibrationMode = Literal["auto", "full", "layerwise"]
#: ``auto`` loads the full model only when the checkpoint takes at most this share of free memory
FULL_MODE_SHARE = 0.8


def checkpoint_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).glob("*.safetensors"))


def free_memory(device: str) -> int:
    """Bytes free on ``device`` now (CUDA: the driver's free memory; CPU: available RAM)."""
    if device.startswith("cuda"):
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    import psutil

    return int(psutil.virtual_memory().available)


def choose_mode(mode: CalibrationMode, path: Path, device: str) -> Literal["full", "layerwise"]:
    if mode != "auto":
        return mode
    return "full" if checkpoint_bytes(path) <= FULL_MODE_SHARE * free_memory(device) else "layerwise"


def layer_device_map(path: Path, device: str) -> dict[str, str]:
    """Every decoder layer on ``"disk"``, every other top-level piece on ``device``, from an empty
    (meta) skeleton of the checkpoint's model."""
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM

    from harness.models.adapters import adapter_for
    from harness.models.adapters.base import UnsupportedModelError

    config = AutoConfig.from_pretrained(path)
    with init_empty_weights():
        skeleton = AutoModelForCausalLM.from_config(config)
    layers = adapter_for(config).decoder_layers(skeleton)
    name_of = {id(m): n for n, m in skeleton.named_modules()}
    layers_name = name_of[id(layers)]
    device_map: dict[str, str] = {}

    def place(prefix: str, module: torch.nn.Module) -> None:
        if module is layers:
            device_map.update({f"{layers_name}.{i}": "disk" for i in range(len(layers))})
            return
        if not layers_name.startswith(f"{prefix}.") and prefix != "":
            device_map[prefix] = device
            return
        if any(True for _ in module.parameters(recurse=False)) or any(True for _ in module.buffers(recurse=False)):
            raise UnsupportedModelError(
                f"{type(skeleton).__name__}: {prefix or 'the model'} holds tensors beside its decoder layers; "
                "layerwise calibration cannot place them (use --calibration-mode full)"
            )
        for child_name, child in module.named_children():
            place(f"{prefix}.{child_name}" if prefix else child_name, child)

    place("", skeleton)
    return device_map


@contextmanager
def offload_folder(parent: Path | None) -> Iterator[Path]:
    """A fresh folder for tensors accelerate must rewrite; refused before any work when ``parent`` cannot
    be written; removed afterwards."""
    if parent is not None:
        if parent.exists() and not parent.is_dir():
            raise NotADirectoryError(f"--offload-dir {parent} is not a directory")
        parent.mkdir(parents=True, exist_ok=True)
        if not os.access(parent, os.W_OK):
            raise PermissionError(f"--offload-dir {parent} is not writable")
    with tempfile.TemporaryDirectory(prefix="moegate-offload-", dir=parent) as tmp:
        yield Path(tmp)


def load_layerwise(path: Path, *, dtype: str | torch.dtype, device: str, offload_dir: Path) -> PreTrainedModel:
    from transformers import AutoModelForCausalLM

    model: PreTrainedModel = AutoModelForCausalLM.from_pretrained(
        path, dtype=dtype, device_map=layer_device_map(path, device), offload_folder=str(offload_dir)
    )
    model.eval()
    return model


@contextmanager
def weights_on_device(module: torch.nn.Module) -> Iterator[None]:
    """Inside, the tensors of ``module`` and its submodules are real even when its layer is streamed (for
    reading them outside the layer's forward: routers, expert banks); a no-op for a resident module."""
    from accelerate.utils import align_module_device, has_offloaded_params

    with ExitStack() as stack:
        for sub in module.modules():
            if has_offloaded_params(sub):
                stack.enter_context(align_module_device(sub))
        yield


@contextmanager
def model_for_calibration(
    path: Path, mode: Literal["full", "layerwise"], device: str, offload_dir: Path | None
) -> Iterator[PreTrainedModel]:
    """The model to calibrate on, whole or with its layers streamed (its offload folder removed after)."""
    from harness.models.loading import load_model
    from harness.models.shards import check_shards

    check_shards(path)
    if mode == "full":
        yield load_model(path, device=device)
        return
    with offload_folder(offload_dir) as folder:
        yield load_layerwise(path, dtype="auto", device=device, offload_dir=folder)


def is_streamed(module: torch.nn.Module) -> bool:
    """Whether any tensor of ``module`` is streamed from disk by accelerate's hooks."""
    from accelerate.utils import has_offloaded_params

    return any(has_offloaded_params(sub) for sub in module.modules())


@contextmanager
def layer_resident(layer: torch.nn.Module) -> Iterator[None]:
    """Inside, a streamed layer's weights are loaded once and stay on its execution device across forwards
    (accelerate's hooks stop loading and dropping them per call); dropped again on exit."""
    from accelerate.utils import has_offloaded_params

    hooked: list[tuple[torch.nn.Module, Any]] = [
        (sub, sub._hf_hook) for sub in layer.modules() if has_offloaded_params(sub)
    ]
    loaded = []
    try:
        for sub, hook in hooked:
            hook.pre_forward(sub)
            loaded.append((sub, hook))
            hook.offload = False
        yield
    finally:
        for sub, hook in loaded:
            hook.offload = True
            hook.post_forward(sub, None)
