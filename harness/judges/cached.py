"""Every judge call cached by (judge, system prompt, user prompt), so reruns cost nothing."""

from __future__ import annotations

from harness.generate.cache import GenerationCache, request_key
from harness.judges.clients import JudgeClient

JUDGE_CACHE_VERSION = "judge-v1"


class CachedJudge:
    def __init__(self, client: JudgeClient, cache: GenerationCache | None):
        self.client, self.cache, self.name = client, cache, client.name
        self.hits = 0

    def complete(self, system: str, user: str) -> str:
        key = request_key(self.client.name, "judge", [system, user], {"temperature": 0}, JUDGE_CACHE_VERSION)
        if self.cache is not None:
            found = self.cache.get_many([key])
            if key in found:
                self.hits += 1
                return found[key]
        text = self.client.complete(system, user)
        if self.cache is not None:
            self.cache.put(key, text, self.client.name, "judge")
        return text
