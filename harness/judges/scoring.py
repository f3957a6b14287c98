"""Per-item values of judged checks for the gate: baseline vs variant on the same sources.

absolute: the majority (mean) of the judges' normalised hallucination per summary, baseline and
variant each judged; pairwise: per item, the share of (judge, order) answers saying the pruned summary
hallucinates more, against 0.5 for the baseline (no difference). Items a judge could not answer are
left out of that judge's vote; an item no judge answered is dropped from both sides and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.judges.absolute import hallucination_rate
from harness.judges.agreement import WEAK_BELOW, fleiss_kappa, pairwise_cohen
from harness.judges.cached import CachedJudge
from harness.judges.pairwise import PairJudgment, judge_pair
from harness.measure.checks import CheckSpec
from harness.measure.tasks import TaskRun


@dataclass
class JudgedValues:
    baseline: list[float]
    variant: list[float]
    kept: list[int]  # item indices with a usable answer
    dropped: list[str] = field(default_factory=list)  # item ids no judge could answer
    per_judge: dict[str, list[float | None]] = field(default_factory=dict)  # variant-side value per judge and item
    pass_rates: list[float] = field(default_factory=list)  # per item: share of (judge, repeat) votes <= 0.5
    records: list[dict] = field(default_factory=list)  # harness.judges.records layout, first repeat, per item

    def summary(self) -> dict:
        """Per-judge means, the share of items a strict majority of judges marks (> 0.5), and, with two or more
        judges, agreement on the items every judge answered (labels: hallucinated > 0.5 for absolute, the side
        picked for pairwise)."""
        means = {
            j: (sum(v for v in vals if v is not None) / max(1, sum(v is not None for v in vals)))
            for j, vals in self.per_judge.items()
        }
        judges = sorted(self.per_judge)
        n_items = len(next(iter(self.per_judge.values()), []))
        votes = [[v for j in judges if (v := self.per_judge[j][i]) is not None] for i in range(n_items)]
        majority = [sum(v > 0.5 for v in item) > len(item) / 2 for item in votes if item]
        out: dict = {
            "per_judge_mean": means,
            "dropped_items": self.dropped,
            "majority_rate": (sum(majority) / len(majority)) if majority else None,
            "unstable_items": sum(0.0 < r < 1.0 for r in self.pass_rates),
            "per_item_pass_rate": self.pass_rates,
        }
        complete = [i for i in range(n_items) if all(self.per_judge[j][i] is not None for j in judges)]
        if len(judges) >= 2 and complete:
            labels = {j: [(self.per_judge[j][i] or 0.0) > 0.5 for i in complete] for j in judges}
            out["fleiss_kappa"] = fleiss_kappa([[labels[j][k] for j in judges] for k in range(len(complete))])
            out["cohen_kappa"] = pairwise_cohen(labels)
            out["mean_cohen_kappa"] = sum(out["cohen_kappa"].values()) / len(out["cohen_kappa"])
            out["weak_evidence"] = out["mean_cohen_kappa"] < WEAK_BELOW
        return out


def _mean(values: list[float | None]) -> float | None:
    usable = [v for v in values if v is not None]
    return sum(usable) / len(usable) if usable else None


def _vote(
    check: CheckSpec, judge: CachedJudge, source: str, baseline: str, summary: str, instruction: str
) -> tuple[float | None, PairJudgment | None]:
    if check.judged == "absolute":
        return hallucination_rate(judge, source, summary, instruction).hallucination, None
    pair = judge_pair(judge, source, baseline, summary)
    picks = pair.picks("q1_hallucinations_more")
    return (sum(p == "pruned" for p in picks) / len(picks) if picks else None), pair


def _records(check: CheckSpec, item_id: str, base: dict[str, float | None], votes: dict[str, tuple]) -> list[dict]:
    """This item's judgements in the study's layout (``harness.judges.records``); pairwise: one record per order."""
    head = {"document_id": f"{check.task}:{item_id}", "dataset": check.task}
    if check.judged == "absolute":
        return [
            head
            | {
                "source_model_absolute_judgement": {j: {"score": v} for j, v in base.items()},
                "pruned_model_absolute_judgement": {j: {"score": v} for j, (v, _) in votes.items()},
            }
        ]
    rows = []
    for order, side in (("baseline_first", "baseline_first"), ("pruned_first", "pruned_first")):
        answers = {
            j: {"resolved_answers": {q: "vanilla" if a == "baseline" else a for q, a in getattr(p, side).items()}}
            for j, (_, p) in votes.items()
            if p is not None and getattr(p, side) is not None
        }
        if answers:
            rows.append(head | {"order": order, "judge_model_answers": answers})
    return rows


def judged_values(
    check: CheckSpec, run: TaskRun, baseline: TaskRun, judges: list[CachedJudge], instruction: str, repeats: int = 1
) -> JudgedValues:
    """``repeats`` > 1 asks every judge again (separately cached) to measure judge noise: the value is
    the mean over judges and repeats, and each item's pass rate is reported."""
    out = JudgedValues([], [], [])
    out.per_judge = {j.name: [] for j in judges}
    for i, item in enumerate(run.items):
        base_by_judge = (
            {j.name: hallucination_rate(j, item.source, baseline.outputs[i], instruction).hallucination for j in judges}
            if check.judged == "absolute"
            else {}
        )
        base = _mean(list(base_by_judge.values())) if check.judged == "absolute" else 0.5
        asked = {
            j.name: [
                _vote(check, j.with_repeat(r), item.source, baseline.outputs[i], run.outputs[i], instruction)
                for r in range(repeats)
            ]
            for j in judges
        }
        out.records += _records(check, item.id, base_by_judge, {j: a[0] for j, a in asked.items()})
        per_repeat = {j: [v for v, _ in a] for j, a in asked.items()}
        votes = [_mean(v) for v in per_repeat.values()]
        for j, vote in zip(judges, votes):
            out.per_judge[j.name].append(vote)
        mine = _mean(votes)
        flat = [v for vs in per_repeat.values() for v in vs if v is not None]
        if flat:
            out.pass_rates.append(sum(v <= 0.5 for v in flat) / len(flat))
        if base is None or mine is None:
            out.dropped.append(item.id)
            continue
        out.baseline.append(base)
        out.variant.append(mine)
        out.kept.append(i)
    return out
