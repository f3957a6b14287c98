"""What every generation backend offers, and what is derived from it once for all backends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class Backend(Protocol):
    """Greedy generation and continuation log-likelihoods for one checkpoint.

    ``checkpoint`` is the checkpoint's content hash and ``version`` names the backend and its library
    versions: both go into every cache key, so two checkpoints (or two vLLM releases) never share outputs.
    """

    name: str
    version: str
    checkpoint: str
    batch_size: int
    tokenizer: Any

    def generate(self, prompts: Sequence[str], max_new_tokens: int = 256) -> list[str]: ...

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[float]: ...


def render_chat(
    tokenizer: Any,
    messages: list[dict[str, str]],
    chat_template_kwargs: dict | None = None,
    add_generation_prompt: bool = True,
) -> str:
    """Messages rendered with the model's chat template and its chat settings (thinking off, ...).

    Applied on the client side for every backend, so transformers and a vLLM server see the same text.
    Without a generation prompt the last (assistant) message stays open for the model to continue:
    that is how lm-eval asks for a task's ``gen_prefix`` (as its own HFLM does).
    """
    return tokenizer.apply_chat_template(
        messages,
        tokenize=False,
        add_generation_prompt=add_generation_prompt,
        continue_final_message=not add_generation_prompt,
        **(chat_template_kwargs or {}),
    )


def chat_prompt(tokenizer: Any, user: str, chat_template_kwargs: dict | None = None) -> str:
    """The user turn wrapped in the model's chat template, ready for the assistant's answer."""
    return render_chat(tokenizer, [{"role": "user", "content": user}], chat_template_kwargs)


def split_tokens(tokenizer: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """Token ids of the context and of the continuation as tokenized after it (lm-eval's split)."""
    ctx = tokenizer(context, add_special_tokens=False)["input_ids"]
    return ctx, tokenizer(context + continuation, add_special_tokens=False)["input_ids"][len(ctx) :]


def choose_many(backend: Backend, items: Sequence[tuple[str, Sequence[str]]]) -> list[int]:
    """argmax log-likelihood choice per item (lm-eval's ``acc`` rule: continuation = " " + choice)."""
    flat = [(ctx, " " + c) for ctx, choices in items for c in choices]
    scores = backend.loglikelihood(flat)
    picks, pos = [], 0
    for _, choices in items:
        block = scores[pos : pos + len(choices)]
        picks.append(max(range(len(choices)), key=block.__getitem__))
        pos += len(choices)
    return picks
