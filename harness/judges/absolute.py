"""Absolute judgment: DeepEval's HallucinationMetric, the source as the only context, one verdict per summary.

Normalised to one direction: **higher = more hallucinated** (0 or 1 with one context). DeepEval's
own score flipped between releases: 2.x returns the share of contradicted contexts (the
hallucination rate, what the study reported); 4.x returns the share of agreeing verdicts (1 - rate).
``hallucination_rate`` converts by the installed major version.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from harness.judges.cached import CachedJudge

SYSTEM = "You are a careful, unbiased judge. Follow the instructions and answer in the JSON format requested."


def _deepeval_major() -> int:
    from importlib.metadata import version

    return int(version("deepeval").split(".")[0])


def judge_model(judge: CachedJudge):
    """The judge as a DeepEval model. ``generate`` takes no ``schema`` argument, so DeepEval parses JSON
    out of the text (its documented fallback for custom models)."""
    from deepeval.models import DeepEvalBaseLLM

    class HarnessJudge(DeepEvalBaseLLM):
        def __init__(self):
            super().__init__(judge.name)

        def load_model(self):
            return judge

        def generate(self, prompt: str) -> str:
            return judge.complete(SYSTEM, prompt)

        async def a_generate(self, prompt: str) -> str:
            return judge.complete(SYSTEM, prompt)

        def get_model_name(self) -> str:
            return judge.name

    return HarnessJudge()


@dataclass
class AbsoluteJudgment:
    judge: str
    hallucination: float | None  # higher = more hallucinated; None when the judge's answer was unusable
    reason: str | None
    error: str | None


def hallucination_rate(
    judge: CachedJudge, source: str, summary: str, instruction: str, threshold: float = 0.5
) -> AbsoluteJudgment:
    from deepeval.metrics import HallucinationMetric
    from deepeval.test_case import LLMTestCase

    major = _deepeval_major()
    if major == 3:
        raise NotImplementedError("deepeval 3.x: score direction not verified; use 2.x or 4.x")
    with warnings.catch_warnings():  # 4.x warns that its direction changed: handled below
        warnings.simplefilter("ignore", DeprecationWarning)
        metric = HallucinationMetric(
            threshold=threshold if major < 3 else 1.0 - threshold,
            model=judge_model(judge),
            include_reason=False,
            async_mode=False,
        )
    case = LLMTestCase(input=instruction, actual_output=summary, context=[source])
    try:
        score = metric.measure(case)
    except Exception as exc:  # noqa: BLE001 - DeepEval raises plain ValueError/TypeError on unparseable answers
        return AbsoluteJudgment(judge.name, None, None, f"{type(exc).__name__}: {str(exc)[:200]}")
    rate = score if major < 3 else 1.0 - score
    return AbsoluteJudgment(judge.name, float(rate), metric.reason, None)
