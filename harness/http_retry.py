"""POST with bounded retries: one policy for every HTTP client of the harness (vLLM server, LLM judges).

Transport errors (timeouts, refused or reset connections), HTTP 429 and 5xx are retried with
exponential backoff, honouring ``Retry-After``; any other non-200 status fails at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx


class HTTPFailure(ConnectionError):
    """A request that failed for good; the message names the caller's label, never headers."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    timeout_s: float = 120.0


def post_with_retries(
    client: httpx.Client,
    url: str,
    body: dict,
    headers: dict | None,
    policy: RetryPolicy,
    label: str,
    sleep: Callable[[float], None] = time.sleep,
) -> httpx.Response:
    """The first 200 response; ``HTTPFailure`` on a non-retryable status or when the attempts run out."""
    problem = ""
    for attempt in range(1, policy.attempts + 1):
        delay = min(policy.max_delay_s, policy.base_delay_s * 2 ** (attempt - 1))
        try:
            response = client.post(url, headers=headers or {}, json=body)
        except httpx.TransportError as exc:
            problem = type(exc).__name__
        else:
            if response.status_code == 200:
                return response
            if response.status_code != 429 and response.status_code < 500:
                raise HTTPFailure(f"{label}: HTTP {response.status_code}: {response.text[:300]}")
            problem = f"HTTP {response.status_code}"
            retry_after = response.headers.get("retry-after", "")
            delay = float(retry_after) if retry_after.replace(".", "", 1).isdigit() else delay
        if attempt < policy.attempts:
            sleep(min(delay, policy.max_delay_s))
    raise HTTPFailure(f"{label}: gave up after {policy.attempts} attempts ({problem})")
