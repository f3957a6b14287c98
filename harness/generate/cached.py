"""A backend wrapped with the generation cache: only requests never answered for this checkpoint run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tqdm.auto import tqdm

from harness.generate.base import Backend, chat_prompt
from harness.generate.cache import GenerationCache, request_key


class CachedBackend:
    """Same interface as the wrapped backend; results are committed one item at a time.

    Misses are sent to the backend in chunks of its batch size (sorted by length, so batching
    stays efficient) and each result is written as soon as its chunk returns: an interruption
    loses at most one chunk. ``refresh`` regenerates and overwrites; ``cache=None`` disables caching.
    """

    def __init__(
        self,
        backend: Backend,
        cache: GenerationCache | None,
        refresh: bool = False,
        show_progress: bool = False,
        chat_kwargs: dict | None = None,
    ):
        self.backend, self.cache, self.refresh, self.show_progress = backend, cache, refresh, show_progress
        self.name, self.version, self.checkpoint = backend.name, backend.version, backend.checkpoint
        self.batch_size, self.tokenizer = backend.batch_size, backend.tokenizer
        self.chat_kwargs = dict(chat_kwargs or {})  # the model's chat settings, applied here for every backend
        self.hits = 0
        self.computed = 0

    def generate(self, prompts: Sequence[str], max_new_tokens: int = 256, chat: bool = True) -> list[str]:
        """Greedy continuations; ``chat`` wraps each prompt as a user turn in the model's chat template."""
        texts = [chat_prompt(self.tokenizer, p, self.chat_kwargs) if chat else p for p in prompts]
        params = {"max_new_tokens": max_new_tokens, "decoding": "greedy"}
        return self._run(
            "generate", texts, params, lambda chunk: self.backend.generate(chunk, max_new_tokens), size=len
        )

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[float]:
        return self._run(
            "loglikelihood",
            [list(r) for r in requests],
            {},
            lambda chunk: self.backend.loglikelihood([tuple(r) for r in chunk]),
            size=lambda r: len(r[0]) + len(r[1]),
        )

    def _run(
        self,
        kind: str,
        requests: list[Any],
        params: dict,
        compute: Callable[[list[Any]], list[Any]],
        size: Callable[[Any], int],
    ) -> list[Any]:
        keys = [request_key(self.checkpoint, kind, r, params, self.version) for r in requests]
        unique = dict(zip(keys, requests))
        found = {} if (self.cache is None or self.refresh) else self.cache.get_many(list(unique))
        todo = sorted((k for k in unique if k not in found), key=lambda k: size(unique[k]))
        self.hits += len(unique) - len(todo)
        chunk_size = self.batch_size * (8 if kind == "loglikelihood" else 1)
        with tqdm(
            total=len(todo), desc=f"{kind} ({self.name})", unit="item", disable=not self.show_progress or not todo
        ) as bar:
            for start in range(0, len(todo), chunk_size):
                chunk = todo[start : start + chunk_size]
                for key, value in zip(chunk, compute([unique[k] for k in chunk])):
                    found[key] = value
                    if self.cache is not None:
                        self.cache.put(key, value, self.checkpoint, kind)
                self.computed += len(chunk)
                bar.update(len(chunk))
        return [found[k] for k in keys]
