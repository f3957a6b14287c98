"""Relative judgment: which of two summaries of the same source hallucinates, omits, repeats more,
and which is better aligned, asked in BOTH A/B orders so position bias cancels and can be measured.

The prompt follows the reference study's pairwise judge as described in its code (system "careful,
unbiased judge"; source only, strict support; four forced A/B questions; JSON-only answer with keys
q1_hallucinations_more, q2_omission_more, q3_repetition_more, q4_alignment_more; DOC/A/B markers;
document clipped to 768 words and summaries to 384). The study's verbatim text was not available to
us: this wording is ours, the structure and keys are the study's. The study asked one order per
pair; we ask both and count disagreements.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from harness.judges.cached import CachedJudge

QUESTIONS = ("q1_hallucinations_more", "q2_omission_more", "q3_repetition_more", "q4_alignment_more")
SYSTEM = "You are a careful, unbiased judge of summary quality."
DOC_WORDS, SUMMARY_WORDS = 768, 384
RETRY_NOTE = (
    f'Your previous response was invalid. Return ONLY valid JSON with the keys {", ".join(QUESTIONS)}, each "A" or "B".'
)
TEMPLATE = """Compare two summaries, A and B, of the same source document. Use ONLY the source document, \
not outside knowledge, and be strict: a statement is supported only if the document supports it.

Answer each question with "A" or "B" (ties are not allowed):
Q1. Which summary contains MORE hallucinations (statements not supported by, or contradicting, the document)?
Q2. Which summary omits MORE crucial information from the document?
Q3. Which summary is MORE repetitive?
Q4. Which summary is MORE semantically aligned with the document?

Return ONLY a JSON object: {{"q1_hallucinations_more": "A or B", "q2_omission_more": "A or B", \
"q3_repetition_more": "A or B", "q4_alignment_more": "A or B"}}

<<<DOC
{document}
DOC>>>

<<<A
{a}
A>>>

<<<B
{b}
B>>>"""


def clip(text: str, words: int) -> str:
    return " ".join(text.split()[:words])


def parse_answer(text: str) -> dict[str, str] | None:
    """The four A/B answers, or None: fences stripped, first '{' to last '}', every key present and A/B."""
    text = re.sub(r"```(?:json)?", "", text)
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    answers = {q: str(data.get(q, "")).strip().upper() for q in QUESTIONS}
    return answers if all(a in ("A", "B") for a in answers.values()) else None


@dataclass
class PairJudgment:
    """One judge on one item, both orders; answers mapped to "baseline" / "pruned" (None: unparseable)."""

    judge: str
    baseline_first: dict[str, str] | None
    pruned_first: dict[str, str] | None
    raw: list[str] = field(default_factory=list)

    def picks(self, question: str) -> list[str]:
        return [a[question] for a in (self.baseline_first, self.pruned_first) if a is not None]

    def order_disagrees(self, question: str) -> bool | None:
        if self.baseline_first is None or self.pruned_first is None:
            return None
        return self.baseline_first[question] != self.pruned_first[question]


def _ask(judge: CachedJudge, user: str, retries: int, raw: list[str]) -> dict[str, str] | None:
    prompt = user
    for _ in range(retries + 1):
        text = judge.complete(SYSTEM, prompt)
        raw.append(text)
        answer = parse_answer(text)
        if answer is not None:
            return answer
        prompt = f"{user}\n\n{RETRY_NOTE}"
    return None


def judge_pair(judge: CachedJudge, document: str, baseline: str, pruned: str, retries: int = 2) -> PairJudgment:
    doc, base, prun = clip(document, DOC_WORDS), clip(baseline, SUMMARY_WORDS), clip(pruned, SUMMARY_WORDS)
    raw: list[str] = []
    orders = []
    for a_is_baseline in (True, False):
        a, b = (base, prun) if a_is_baseline else (prun, base)
        answer = _ask(judge, TEMPLATE.format(document=doc, a=a, b=b), retries, raw)
        if answer is not None:
            side = {"A": "baseline" if a_is_baseline else "pruned", "B": "pruned" if a_is_baseline else "baseline"}
            answer = {q: side[v] for q, v in answer.items()}
        orders.append(answer)
    return PairJudgment(judge.name, orders[0], orders[1], raw)


def preference_rates(judgments: list[PairJudgment]) -> dict[str, dict]:
    """Per question: share of parsed answers picking the pruned model (> 0.5 favours the pruned model
    only for q4; for q1-q3 the picked side is the worse one), counts, order disagreements, unparseable."""
    out = {}
    for q in QUESTIONS:
        picks = [p for j in judgments for p in j.picks(q)]
        disagreements = [d for j in judgments if (d := j.order_disagrees(q)) is not None]
        out[q] = {
            "pruned_rate": (sum(p == "pruned" for p in picks) / len(picks)) if picks else None,
            "answers": len(picks),
            "order_disagreements": sum(disagreements),
            "pairs_with_both_orders": len(disagreements),
            "unparseable": sum((j.baseline_first is None) + (j.pruned_first is None) for j in judgments),
        }
    return out
