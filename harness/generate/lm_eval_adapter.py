"""lm-evaluation-harness on any moegate backend: an ``lm_eval`` LM whose requests go through the
generation cache, so lm-eval tasks (GSM8K, MMLU, IFEval, ...) run on transformers or a vLLM server,
resume after interruption and never mix two checkpoints' answers.

Greedy only (the harness's decoding). ``generate_until`` generates ``max_gen_toks`` tokens and cuts
at the first stop string, which equals stopping there under greedy decoding. ``loglikelihood``
returns lm-eval's (log-probability, is_greedy) with is_greedy always False: metrics built on
is_greedy (e.g. LAMBADA's acc) are not supported; multiple-choice ``acc`` uses log-probabilities only.
"""

from __future__ import annotations

from typing import Any

from lm_eval.api.model import LM

from harness.generate.base import render_chat
from harness.generate.cached import CachedBackend

DEFAULT_GEN_TOKENS = 256


class HarnessLM(LM):
    def __init__(self, backend: CachedBackend):
        super().__init__()
        self.backend = backend

    @property
    def tokenizer_name(self) -> str:
        """Part of lm-eval's cache key for chat-rendered requests: the checkpoint's content hash."""
        return self.backend.checkpoint

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """lm-eval's chat rendering (``apply_chat_template=True``): the model's own template and chat
        settings, exactly as moegate renders its own prompts."""
        return render_chat(self.backend.tokenizer, chat_history, self.backend.chat_kwargs, add_generation_prompt)

    def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
        return [(ll, False) for ll in self.backend.loglikelihood([tuple(r.args) for r in requests])]

    def loglikelihood_rolling(self, requests: list[Any]) -> list[float]:
        raise NotImplementedError("perplexity tasks (loglikelihood_rolling) are not supported by moegate's backends")

    def generate_until(self, requests: list[Any]) -> list[str]:
        groups: dict[tuple, list[int]] = {}
        for i, r in enumerate(requests):
            kwargs = dict(r.args[1])
            if kwargs.get("do_sample") or (kwargs.get("temperature") or 0) > 0:
                raise ValueError("moegate generates greedily; the task asks for sampling")
            until = kwargs.get("until") or []
            groups.setdefault(
                (
                    int(kwargs.get("max_gen_toks", DEFAULT_GEN_TOKENS)),
                    tuple([until] if isinstance(until, str) else until),
                ),
                [],
            ).append(i)
        out = [""] * len(requests)
        for (max_tokens, until), rows in groups.items():
            texts = self.backend.generate([requests[i].args[0] for i in rows], max_tokens, chat=False)
            for i, text in zip(rows, texts):
                cut = min([text.find(s) for s in until if s and s in text] or [len(text)])
                out[i] = text[:cut]
        return out
