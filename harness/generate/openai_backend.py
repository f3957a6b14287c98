"""Backend speaking the OpenAI completions API of a vLLM server (started by the harness or given by URL).

Prompts are tokenized here with the checkpoint's own tokenizer and sent as token ids, so the server
sees exactly the tokens the transformers backend sees; greedy decoding (temperature 0).
Log-likelihoods use ``echo`` with prompt log-probabilities, the way lm-eval's completions models do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from harness.generate.base import split_tokens
from harness.http_retry import RetryPolicy, post_with_retries

SERVER_RETRY = RetryPolicy(attempts=4, timeout_s=600.0)  # a local server may take minutes per batch


class OpenAICompletionsBackend:
    """``version`` (for cache keys) is set by the opener, which knows the server's vLLM release."""

    name = "vllm"

    def __init__(
        self,
        base_url: str,
        model: str,
        tokenizer: Any,
        checkpoint: str,
        batch_size: int = 32,
        retry: RetryPolicy = SERVER_RETRY,
        version: str = "vllm-unknown",
    ):
        self.base_url, self.model, self.tokenizer, self.checkpoint = base_url.rstrip("/"), model, tokenizer, checkpoint
        self.batch_size, self.retry, self.version = batch_size, retry, version
        self.client = httpx.Client(timeout=retry.timeout_s)

    def _post(self, body: dict) -> dict:
        return post_with_retries(
            self.client, self.base_url + "/v1/completions", body, None, self.retry, self.base_url
        ).json()

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def generate(self, prompts: Sequence[str], max_new_tokens: int = 256) -> list[str]:
        """Greedy continuations of already rendered ``prompts``, one request per batch."""
        out: list[str] = []
        for start in range(0, len(prompts), self.batch_size):
            batch = [self._ids(p) for p in prompts[start : start + self.batch_size]]
            data = self._post(
                {
                    "model": self.model,
                    "prompt": batch,
                    "max_tokens": max_new_tokens,
                    "temperature": 0.0,
                    "skip_special_tokens": True,
                }
            )
            choices = sorted(data["choices"], key=lambda c: c["index"])
            out += [c["text"].strip() for c in choices]
        return out

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[float]:
        scores: list[float] = []
        for start in range(0, len(requests), self.batch_size):
            pairs = [split_tokens(self.tokenizer, c, x) for c, x in requests[start : start + self.batch_size]]
            data = self._post(
                {
                    "model": self.model,
                    "prompt": [c + x for c, x in pairs],
                    "max_tokens": 1,
                    "temperature": 0.0,
                    "echo": True,
                    "logprobs": 1,
                }
            )
            choices = sorted(data["choices"], key=lambda c: c["index"])
            for (ctx, cont), choice in zip(pairs, choices):
                token_logprobs = choice["logprobs"]["token_logprobs"]
                scores.append(float(sum(token_logprobs[len(ctx) : len(ctx) + len(cont)])))
        return scores
