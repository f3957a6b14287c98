"""Checks: one per-item value per (task, metric), compared between the baseline and a variant.

A check is utility or reliability, binary (0/1 per item: paired with McNemar) or continuous (paired
bootstrap), and says which direction is better. Relative checks (length vs the baseline's summary)
get the baseline's run; the baseline's own value is then computed against itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from harness.measure.tasks import TaskRun
from harness.metrics import factcheck, medinst
from harness.metrics import medhalt as medhalt_metrics

Value = Callable[[TaskRun, int, TaskRun], float]
Category = Literal["utility", "reliability"]
Judged = Literal["absolute", "pairwise", "bertscore"]


#: where the leakage checks get the prompt instructions whose echo in an answer is leakage (every
#: registered benchmark's): set by ``harness.benchmarks`` when imported, so this stage never imports the
#: benchmark units built on it
_instruction_source: Callable[[], tuple[str, ...]] = tuple


def use_instructions(source: Callable[[], tuple[str, ...]]) -> None:
    """Take the leakage checks' instructions from ``source`` (called at each check)."""
    global _instruction_source
    _instruction_source = source


def _instructions() -> tuple[str, ...]:
    return _instruction_source()


@dataclass(frozen=True)
class CheckSpec:
    name: str  # "<task>.<metric>"
    category: Category
    binary: bool
    higher_is_better: bool
    value: Value | None  # None for judged checks (values come from LLM judges)
    description: str
    judged: Judged | None = (
        None  # values from outside: "absolute"/"pairwise" (--judge), "bertscore" (--bertscore-encoder)
    )

    @property
    def task(self) -> str:
        return self.name.split(".", 1)[0]

    def values(self, run: TaskRun, baseline: TaskRun) -> list[float]:
        if self.value is None:
            raise ValueError(f"{self.name} is judged: its values come from harness.judges.scoring")
        return [self.value(run, i, baseline) for i in range(len(run.items))]

    def details(self, run: TaskRun, i: int, baseline: TaskRun) -> dict:
        """What a reviewer needs to judge item i: prompt, both answers, and fact-check spans."""
        item, out = run.items[i], run.outputs[i]
        shown = (
            (lambda o: item.choices[o])
            if item.choices
            else (lambda o: o["response"])
            if isinstance(out, dict)
            else (lambda o: o)
        )  # noqa: E731
        info = {
            "id": item.id,
            "prompt": item.prompt[-1500:],
            "reference": item.reference[:1500],
            "baseline_output": shown(baseline.outputs[i]),
            "variant_output": shown(out),
        }
        if item.source and not item.choices and isinstance(out, str):
            info["fact_check"] = factcheck.check(out, item.source, baseline.outputs[i], _instructions()).as_dict()
        return info


def medhalt_accuracy(task: str) -> CheckSpec:
    """Med-HALT accuracy under the official parsing (a parse failure is wrong)."""
    return CheckSpec(
        f"medhalt_{task}.accuracy",
        "reliability",
        True,
        True,
        _medhalt_correct(task),
        f"Med-HALT {task.upper()} accuracy (official parsing; parse failures are wrong)",
    )


def _medhalt_correct(task: str) -> Value:
    return lambda run, i, _b: float(
        bool(medhalt_metrics.is_correct(task, medhalt_metrics.parse_output(run.outputs[i]), run.items[i].reference))
    )


def _choice_correct(run: TaskRun, i: int, _b: TaskRun) -> float:
    return float(run.outputs[i] == run.items[i].answer)


def choice_accuracy(task: str, description: str) -> CheckSpec:
    """Share of items whose highest-likelihood choice is the gold one."""
    return CheckSpec(f"{task}.accuracy", "utility", True, True, _choice_correct, f"{description}: accuracy")


def _lm_eval_value(run: TaskRun, i: int, _b: TaskRun) -> float:
    return run.outputs[i]["value"]


def lm_eval_check(name: str, description: str) -> CheckSpec:
    """A utility check whose per-item value is lm-eval's own per-sample metric."""
    return CheckSpec(name, "utility", True, True, _lm_eval_value, description)


def rouge_check(task: str, description: str) -> CheckSpec:
    return CheckSpec(f"{task}.rouge_l", "utility", False, True, _rouge, description)


def _faithful_numbers(run: TaskRun, i: int, _b: TaskRun) -> float:
    return float(factcheck.numbers_faithful(run.outputs[i], run.items[i].source))


def _no_leakage(run: TaskRun, i: int, _b: TaskRun) -> float:
    return float(
        not [
            f
            for f in factcheck.check(run.outputs[i], run.items[i].source, instructions=_instructions()).findings
            if f.kind == "instruction_leakage"
        ]
    )


def _length_agreement(run: TaskRun, i: int, baseline: TaskRun) -> float:
    """min(r, 1/r) for r = words / baseline words: 1 = same length; collapse and inflation both lower it."""
    mine, base = len(factcheck.words(run.outputs[i])), len(factcheck.words(baseline.outputs[i]))
    if not mine or not base:
        return float(mine == base)
    return min(mine / base, base / mine)


def _repetition(run: TaskRun, i: int, _b: TaskRun) -> float:
    return factcheck.repetition_rate(run.outputs[i])


def _rouge(run: TaskRun, i: int, _b: TaskRun) -> float:
    return medinst.rouge_l(run.outputs[i], run.items[i].reference)


def summary_checks(task: str, *, rouge: bool, bertscore: bool) -> tuple[CheckSpec, ...]:
    """The reliability checks of a summary task (fact fidelity, leakage, collapse, repetition, judged
    hallucination), with ROUGE-L and BERTScore against the reference where the benchmark gates them."""
    checks = [
        CheckSpec(
            f"{task}.number_fidelity",
            "reliability",
            True,
            True,
            _faithful_numbers,
            "share of summaries whose every number and unit appears in the source",
        ),
        CheckSpec(
            f"{task}.no_leakage",
            "reliability",
            True,
            True,
            _no_leakage,
            "share of summaries that do not echo the prompt template",
        ),
        CheckSpec(
            f"{task}.length_agreement",
            "reliability",
            False,
            True,
            _length_agreement,
            "min(r, 1/r), r = summary words / baseline summary words (collapse or inflation)",
        ),
        CheckSpec(
            f"{task}.repetition",
            "reliability",
            False,
            False,
            _repetition,
            "share of repeated word trigrams (lower is better)",
        ),
        CheckSpec(
            f"{task}.hallucination",
            "reliability",
            False,
            False,
            None,
            "DeepEval hallucination (source as context; higher = more hallucinated; majority of judges)",
            judged="absolute",
        ),
        CheckSpec(
            f"{task}.pairwise_hallucination",
            "reliability",
            False,
            False,
            None,
            "share of pairwise judgments (both orders, all judges) saying the pruned summary hallucinates more; "
            "baseline 0.5",
            judged="pairwise",
        ),
    ]
    if rouge:
        checks.append(rouge_check(task, "ROUGE-L F (stemmed) against the reference"))
    if bertscore:
        checks.append(
            CheckSpec(
                f"{task}.bertscore",
                "utility",
                False,
                True,
                None,
                "BERTScore F1 against the reference (local encoder, --bertscore-encoder)",
                judged="bertscore",
            )
        )
    return tuple(checks)
