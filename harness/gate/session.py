"""A gate run: which variants, where their data is, their answers and the baseline's, and the verdicts.

Answers are computed per checkpoint for every task the collected tests need, with one backend
opened at a time (pytest orders the tests by variant), through the generation cache; the baseline's
answers come from the baseline store when present.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from harness.benchmarks import get_check, get_task
from harness.gate.baseline import BaselineStore, baseline_key
from harness.gate.modes import Calibration, Quant
from harness.gate.outputs import ExternalVariant, OutputsFile, output_rows
from harness.gate.shared_work import exclusive
from harness.gate.thresholds import Thresholds
from harness.gate.variants import VariantSpec, build, mask_spec, model_name
from harness.gate.verdict import CheckVerdict, decide
from harness.generate.backends import BackendOptions, auto_device, open_backend
from harness.generate.cache import GenerationCache, default_cache_dir
from harness.generate.skipping import read_counts, stats_path
from harness.judges.cached import CachedJudge
from harness.judges.clients import make_client
from harness.judges.scoring import judged_values
from harness.measure.tasks import Item, TaskRun, answer, load_items
from harness.metrics import code_exec
from harness.metrics.bertscore import bertscore_f1
from harness.models.fingerprint import checkpoint_fingerprint
from harness.models.loading import ResolvedModel, resolve
from harness.models.registry import get_spec
from harness.models.streaming import CalibrationMode
from harness.prune.methods import default_methods


@dataclass
class GateConfig:
    models: list[str] = field(default_factory=lambda: ["tiny-moe"])
    methods: list[str] = field(default_factory=lambda: list(default_methods()))
    ratios: list[float] = field(default_factory=lambda: [0.5])
    seeds: list[int] = field(default_factory=lambda: [0])
    calibrations: list[Calibration] = field(default_factory=lambda: ["biomedical"])
    quant: Quant = "none"
    calibration_mode: CalibrationMode = "auto"  # how variants are calibrated (harness.models.streaming)
    backend: BackendOptions = field(default_factory=BackendOptions)
    data_dir: Path | None = None
    variants_dir: Path = Path("runs/variants")
    baseline_dir: Path = Path("runs/baselines")
    refresh_baseline: bool = False
    thresholds: Thresholds = field(default_factory=Thresholds.load)
    limit: int | None = None
    calibration_files: dict[str, Path] = field(default_factory=dict)
    judges: list[str] = field(default_factory=list)  # judge specs, e.g. openai:gpt-5.4-mini
    bertscore_encoder: Path | None = None  # local encoder directory for BERTScore checks
    judge_repeats: int = 1  # > 1: judge every item again (judge noise, per-item pass rates)
    masks: dict[str, Path] = field(default_factory=dict)  # NAME -> kept-expert mask file: one variant each
    skip_betas: list[float | None] = field(default_factory=lambda: [None])  # a variant axis: None = no skipping
    outputs: OutputsFile | None = None  # gate outputs generated elsewhere instead of building variants
    save_outputs: bool = False  # keep every answered (variant, task) pair as output rows

    def specs(self) -> list[VariantSpec] | list[ExternalVariant]:
        if self.outputs is not None:
            return self.outputs.variants
        scored = [
            VariantSpec(m, meth, r, s, c, self.quant)
            for m in self.models
            for meth in self.methods
            for r in self.ratios
            for s in self.seeds
            for c in self.calibrations
        ]
        masked = [
            mask_spec(m, name, path, self.seeds[0], c, self.quant)
            for m in self.models
            for name, path in self.masks.items()
            for c in self.calibrations
        ]
        return [spec.with_skip(beta) for spec in scored + masked for beta in self.skip_betas]


class GateSession:
    def __init__(self, config: GateConfig, needed_checks: set[str]):
        self.config = config
        self.checks = sorted(needed_checks)
        self.baselines = BaselineStore(config.baseline_dir, refresh=config.refresh_baseline)
        self.verdicts: list[CheckVerdict] = []
        self._resolved: dict[str, ResolvedModel] = {}
        self._paths: dict[VariantSpec, Path] | None = None
        self._items: dict[tuple[str, str], list[Item]] = {}
        self._runs: dict[tuple[str, str], TaskRun] = {}
        self.judges: list[CachedJudge] = []
        self.output_rows: list[dict] = []  # config.save_outputs: rows of every pair checked
        self._saved: set[tuple[str, str]] = set()
        self._fingerprints: dict[Path, str] = {}
        if config.judges:
            cache = GenerationCache((config.backend.cache_dir or default_cache_dir()) / "judges.sqlite")
            self.judges = [CachedJudge(make_client(spec), cache) for spec in config.judges]

    def skip_reason(self, model: str, check_name: str, variant: str | None = None) -> str | None:
        """Why ``check_name`` cannot run on ``model`` (or, gating outputs, on ``variant``'s rows) here (the
        pytest skip reason), or None. Tasks whose every check is skipped are never answered."""
        check = get_check(check_name)
        outputs = self.config.outputs
        if outputs is not None and get_task(check.task).request == "lm_eval":
            return (
                f"{check_name} is scored by lm-eval on the model's own requests: gate it with the model, "
                "not from outputs"
            )
        if outputs is not None and outputs.pair(variant or "", check.task) is None:
            return f"{check_name}: {outputs.path} has no {check.task} rows for {variant}"
        spec = get_spec(model)
        if outputs is None and spec and check.task in spec.skip_tasks:
            return f"{check_name} on {model_name(model)}: {spec.skip_tasks[check.task]}"
        if outputs is None and spec and spec.tasks is not None and check.task not in spec.tasks:
            return (
                f"{check_name} on {model_name(model)}: the embedded model was built for {len(spec.tasks)} tasks and "
                f"ships no {check.task} data (run it on real models)"
            )
        rows = outputs.pair(variant or "", check.task) if outputs is not None else None
        if (
            outputs is not None
            and rows is not None
            and check.name.endswith((".rouge_l", ".bertscore"))
            and not all(it.reference for it in rows[0].items)
        ):
            return f"{check_name}: the {check.task} rows of {variant} in {outputs.path} carry no 'reference'"
        if get_task(check.task).executes_code and not code_exec.allowed():
            return (
                f"{check_name} executes model-written code: set {code_exec.ALLOW_ENV}=1 to allow it (as the study "
                "did), preferably inside a container"
            )
        if check.judged == "bertscore" and self.config.bertscore_encoder is None:
            return f"{check_name} needs --bertscore-encoder DIR (a local encoder directory; nothing is downloaded)"
        if check.judged in ("absolute", "pairwise") and not self.judges:
            return (
                f"{check_name} needs an LLM judge: pass --judge PROVIDER:MODEL (openai, anthropic, gemini or "
                "openai-compatible:MODEL@URL; keys from OPENAI_API_KEY / ANTHROPIC_API_KEY / GEMINI_API_KEY)"
            )
        return None

    def tasks(self, model: str) -> list[str]:
        """The tasks ``model``'s checkpoints answer: those of its checks that are not skipped."""
        return sorted({get_check(c).task for c in self.checks if self.skip_reason(model, c) is None})

    def resolved(self, model: str) -> ResolvedModel:
        if model not in self._resolved:
            self._resolved[model] = resolve(model)
        return self._resolved[model]

    def data_dir(self, model: str) -> Path | None:
        if self.config.data_dir is not None:
            return self.config.data_dir
        spec = get_spec(model)
        return spec.data_dir if spec else None

    def items(self, model: str, task: str) -> list[Item]:
        if (model, task) not in self._items:
            self._items[(model, task)] = load_items(get_task(task), self.data_dir(model), self.config.limit)
        return self._items[(model, task)]

    def variant_path(self, spec: VariantSpec) -> Path:
        """Build (or reuse) every configured variant on the first request."""
        if self._paths is None:
            device = self.config.backend.device or auto_device()
            specs = [s for s in self.config.specs() if isinstance(s, VariantSpec)]  # outputs mode builds nothing
            self._paths = build(
                specs,
                self.config.variants_dir,
                self.config.calibration_files,
                device,
                {m: self.resolved(m) for m in self.config.models},
                self.config.calibration_mode,
            )
        return self._paths[spec]

    def _answer_all(self, tag: str, model: str, path: Path, tasks: list[str], skip_beta: float | None = None) -> None:
        chat = self.resolved(model).chat_template_kwargs
        options = replace(self.config.backend, skip_beta=skip_beta)
        with open_backend(path, chat, options) as backend:
            for task in tasks:
                self._runs[(tag, task)] = answer(get_task(task), self.items(model, task), backend)

    def baseline(self, model: str, task: str) -> TaskRun:
        """The unpruned model's answers: from the store, else answered once (under a lock that xdist workers
        share: one answers, the others then read what it stored)."""
        tag = f"baseline:{model}"
        if (tag, task) not in self._runs:
            path = self.resolved(model).path
            fingerprint = checkpoint_fingerprint(path)
            keys = {
                t: baseline_key(fingerprint, get_task(t), self.items(model, t), self.config.backend.kind)
                for t in self.tasks(model)
            }
            name = model_name(model)
            if self._stored_baseline(tag, model, keys):
                with exclusive(self.baselines.lock_path(name)):
                    missing = self._stored_baseline(tag, model, keys)
                    if missing:
                        self._answer_all(tag, model, path, missing)
                        for t in missing:
                            self.baselines.put(
                                name, self._runs[(tag, t)], keys[t], {"model": model, "fingerprint": fingerprint}
                            )
        return self._runs[(tag, task)]

    def _stored_baseline(self, tag: str, model: str, keys: dict[str, str]) -> list[str]:
        """Take the stored baseline answers in; the tasks that have none."""
        missing = []
        for t, key in keys.items():
            stored = self.baselines.get(model_name(model), get_task(t), self.items(model, t), key)
            if stored is None:
                missing.append(t)
            else:
                self._runs[(tag, t)] = stored
        return missing

    def run(self, spec: VariantSpec, task: str) -> TaskRun:
        if (spec.id, task) not in self._runs:
            self._runs = {k: v for k, v in self._runs.items() if k[0].startswith("baseline:")}  # one variant in memory
            self._answer_all(spec.id, spec.model, self.variant_path(spec), self.tasks(spec.model), spec.skip_beta)
        return self._runs[(spec.id, task)]

    def skipped_share(self, spec: VariantSpec) -> str:
        """Share of routed expert calls skipped over every generation made for this variant (its
        checkpoint and beta); "n/a" when every answer came from the cache of an earlier version."""
        assert spec.skip_beta is not None
        cache_dir = self.config.backend.cache_dir or default_cache_dir()
        path = self.variant_path(spec)
        if path not in self._fingerprints:  # hashed once per checkpoint, not once per check
            self._fingerprints[path] = checkpoint_fingerprint(path)
        skipped, total = read_counts(stats_path(cache_dir, self._fingerprints[path], spec.skip_beta))
        return f"{skipped / total:.3f}" if total else "n/a"

    def pair(self, spec: VariantSpec | ExternalVariant, task: str) -> tuple[TaskRun, TaskRun]:
        """The baseline's and the variant's answers to ``task`` on the same items (kept as output rows
        when the config says so)."""
        if isinstance(spec, ExternalVariant):
            assert self.config.outputs is not None
            found = self.config.outputs.pair(spec.id, task)
            if found is None:
                raise ValueError(f"{self.config.outputs.path} has no {task} rows for {spec.id}")
            return found
        pair = self.baseline(spec.model, task), self.run(spec, task)
        if self.config.save_outputs and (spec.id, task) not in self._saved:
            self._saved.add((spec.id, task))
            self.output_rows += output_rows(spec, *pair)
        return pair

    def check(self, spec: VariantSpec | ExternalVariant, check_name: str) -> CheckVerdict:
        reason = self.skip_reason(spec.model, check_name, spec.id)
        if reason:
            raise ValueError(f"cannot run {check_name}: {reason}")
        check = get_check(check_name)
        baseline, run = self.pair(spec, check.task)
        threshold = self.config.thresholds.for_check(spec.model_name, check.name)
        if check.judged == "bertscore":
            encoder = self.config.bertscore_encoder
            assert encoder is not None, "skip_reason() skips BERTScore checks without an encoder"
            score = lambda r: bertscore_f1(r.outputs, [it.reference for it in r.items], encoder)  # noqa: E731
            verdict = decide(spec.id, spec.parameters(), check, baseline, run, threshold, (score(baseline), score(run)))
        elif check.judged:
            judged = judged_values(
                check, run, baseline, self.judges, get_task(check.task).judge_instruction, self.config.judge_repeats
            )
            keep = lambda r: TaskRun(r.task, [r.items[i] for i in judged.kept], [r.outputs[i] for i in judged.kept])  # noqa: E731
            verdict = decide(
                spec.id,
                spec.parameters(),
                check,
                keep(baseline),
                keep(run),
                threshold,
                (judged.baseline, judged.variant),
            )
            verdict.extra = judged.summary()
            verdict.records = [
                r | {"pruning_ratio": spec.ratio, "pruning_method": spec.method, "variant": spec.id}
                for r in judged.records
            ]  # ratio None for outputs that name none
        else:
            verdict = decide(spec.id, spec.parameters(), check, baseline, run, threshold)
        if isinstance(spec, VariantSpec) and spec.skip_beta is not None:
            verdict.parameters["skipped_expert_calls"] = self.skipped_share(spec)
        self.verdicts.append(verdict)
        return verdict
