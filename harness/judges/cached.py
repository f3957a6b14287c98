"""Every judge call cached by (judge, system prompt, user prompt), so reruns cost nothing."""

from __future__ import annotations

from harness.generate.cache import GenerationCache, request_key
from harness.judges.clients import JudgeClient

JUDGE_CACHE_VERSION = "judge-v1"


class CachedJudge:
    """``repeat`` > 0 asks the same prompt again as a separate cached call (judge-noise measurement)."""

    def __init__(self, client: JudgeClient, cache: GenerationCache | None, repeat: int = 0):
        self.client, self.cache, self.name, self.repeat = client, cache, client.name, repeat
        self.hits = 0

    def with_repeat(self, repeat: int) -> CachedJudge:
        return CachedJudge(self.client, self.cache, repeat)

    def complete(self, system: str, user: str) -> str:
        params = {"temperature": 0, **({"repeat": self.repeat} if self.repeat else {})}
        key = request_key(self.client.name, "judge", [system, user], params, JUDGE_CACHE_VERSION)
        if self.cache is not None:
            found = self.cache.get_many([key])
            if key in found:
                self.hits += 1
                return found[key]
        text = self.client.complete(system, user)
        if self.cache is not None:
            self.cache.put(key, text, self.client.name, "judge")
        return text
