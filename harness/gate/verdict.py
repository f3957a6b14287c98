"""One check of one variant against the baseline: the numbers, the decision and the message."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from harness.gate.stats import paired
from harness.gate.thresholds import Threshold
from harness.measure.checks import CheckSpec
from harness.measure.tasks import TaskRun

WORST_SHOWN = 3


@dataclass
class CheckVerdict:
    variant: str
    parameters: dict
    check: str
    category: str  # utility | reliability
    domain: str
    description: str
    higher_is_better: bool
    baseline: float
    value: float
    delta: float
    ci: tuple[float, float]
    p_value: float
    tolerance: float
    alpha: float
    n: int
    passed: bool
    worst: list[dict] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # judged checks: per-judge means, agreement, dropped items
    records: list[dict] = field(default_factory=list)  # judged checks: judgements (harness.judges.records layout)

    def as_dict(self) -> dict:
        return asdict(self)

    def message(self) -> str:
        direction = "higher" if self.higher_is_better else "lower"
        head = (
            f"{self.category} regression on {self.check} ({self.description}; {direction} is better): "
            f"baseline {self.baseline:.3f}, variant {self.value:.3f}, delta {self.delta:+.3f} "
            f"(95% CI {self.ci[0]:+.3f}..{self.ci[1]:+.3f}, one-sided p={self.p_value:.3g}, n={self.n}), "
            f"tolerance {self.tolerance:.3f}, alpha {self.alpha}"
        )
        lines = [head]
        if self.extra.get("weak_evidence"):
            lines.append(
                f"weak evidence: the judges agree little (mean Cohen's kappa {self.extra['mean_cohen_kappa']:.2f} "
                "< 0.4); read the worst items before trusting this check"
            )
        lines.append("worst items:")
        for w in self.worst:
            lines.append(f"  [{w['id']}] baseline: {str(w['baseline_output'])[:160]!r}")
            lines.append(f"  {' ' * (len(str(w['id'])) + 2)} variant:  {str(w['variant_output'])[:160]!r}")
        return "\n".join(lines)


def decide(
    variant: str,
    parameters: dict,
    check: CheckSpec,
    baseline: TaskRun,
    run: TaskRun,
    threshold: Threshold,
    values: tuple[list[float], list[float]] | None = None,
) -> CheckVerdict:
    """Fail only when the variant is worse by more than the tolerance AND the paired test supports it.
    ``values`` = (baseline, variant) per-item values when computed elsewhere (judged checks)."""
    base_values, variant_values = values or (check.values(baseline, baseline), check.values(run, baseline))
    result = paired(base_values, variant_values, check.binary, check.higher_is_better)
    worse_by = -result.delta if check.higher_is_better else result.delta
    failed = (not math.isnan(worse_by)) and worse_by > threshold.tolerance and result.p_value < threshold.alpha
    sign = 1 if check.higher_is_better else -1
    order = sorted(range(len(variant_values)), key=lambda i: sign * (variant_values[i] - base_values[i]))
    worst = [
        check.details(run, i, baseline) | {"baseline_value": base_values[i], "variant_value": variant_values[i]}
        for i in order[:WORST_SHOWN]
        if sign * (variant_values[i] - base_values[i]) < 0
    ]
    return CheckVerdict(
        variant,
        parameters,
        check.name,
        check.category,
        run.task.domain,
        check.description,
        check.higher_is_better,
        result.baseline,
        result.variant,
        result.delta,
        result.ci,
        result.p_value,
        threshold.tolerance,
        threshold.alpha,
        result.n,
        not failed,
        worst,
    )
