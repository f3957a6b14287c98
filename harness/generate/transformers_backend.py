"""In-process transformers backend: batched greedy generation and choice log-likelihoods.

Batches are left-padded for generation (so every row continues from its own last token) and
right-padded for scoring; both sort by length so little compute is spent on padding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import transformers

from harness.batching import pad_batch
from harness.generate.base import split_tokens


def backend_version(dtype: str) -> str:
    """What goes into cache keys: library versions and the weights' dtype."""
    return f"transformers-{transformers.__version__}/torch-{torch.__version__}/{dtype.removeprefix('torch.')}"


class TransformersBackend:
    """One loaded checkpoint; ``checkpoint`` is its content hash (see ``harness.models.fingerprint``)."""

    name = "transformers"

    def __init__(self, model: transformers.PreTrainedModel, tokenizer: Any, checkpoint: str, batch_size: int = 16):
        self.model, self.tokenizer, self.checkpoint = model.eval(), tokenizer, checkpoint
        self.batch_size = batch_size
        self.device = next(model.parameters()).device
        self.version = backend_version(str(next(model.parameters()).dtype))

    @torch.no_grad()
    def generate(self, prompts: Sequence[str], max_new_tokens: int = 256) -> list[str]:
        """Greedy continuations of already rendered ``prompts``."""
        encoded = [self.tokenizer(t, add_special_tokens=False)["input_ids"] for t in prompts]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        outputs: list[str] = [""] * len(encoded)
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            ids, mask = pad_batch([encoded[i] for i in rows], pad, left=True)
            width = ids.shape[1]
            out = self.model.generate(
                input_ids=ids.to(self.device),
                attention_mask=mask.to(self.device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=pad,
                eos_token_id=self.tokenizer.eos_token_id,
            )
            for r, i in enumerate(rows):
                outputs[i] = self.tokenizer.decode(out[r, width:], skip_special_tokens=True).strip()
        return outputs

    @torch.no_grad()
    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[float]:
        """Sum of log-probabilities of each continuation given its context (lm-eval semantics)."""
        pairs = [split_tokens(self.tokenizer, context, continuation) for context, continuation in requests]
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        scores = [0.0] * len(pairs)
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            ids, mask = pad_batch([pairs[i][0] + pairs[i][1] for i in rows], pad)
            logprobs = torch.log_softmax(
                self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits.float(), dim=-1
            )
            for r, i in enumerate(rows):
                ctx, cont = pairs[i]
                positions = torch.arange(len(ctx) - 1, len(ctx) + len(cont) - 1)
                scores[i] = float(logprobs[r, positions, torch.tensor(cont)].sum())
        return scores
