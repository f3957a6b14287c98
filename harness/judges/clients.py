"""LLM judge clients over HTTP: OpenAI, Anthropic, Gemini and any OpenAI-compatible server (local vLLM).

Keys come only from environment variables and are sent only in request headers; they never appear
in a client's repr, in errors, in results or in logs. Transport errors, timeouts, HTTP 429 and 5xx
are retried with bounded exponential backoff (``Retry-After`` honoured); other HTTP errors fail at once.
Judge spec strings: ``openai:MODEL``, ``anthropic:MODEL``, ``gemini:MODEL``,
``openai-compatible:MODEL@http://host:port/v1`` (key, if any, in ``MOEGATE_JUDGE_API_KEY``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import httpx

from harness.http_retry import HTTPFailure, RetryPolicy, post_with_retries

KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "openai-compatible": "MOEGATE_JUDGE_API_KEY",
}
DEFAULT_URL = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com/v1",
    "gemini": "https://generativelanguage.googleapis.com/v1beta",
}


class JudgeError(RuntimeError):
    """A judge call that failed for good (after retries); the message never holds a key."""


class JudgeClient:
    """``complete(system, user) -> text`` with temperature 0; subclasses build and read the provider's JSON."""

    provider = ""

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        retry: RetryPolicy | None = None,
        max_tokens: int = 512,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.model, self.base_url = model, (base_url or DEFAULT_URL.get(self.provider, "")).rstrip("/")
        self.retry, self.max_tokens, self._sleep = retry or RetryPolicy(), max_tokens, sleep
        self.calls = 0  # HTTP requests made (retries included)
        self._http = httpx.Client(timeout=self.retry.timeout_s, event_hooks={"request": [self._count]})

    def _count(self, _request: httpx.Request) -> None:
        self.calls += 1

    @property
    def name(self) -> str:
        return f"{self.provider}:{self.model}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.base_url!r})"

    def _key(self) -> str | None:
        key = os.environ.get(KEY_ENV[self.provider])
        if not key and self.provider != "openai-compatible":
            raise JudgeError(f"{self.name}: set {KEY_ENV[self.provider]} in the environment")
        return key

    def _request(self, system: str, user: str, key: str | None) -> tuple[str, dict, dict]:
        raise NotImplementedError

    def _text(self, data: dict) -> str:
        raise NotImplementedError

    def complete(self, system: str, user: str) -> str:
        url, headers, body = self._request(system, user, self._key())
        try:
            response = post_with_retries(self._http, url, body, headers, self.retry, self.name, self._sleep)
        except HTTPFailure as exc:
            raise JudgeError(str(exc)) from None
        try:
            return self._text(response.json())
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise JudgeError(f"{self.name}: unexpected response shape ({type(exc).__name__})") from None


class OpenAIClient(JudgeClient):
    provider = "openai"

    def _request(self, system, user, key):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        body = {
            "model": self.model,
            "temperature": 0,
            "max_tokens": self.max_tokens,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        }
        return self.base_url + "/chat/completions", headers, body

    def _text(self, data):
        return data["choices"][0]["message"]["content"]


class OpenAICompatibleClient(OpenAIClient):
    provider = "openai-compatible"


class AnthropicClient(JudgeClient):
    provider = "anthropic"

    def _request(self, system, user, key):
        headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
        body = {
            "model": self.model,
            "temperature": 0,
            "max_tokens": self.max_tokens,
            "system": system,
            "messages": [{"role": "user", "content": user}],
        }
        return self.base_url + "/messages", headers, body

    def _text(self, data):
        return "".join(part.get("text", "") for part in data["content"])


class GeminiClient(JudgeClient):
    provider = "gemini"

    def _request(self, system, user, key):
        body = {
            "systemInstruction": {"parts": [{"text": system}]},
            "contents": [{"role": "user", "parts": [{"text": user}]}],
            "generationConfig": {"temperature": 0, "maxOutputTokens": self.max_tokens},
        }
        return f"{self.base_url}/models/{self.model}:generateContent", {"x-goog-api-key": key}, body

    def _text(self, data):
        return "".join(part.get("text", "") for part in data["candidates"][0]["content"]["parts"])


CLIENTS = {c.provider: c for c in (OpenAIClient, AnthropicClient, GeminiClient, OpenAICompatibleClient)}


def make_client(spec: str, retry: RetryPolicy | None = None) -> JudgeClient:
    provider, sep, rest = spec.partition(":")
    if not sep or provider not in CLIENTS or not rest:
        raise ValueError(f"judge {spec!r}: expected PROVIDER:MODEL with PROVIDER one of {', '.join(CLIENTS)}")
    model, base_url = rest, None
    if provider == "openai-compatible":
        model, at, base_url = rest.partition("@")
        if not at:
            raise ValueError(f"judge {spec!r}: expected openai-compatible:MODEL@http://host:port/v1")
    return CLIENTS[provider](model, base_url, retry)
