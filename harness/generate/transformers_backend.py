"""In-process transformers backend: batched greedy generation and choice log-likelihoods.

Batches are left-padded for generation (so every row continues from its own last token) and
right-padded for scoring; both sort by length so little compute is spent on padding.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from tqdm.auto import tqdm

from harness.batching import pad_batch


class TransformersBackend:
    def __init__(self, model: torch.nn.Module, tokenizer: Any, chat_template_kwargs: dict | None = None,
                 batch_size: int = 16, show_progress: bool = False):
        self.model, self.tokenizer = model.eval(), tokenizer
        self.chat_kwargs = dict(chat_template_kwargs or {})
        self.batch_size, self.show_progress = batch_size, show_progress
        self.device = next(model.parameters()).device

    def chat_prompt(self, user: str) -> str:
        return self.tokenizer.apply_chat_template([{"role": "user", "content": user}], tokenize=False,
                                                  add_generation_prompt=True, **self.chat_kwargs)

    @torch.no_grad()
    def generate(self, prompts: Sequence[str], max_new_tokens: int = 256, chat: bool = True) -> list[str]:
        """Greedy continuations of ``prompts`` (wrapped in the chat template when ``chat``)."""
        texts = [self.chat_prompt(p) if chat else p for p in prompts]
        encoded = [self.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        outputs: list[str] = [""] * len(encoded)
        pad = self.tokenizer.pad_token_id
        for start in tqdm(range(0, len(order), self.batch_size), desc="generate", unit="batch",
                          disable=not self.show_progress):
            rows = order[start:start + self.batch_size]
            ids, mask = pad_batch([encoded[i] for i in rows], pad, left=True)
            width = ids.shape[1]
            out = self.model.generate(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                      max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad,
                                      eos_token_id=self.tokenizer.eos_token_id)
            for r, i in enumerate(rows):
                outputs[i] = self.tokenizer.decode(out[r, width:], skip_special_tokens=True).strip()
        return outputs

    @torch.no_grad()
    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[float]:
        """Sum of log-probabilities of each continuation given its context (lm-eval semantics)."""
        pairs = []
        for context, continuation in requests:
            ctx = self.tokenizer(context, add_special_tokens=False)["input_ids"]
            cont = self.tokenizer(context + continuation, add_special_tokens=False)["input_ids"][len(ctx):]
            pairs.append((ctx, cont))
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        scores = [0.0] * len(pairs)
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            ids, mask = pad_batch([pairs[i][0] + pairs[i][1] for i in rows], pad)
            logprobs = torch.log_softmax(self.model(input_ids=ids.to(self.device),
                                                    attention_mask=mask.to(self.device)).logits.float(), dim=-1)
            for r, i in enumerate(rows):
                ctx, cont = pairs[i]
                positions = torch.arange(len(ctx) - 1, len(ctx) + len(cont) - 1)
                scores[i] = float(logprobs[r, positions, torch.tensor(cont)].sum())
        return scores

    def choose(self, context: str, choices: Sequence[str]) -> int:
        return self.choose_many([(context, choices)])[0]

    def choose_many(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[int]:
        """argmax log-likelihood choice per item (the lm-eval ``acc`` rule)."""
        flat = [(ctx, " " + c) for ctx, choices in items for c in choices]
        scores = self.loglikelihood(flat)
        picks, pos = [], 0
        for _, choices in items:
            block = scores[pos:pos + len(choices)]
            picks.append(max(range(len(choices)), key=block.__getitem__))
            pos += len(choices)
        return picks
