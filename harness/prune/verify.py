"""Check a pruned checkpoint: it reloads cleanly and equals the original with experts masked.

"Masked" means the original model with each router replaced by the family's masked reference
router (``harness.models.routing``), which can never pick a pruned expert. Where top-k weights
are renormalised, and for every softmax-first router, the pruned model computes exactly this
function, so logits agree to float rounding.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch

from harness.models.adapters import MoEAdapter
from harness.models.streaming import layer_device_map, weights_on_device


@dataclass
class VerifyResult:
    loaded_cleanly: bool
    missing_keys: list[str]
    unexpected_keys: list[str]
    mismatched_keys: list[str]
    max_abs_logit_diff: float
    tolerance: float
    same_greedy_tokens: bool

    @property
    def ok(self) -> bool:
        return self.loaded_cleanly and self.max_abs_logit_diff <= self.tolerance

    def as_dict(self) -> dict:
        return dict(self.__dict__, ok=self.ok)


def keep_masks(keep: dict[int, list[int]], num_experts: int) -> dict[int, torch.Tensor]:
    masks = {}
    for layer, ids in keep.items():
        mask = torch.zeros(num_experts, dtype=torch.bool)
        mask[ids] = True
        masks[layer] = mask
    return masks


@contextmanager
def masked_routing(model: torch.nn.Module, adapter: MoEAdapter, keep: dict[int, list[int]]) -> Iterator[None]:
    """Temporarily route ``model`` as if only the ``keep`` experts existed."""
    masks = keep_masks(keep, adapter.num_experts(model.config))
    patched: list[tuple[torch.nn.Module, Any]] = []
    try:
        for blk in adapter.moe_blocks(model):
            router = blk.router
            patched.append((router, router.__dict__.get("forward")))  # a streamed layer's router has a hook here
            router.forward = partial(_masked_forward, adapter, router, masks[blk.layer])
        yield
    finally:
        for router, previous in patched:
            if previous is None:
                del router.forward
            else:
                router.forward = previous


def _masked_forward(adapter: MoEAdapter, router: torch.nn.Module, keep: torch.Tensor, hidden: torch.Tensor) -> Any:
    with weights_on_device(router):
        return adapter.masked_router(router, hidden, keep=keep)


@torch.no_grad()
def logits_of(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    return model(input_ids=input_ids, attention_mask=attention_mask).logits.float().cpu()


def default_tolerance(dtype: torch.dtype) -> float:
    return 1e-3 if dtype == torch.float32 else 5e-2


def verify_checkpoint(
    path: Path,
    reference_logits: torch.Tensor,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    tolerance: float | None = None,
    offload_dir: Path | None = None,
) -> VerifyResult:
    """Reload ``path`` and compare its logits with the masked original's ``reference_logits``; with
    ``offload_dir`` its decoder layers are streamed (``harness.models.streaming``) instead of loaded."""
    from transformers import AutoModelForCausalLM

    streamed: dict[str, Any] = (
        {"device_map": layer_device_map(path, "cpu"), "offload_folder": str(offload_dir)} if offload_dir else {}
    )
    loaded: Any = AutoModelForCausalLM.from_pretrained(path, output_loading_info=True, dtype="auto", **streamed)
    model, info = loaded  # (model, loading info) with output_loading_info
    model.eval()
    tol = tolerance if tolerance is not None else default_tolerance(next(model.parameters()).dtype)
    logits = logits_of(model, input_ids, attention_mask)
    valid = attention_mask.bool().cpu()
    diff = (logits - reference_logits).abs()[valid]
    same_tokens = bool((logits.argmax(-1)[valid] == reference_logits.argmax(-1)[valid]).all())
    missing, unexpected, mismatched = (
        list(info.get(k, [])) for k in ("missing_keys", "unexpected_keys", "mismatched_keys")
    )
    del model
    return VerifyResult(
        loaded_cleanly=not (missing or unexpected or mismatched),
        missing_keys=missing,
        unexpected_keys=unexpected,
        mismatched_keys=[str(m) for m in mismatched],
        max_abs_logit_diff=float(diff.max()) if diff.numel() else 0.0,
        tolerance=tol,
        same_greedy_tokens=same_tokens,
    )
