"""Test double for generation backends: answers each rendered prompt from a script keyed by text the
prompt contains (the user's question, a task's problem), so scoring code can be checked on answers
known to be right or wrong."""

from __future__ import annotations


class ScriptedBackend:
    name, version, batch_size, checkpoint = "scripted", "scripted-1", 8, "scripted"

    def __init__(self, tokenizer, script: dict[str, str]):
        self.tokenizer, self.script, self.seen = tokenizer, script, []

    def generate(self, prompts, max_new_tokens=256):
        self.seen += list(prompts)
        return [next(answer for key, answer in self.script.items() if key in text) for text in prompts]

    def loglikelihood(self, requests):
        raise AssertionError("the scripted backend only generates")
