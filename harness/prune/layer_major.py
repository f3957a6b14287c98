"""Layer-major calibration of a streamed model: each decoder layer's weights are read once per pass.

Run batch by batch, a streamed model (``harness.models.streaming``) reads every layer's weights once per
batch. Here one cheap forward per batch records what the model hands each decoder layer (attention
masks, rotary embeddings, position ids: built by the family's own code, per layer type) while the
layers pass the hidden states through untouched and the head is skipped. Then the layers are made
resident one at a time and every batch goes through the current one, the statistics collector
observing its MoE block exactly as in a full pass: the same sums in the same order per layer.
Hidden states between layers stay on the device, or in ``activation_dir`` when they do not fit.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from harness.prune.capture import StatsCollector

#: room left on the activation folder's disk beyond the estimate (two copies of every batch's states)
ACTIVATION_DISK_MARGIN = 1.1


@dataclass(frozen=True)
class TokenBatch:
    """One calibration batch: its domain, padded ids and mask, and the token samples of the statistics."""

    domain: str
    ids: torch.Tensor  # [batch, seq]
    mask: torch.Tensor  # [batch, seq] 0/1
    sampled: torch.Tensor  # [batch, seq] bool: tokens every expert is evaluated on (EAN)
    sample: torch.Tensor  # [batch, seq] bool: tokens whose expert inputs are kept (reconstruction)


class _AfterLastLayer(Exception):
    """Raised by the last layer's recorder: the final norm and head are not needed for calibration."""


@dataclass
class _Call:
    args: tuple
    kwargs: dict[str, Any]


class ActivationStore:
    """Every batch's hidden states between two layers: in memory, or one file per batch in a folder."""

    def __init__(self, count: int, folder: Path | None):
        self.folder = folder
        self._held: list[torch.Tensor | None] = [None] * count

    def put(self, i: int, hidden: torch.Tensor) -> None:
        if self.folder is None:
            self._held[i] = hidden
            return
        path = self.folder / f"{i}.safetensors"
        save_file({"h": hidden.contiguous().cpu()}, str(path))
        self._held[i] = torch.empty(0, dtype=hidden.dtype, device=hidden.device)  # remembers dtype and device

    def get(self, i: int) -> torch.Tensor:
        held = self._held[i]
        if held is None:
            raise RuntimeError(f"no hidden states stored for calibration batch {i}")
        if self.folder is None:
            return held
        return load_file(str(self.folder / f"{i}.safetensors"))["h"].to(held.device)


def check_activation_dir(folder: Path, batches: Sequence[TokenBatch], hidden_size: int, dtype: torch.dtype) -> None:
    """Refuse, before any forward, a folder that cannot be written or whose disk cannot hold the states."""
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"--activation-dir {folder} is not a directory")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise PermissionError(f"--activation-dir {folder} is not writable: {err}") from err
    item = torch.empty(0, dtype=dtype).element_size()
    need = int(sum(b.ids.numel() for b in batches) * hidden_size * item * 2 * ACTIVATION_DISK_MARGIN)
    free = shutil.disk_usage(folder).free
    if free < need:
        raise OSError(
            f"--activation-dir {folder}: {free / 2**20:.0f} MiB free, the calibration hidden states need about "
            f"{need / 2**20:.0f} MiB (tokens x hidden size x {item} bytes, two copies)"
        )


@contextmanager
def _activation_folder(parent: Path | None) -> Iterator[Path | None]:
    if parent is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="moegate-activations-", dir=parent) as tmp:
        yield Path(tmp)


@contextmanager
def _recording(layers: torch.nn.ModuleList, calls: list[list[_Call]], first: list[torch.Tensor]) -> Iterator[None]:
    """Every layer's forward replaced by a recorder that keeps its inputs and returns the hidden states."""
    saved = [layer.__dict__.get("forward") for layer in layers]
    last = len(layers) - 1

    def recorder(i: int):
        def forward(hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
            if i == 0:
                first.append(hidden_states)
            calls[i].append(_Call(args, kwargs))
            if i == last:
                raise _AfterLastLayer
            return hidden_states

        return forward

    try:
        for i, layer in enumerate(layers):
            layer.forward = recorder(i)
        yield
    finally:
        for layer, previous in zip(layers, saved):
            if previous is None:
                del layer.forward
            else:
                layer.forward = previous


@torch.no_grad()
def run_layer_major(
    model: torch.nn.Module,
    layers: torch.nn.ModuleList,
    collector: StatsCollector,
    batches: Sequence[TokenBatch],
    activation_dir: Path | None = None,
    progress: Any = None,
) -> None:
    """Every batch through every layer, layer by layer; ``progress.update(1)`` after each layer."""
    from harness.models.streaming import layer_resident

    device = next(model.parameters()).device
    calls: list[list[_Call]] = [[] for _ in layers]
    first: list[torch.Tensor] = []
    with _recording(layers, calls, first):
        for b in batches:
            collector.use_batch(b.domain, b.mask.bool(), b.sampled, b.sample)
            collector.count_batch()
            try:
                model(input_ids=b.ids.to(device), attention_mask=b.mask.to(device), use_cache=False)
            except _AfterLastLayer:
                pass
    if len(first) != len(batches) or any(len(c) != len(batches) for c in calls):
        raise RuntimeError(
            f"{type(model).__name__} did not call each of its {len(layers)} decoder layers once per batch; "
            "layerwise calibration needs that (use --calibration-mode full)"
        )
    with _activation_folder(activation_dir) as folder:
        store = ActivationStore(len(batches), folder)
        for i, hidden in enumerate(first):
            store.put(i, hidden)
        first.clear()
        for layer, layer_calls in zip(layers, calls):
            with layer_resident(layer):
                for i, (b, call) in enumerate(zip(batches, layer_calls)):
                    collector.use_batch(b.domain, b.mask.bool(), b.sampled, b.sample)
                    out = layer(store.get(i), *call.args, **call.kwargs)
                    store.put(i, out[0] if isinstance(out, tuple) else out)
            layer_calls.clear()
            if progress is not None:
                progress.update(1)
