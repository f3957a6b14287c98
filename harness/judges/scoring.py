"""Per-item values of judged checks for the gate: baseline vs variant on the same sources.

absolute: the majority (mean) of the judges' normalised hallucination per summary, baseline and
variant each judged; pairwise: per item, the share of (judge, order) answers saying the pruned summary
hallucinates more, against 0.5 for the baseline (no difference). Items a judge could not answer are
left out of that judge's vote; an item no judge answered is dropped from both sides and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.judges.absolute import hallucination_rate
from harness.judges.cached import CachedJudge
from harness.judges.pairwise import judge_pair
from harness.measure.checks import CheckSpec
from harness.measure.tasks import TaskRun


@dataclass
class JudgedValues:
    baseline: list[float]
    variant: list[float]
    kept: list[int]  # item indices with a usable answer
    dropped: list[str] = field(default_factory=list)  # item ids no judge could answer


def _mean(values: list[float | None]) -> float | None:
    usable = [v for v in values if v is not None]
    return sum(usable) / len(usable) if usable else None


def judged_values(check: CheckSpec, run: TaskRun, baseline: TaskRun, judges: list[CachedJudge],
                  instruction: str) -> JudgedValues:
    out = JudgedValues([], [], [])
    for i, item in enumerate(run.items):
        if check.judged == "absolute":
            base = _mean([hallucination_rate(j, item.source, baseline.outputs[i], instruction).hallucination for j in judges])
            mine = _mean([hallucination_rate(j, item.source, run.outputs[i], instruction).hallucination for j in judges])
        else:
            picks = [p for j in judges for p in judge_pair(j, item.source, baseline.outputs[i], run.outputs[i])
                     .picks("q1_hallucinations_more")]
            base, mine = 0.5, (sum(p == "pruned" for p in picks) / len(picks)) if picks else None
        if base is None or mine is None:
            out.dropped.append(item.id)
            continue
        out.baseline.append(base)
        out.variant.append(mine)
        out.kept.append(i)
    return out
