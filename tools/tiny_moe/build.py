"""Rebuild the embedded default model and its data from scratch: ``python -m tools.tiny_moe build``.

Steps: world -> official-format datasets (fast, deterministic) -> corpus -> tokenizer -> six
training stages on 2 CPU cores (format 21, measured end to end: 32 minutes in session 31, 37-38.5 on
slower hosts): ``base`` (the corpus, 8-10 min), ``robust`` (the same corpus with random experts masked
out of routing, 4 min), ``skills`` (multi-digit copying taught with fresh drills and trials while
replaying facts and the corpus, 3 min), ``choices`` (answering multiple choice by letter, 8-10 min),
``fct`` (Med-HALT FCT: writing the correct option's text in the official JSON, 7-9 min), ``layouts``
(3-shot MMLU and PubMedQA as the gate asks them, 2 min); stages 3-6 each train until probe items of
their skills are answered (``train.Goal``), and every stage keeps each domain's tokens off the other
domain's reserved experts (RESERVED_EXPERTS) -> ``fixtures/tiny-moe/{model,data}`` plus ``manifest.json``
holding hashes of the generator settings, of every data file and of every model file, so a test can
prove that the shipped data are what the current generator produces and a rebuild can say whether it
reproduced the shipped weights byte for byte. Each finished stage is checkpointed, so an
interrupted build resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from harness.atomic import atomic_dir
from tools.tiny_moe import corpus as corpus_mod
from tools.tiny_moe import train as train_mod
from tools.tiny_moe.datasets import write_datasets
from tools.tiny_moe.world import WORLD_SEED, World, make_world

TRAIN_SEED = 0
EPOCHS = 5.0
LEARNING_RATE = 3e-3
BATCH_TOKENS = 8192
# stage 2: redundancy (see train.train's expert_dropout); added in format 4
ROBUST_EPOCHS = 2.0
ROBUST_LR = 1e-3
EXPERT_DROPOUT = 6  # of 16 experts per layer, per step
# stage 3: skills (see _skills_stage); added in format 5
SKILLS_DRILL_LR = 3e-3  # format 9: at 1e-3 the drill never taught copying from the current base (see _skills_stage)
SKILLS_LR = 1e-3
SKILLS_DRILL_STEPS = 300
SKILLS_MIX_STEPS = 900  # format 11: a cap; the phase stops once SKILLS_GOAL is met
# (stream, share of steps, rows per batch) in the mixed phase
SKILLS_MIX = (("copy", 0.15, 48), ("trials", 0.25, 16), ("facts", 0.25, 48), ("replay", 0.35, 16))
# stage 4: choices (see _choices_stage); added in format 6
CHOICES_LR = 1e-3
CHOICES_BIND_STEPS = 500
CHOICES_BIND = (("lookup", 0.5, 64), ("hint", 0.5, 64))
CHOICES_MIX_STEPS = 3000  # format 11: a cap (format 10 ran 1500 steps); the phase stops once CHOICES_GOAL is met
CHOICES_MIX = (
    ("lookup", 0.05, 64),
    ("hint", 0.15, 64),
    ("mcq", 0.35, 64),
    ("facts", 0.15, 48),
    ("trials", 0.1, 16),
    ("replay", 0.2, 16),
)
# stage 5: fct (see _fct_stage); added in format 7
FCT_LR = 1e-3
FCT_BIND_STEPS = 300
FCT_BIND = (("fct_hint", 0.5, 16), ("fct", 0.3, 16), ("replay", 0.2, 16))
FCT_MIX_STEPS = 2000  # format 11: a cap (format 10: 1200)
FCT_MIX = (
    ("fct_hint", 0.1, 16),
    ("fct", 0.3, 16),
    ("medhalt", 0.05, 16),
    ("mcq", 0.15, 64),
    ("facts", 0.2, 48),
    ("trials", 0.05, 16),
    ("replay", 0.15, 16),
)
# stage 6: layouts (see _layouts_stage); added in format 8
LAYOUTS_LR = 1e-3
LAYOUTS_SHOTS = 3  # the gate's MMLU protocol (harness.measure.tasks.MMLU_SHOTS)
LAYOUTS_STEPS = 2000  # format 11: a cap (format 10: 1200)
LAYOUTS_MIX = (
    ("mmlu_shots", 0.3, 32),
    ("pubmedqa", 0.1, 32),
    ("mcq", 0.05, 64),
    ("fct", 0.2, 16),
    ("medhalt", 0.05, 16),
    ("facts", 0.1, 48),
    ("trials", 0.05, 16),
    ("news", 0.05, 16),
    ("replay", 0.1, 16),
)
# format 17: every stage, from the first step, keeps each domain's tokens off the experts reserved for the other
# domain (``train.DomainRouting``). Format 16 reserved them in a stage 7 on top of a trained model: routing then
# differed by domain, but the knowledge stayed where stages 1-6 had put it, in every expert (masking the six general
# experts of every layer cost the general facts 0.97 -> 0.94); reserved from the start, the same mask cost format
# 17's general facts 1.00 -> 0.47 (tests/test_embedded_model.py,
# 7b7d6b1:fixtures/tiny-moe/README.md). Format 21: experts
# 0-6 biomedical, 9-15 general, 7-8 shared (format 17: 0-5, 10-15, 6-9). On the smaller model with four shared
# experts (format 20, not shipped) those held the general facts, so biomedical-calibrated pruning could drop every
# general expert without touching them; with two, masking the general experts costs general facts 0.97 -> 0.00.
# From scratch every expert is alike, so which ones each domain gets is arbitrary.
RESERVED_EXPERTS = {"biomedical": tuple(range(0, 7)), "general": tuple(range(9, 16))}
DOMAIN_ROUTING_COEF = 1.0
# format 11: each stage from 3 on trains until its goal (exact-match accuracy of fresh probe items per skill,
# ``train.Goal``) is met, checked every GOAL_EVERY steps. Targets: the shipped format-10 model scored mcq 0.91,
# fct 0.94, mmlu_shots 0.81, pubmedqa 1.00, trials 0.94, facts 1.00 on these probes (news 0.19: exact wording is
# not what Multi-News+ checks, so it has no probe). The earlier stages' goals are strict on purpose: with them
# lowered to "enough to move on" (choices mcq 0.8, fct mcq 0.85), letter choice entered the last stage at 0.79
# and, at 5% of its mix, climbed to only 0.85-0.90 by its 2,500-step cap: LAYOUTS_GOAL missed, 69.5 min in all.
# But (session 16) the mcq probe holds 17 sums, which the model answers near chance: that build scored 0.98 on the
# other 111 rows, as the shipped one (0.99). A sum-free probe is the next recipe change; its first build (format
# 13, not shipped) is in 7b7d6b1:fixtures/tiny-moe/README.md.
PROBE_ROWS = {"mcq": 128, "mcq_recall": 128, "fct": 32, "mmlu_shots": 64, "pubmedqa": 32, "trials": 32}
GOAL_EVERY = 100
SKILLS_GOAL = {"trials": 0.85, "facts": 0.95}
CHOICES_GOAL = {"mcq": 0.9, "facts": 0.95}
FCT_GOAL = {"fct": 0.9, "mcq": 0.9, "facts": 0.95}
# format 17: the release bar asks letter choice of sum-free items (``mcq_recall``): with the 17 sums of the 128-item
# ``mcq`` probe answered near chance, 0.90 there sat at the ceiling (session 16), and the first from-scratch run of
# format 17 with ``mcq`` in this bar ran the stage to its cap at mcq 0.80-0.91 (7b7d6b1:fixtures/tiny-moe/README.md).
# Stages 4-5 keep ``mcq``, so their trajectories, which a rebuild of stages 1-5 reproduced, stay as they were.
# With ``mcq_recall`` there too (format 18, session 22, not shipped) they stopped 1,700 steps earlier, but the last
# stage ran 800 steps longer, and at 50% the gate no longer failed Random on FCT or RCT number fidelity.
LAYOUTS_GOAL = {"mmlu_shots": 0.8, "pubmedqa": 0.9, "mcq_recall": 0.9, "fct": 0.9, "trials": 0.85, "facts": 0.95}
# format 11: free-text streams are served from length-sorted pools of STREAM_POOL batches (``train.Stream.pool``)
STREAM_POOL = 16
POOLED_STREAMS = ("copy", "trials", "news", "facts", "replay")
STAGES = ("base", "robust", "skills", "choices", "fct", "layouts")
PROGRESS_DIR = ".build-progress"  # an interrupted full build's checkpoint, inside --out


def generator_settings() -> dict:
    """Everything that determines the data and the model; its hash is recorded in the manifest."""
    return {
        "world_seed": WORLD_SEED,
        "train_seed": TRAIN_SEED,
        "epochs": EPOCHS,
        "lr": LEARNING_RATE,
        "batch_tokens": BATCH_TOKENS,
        "max_batch_sequences": train_mod.MAX_BATCH_SEQUENCES,
        "model_config": train_mod.MODEL_CONFIG,
        "robust_epochs": ROBUST_EPOCHS,
        "robust_lr": ROBUST_LR,
        "expert_dropout": EXPERT_DROPOUT,
        "skills_drill_lr": SKILLS_DRILL_LR,
        "skills_lr": SKILLS_LR,
        "skills_drill_steps": SKILLS_DRILL_STEPS,
        "skills_mix_steps": SKILLS_MIX_STEPS,
        "skills_mix": [list(m) for m in SKILLS_MIX],
        "choices_lr": CHOICES_LR,
        "choices_bind_steps": CHOICES_BIND_STEPS,
        "choices_bind": [list(m) for m in CHOICES_BIND],
        "choices_mix_steps": CHOICES_MIX_STEPS,
        "choices_mix": [list(m) for m in CHOICES_MIX],
        "fct_lr": FCT_LR,
        "fct_bind_steps": FCT_BIND_STEPS,
        "fct_bind": [list(m) for m in FCT_BIND],
        "fct_mix_steps": FCT_MIX_STEPS,
        "fct_mix": [list(m) for m in FCT_MIX],
        "layouts_lr": LAYOUTS_LR,
        "layouts_shots": LAYOUTS_SHOTS,
        "layouts_steps": LAYOUTS_STEPS,
        "layouts_mix": [list(m) for m in LAYOUTS_MIX],
        "probe_rows": PROBE_ROWS,
        "goal_every": GOAL_EVERY,
        "skills_goal": SKILLS_GOAL,
        "choices_goal": CHOICES_GOAL,
        "fct_goal": FCT_GOAL,
        "layouts_goal": LAYOUTS_GOAL,
        "reserved_experts": {domain: list(experts) for domain, experts in RESERVED_EXPERTS.items()},
        "domain_routing_coef": DOMAIN_ROUTING_COEF,
        "stream_pool": STREAM_POOL,
        "pooled_streams": list(POOLED_STREAMS),
        "format": 21,
    }


def settings_hash() -> str:
    return hashlib.sha256(json.dumps(generator_settings(), sort_keys=True).encode()).hexdigest()


def file_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder``, by relative path: what the manifest records of the data and the model."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def compare_checkpoint(manifest: dict, reference: dict) -> str:
    """How the model a manifest records compares with a reference manifest's (the shipped fixture's):
    ``identical`` (every model file byte for byte), ``differs``, ``other-settings`` (another recipe, so no
    comparison is meaningful) or ``unknown`` (a manifest without model hashes). On a CPU whose floating
    point matches the one that built the fixture, a from-scratch build reproduces it byte for byte
    (session 31); elsewhere the weights differ and the release bar says whether the build met its targets."""
    if manifest.get("settings_sha256") != reference.get("settings_sha256"):
        return "other-settings"
    if not manifest.get("model") or not reference.get("model"):
        return "unknown"
    return "identical" if manifest["model"] == reference["model"] else "differs"


def build_data(root: Path) -> dict[str, str]:
    data_dir = root / "data"
    if data_dir.exists():
        shutil.rmtree(data_dir)
    write_datasets(make_world(WORLD_SEED), data_dir)
    return file_hashes(data_dir)


class Corpus(NamedTuple):
    """The encoded training corpus: token ids, first loss position and domain per example."""

    ids: list[list[int]]
    loss_from: list[int]
    domains: list[str]

    def rows(self) -> list[tuple[list[int], int, str]]:
        return list(zip(self.ids, self.loss_from, self.domains))


def _encoded(tokenizer, examples: list[corpus_mod.Example]) -> Corpus:
    encoded = [train_mod.encode(e, tokenizer) for e in examples]
    return Corpus([e[0] for e in encoded], [e[1] for e in encoded], [e.domain for e in examples])


def build_model(root: Path, fresh: bool = False, stop_after: str | None = None) -> dict[str, list[dict]]:
    """All stages, or those up to ``stop_after`` (the data in ``root/data`` must be built first); returns
    their loss logs.

    A full build takes over half an hour, so every finished stage is checkpointed in ``root/PROGRESS_DIR``;
    an interrupted build resumes after the last finished stage (unless ``fresh``) and, since each stage
    seeds its own randomness, ends with the same weights as an uninterrupted one. ``stop_after`` keeps
    that checkpoint (and writes the partly trained model), so a recipe experiment on the later stages can
    run them with ``build_stage`` on a copy instead of retraining the first ones (stages 1-2 are about 12-14
    of the 32-38 minutes); a resume refuses a checkpoint of other settings."""
    stages = STAGES[: STAGES.index(stop_after) + 1] if stop_after is not None else STAGES
    examples = corpus_mod.training_examples(make_world(WORLD_SEED), TRAIN_SEED)
    plain = [
        (e.text or "") + (e.completion or "") if e.messages is None else "\n".join(m["content"] for m in e.messages)
        for e in examples
    ]
    tokenizer = train_mod.train_tokenizer(plain, train_mod.MODEL_CONFIG["vocab_size"])  # 1.5 s, deterministic
    progress = root / PROGRESS_DIR
    resumed = None if fresh else _load_progress(progress, tokenizer)
    if resumed is not None:
        model, logs = resumed
        if len(logs) > len(stages):
            raise ValueError(
                f"{progress} already holds stages {list(logs)}, past --stop-after {stop_after!r}; "
                "use another --out or --fresh"
            )
        print(f"resuming {progress}: stages {list(logs)} done, {len(stages) - len(logs)} to go", flush=True)
    else:
        model, logs = train_mod.build_model(tokenizer, TRAIN_SEED), {}
    model.set_experts_implementation("eager")  # fastest for training on CPU (measured)
    corpus = _encoded(tokenizer, examples)
    for stage in stages[len(logs) :]:  # each stage sees the evaluation data (``data_dir``) only to keep it out
        print(f"stage {STAGES.index(stage) + 1}/{len(STAGES)}: {stage}", flush=True)
        logs[stage] = _STAGE_RUNNERS[stage](model, tokenizer, corpus, root / "data")
        _report_goal(stage, logs[stage])
        _save_progress(model, tokenizer, logs, progress)
    _save(model, tokenizer, root)
    if len(stages) == len(STAGES):
        shutil.rmtree(progress)
    return logs


def _last_check(log: list[dict]) -> dict | None:
    """A stage log's last goal check (a row with ``probes``), or None for a stage without a goal."""
    return next((row for row in reversed(log) if "probes" in row), None)


def goal_missed(log: list[dict]) -> dict[str, float] | None:
    """The probe scores a stage ended with if it ran to its cap without meeting its goal, else None."""
    last = _last_check(log)
    return None if last is None or last["goal_met"] else last["probes"]


def _report_goal(stage: str, log: list[dict]) -> None:
    """Say loudly when a stage ran out of steps before its skills were there: the model then may miss
    the fixture's targets, and a longer cap or another recipe is needed."""
    last = _last_check(log)
    if last is not None and last["goal_met"]:
        print(f"stage {stage}: goal met at step {last['step']}: {last['probes']}", flush=True)
    elif last is not None:
        print(
            f"WARNING: stage {stage} ran to its cap of {log[-1]['step'] + 1} steps without meeting its goal: "
            f"{last['probes']}",
            flush=True,
        )


def _save_progress(model, tokenizer, logs: dict[str, list[dict]], progress: Path) -> None:
    """Checkpoint after a stage: model, tokenizer and the logs so far, all or nothing."""
    with atomic_dir(progress) as tmp:
        _save(model, tokenizer, tmp)
        (tmp / "progress.json").write_text(json.dumps({"settings_sha256": settings_hash(), "train_logs": logs}) + "\n")


def _load_progress(progress: Path, tokenizer) -> tuple | None:
    """(model, logs) of an interrupted build of the current settings and ``tokenizer``, else None (a
    checkpoint of other settings or another vocabulary is reported and ignored: resuming it would mix
    two recipes). The tokenizer is retrained rather than loaded, so a resumed build writes the same
    tokenizer files as an uninterrupted one."""
    from harness.models.loading import load_model, load_tokenizer

    if not (progress / "progress.json").is_file():
        return None
    state = json.loads((progress / "progress.json").read_text())
    logs = state["train_logs"]
    if (
        state["settings_sha256"] != settings_hash()
        or list(logs) != list(STAGES[: len(logs)])
        or load_tokenizer(progress / "model").get_vocab() != tokenizer.get_vocab()
    ):
        print(
            f"{progress}: left by a build of other generator settings, vocabulary or stages {list(logs)}; "
            "starting over",
            flush=True,
        )
        return None
    return load_model(progress / "model"), logs


def _streams(
    mix: tuple[tuple[str, float, int], ...],
    tokenizer,
    corpus: Corpus,
    world: World,
    facts_salt: str,
    makers: dict[str, Callable[[random.Random], corpus_mod.Example]] | None = None,
) -> list[train_mod.Stream]:
    """The streams of a ``(name, share, rows)`` mix. Every stage can draw fresh copy drills, trials and news events,
    the world's fact texts (shuffled once with ``facts_salt``) and replay of the corpus; ``makers``
    add the stage's own fresh examples. Rows are (ids, loss_from, domain)."""
    encode = lambda example: (*train_mod.encode(example, tokenizer), example.domain)  # noqa: E731
    facts = [encode(e) for e in corpus_mod.fact_texts(random.Random(f"{facts_salt}:{TRAIN_SEED}"), world)]
    replay = corpus.rows()
    fresh: dict[str, Callable[[random.Random], Any]] = {
        "copy": corpus_mod.copy_example,
        "trials": lambda rng: corpus_mod.trial_example(rng, world),
        "news": lambda rng: corpus_mod.news_example(rng, world),
        **(makers or {}),
    }

    def encoded(make: Callable[[random.Random], Any]) -> Callable[[random.Random], Any]:
        return lambda rng: encode(make(rng))

    draws = {name: encoded(make) for name, make in fresh.items()}
    draws |= {"facts": lambda rng: rng.choice(facts), "replay": lambda rng: rng.choice(replay)}
    return [
        train_mod.Stream(name, share, rows, draws[name], STREAM_POOL if name in POOLED_STREAMS else 1)
        for name, share, rows in mix
    ]


def domain_routing() -> train_mod.DomainRouting:
    """RESERVED_EXPERTS in every MoE layer, as every stage's routing penalty asks for them."""
    layers = range(train_mod.MODEL_CONFIG["num_hidden_layers"])
    return train_mod.DomainRouting(
        {domain: {layer: list(experts) for layer in layers} for domain, experts in RESERVED_EXPERTS.items()},
        DOMAIN_ROUTING_COEF,
    )


def _base_stage(model, tokenizer, corpus: Corpus, data_dir: Path) -> list[dict]:
    return train_mod.train(
        model,
        corpus.rows(),
        tokenizer.pad_token_id,
        EPOCHS,
        LEARNING_RATE,
        BATCH_TOKENS,
        TRAIN_SEED,
        routing=domain_routing(),
    )


def _robust_stage(model, tokenizer, corpus: Corpus, data_dir: Path) -> list[dict]:
    return train_mod.train(
        model,
        corpus.rows(),
        tokenizer.pad_token_id,
        ROBUST_EPOCHS,
        ROBUST_LR,
        BATCH_TOKENS,
        TRAIN_SEED + 1,
        expert_dropout=EXPERT_DROPOUT,
        routing=domain_routing(),
    )


def _skills_stage(model, tokenizer, corpus: Corpus, data_dir: Path) -> list[dict]:
    """Teach multi-digit copying (patient counts, durations, effect sizes into RCT summaries).

    Epochs over the corpus never taught it (0 of 40 summaries kept every number). Pure copy drills
    do (at 3e-3: at 1e-3 the copy loss was still 1.05 at step 250 on today's base, and RCT summaries
    ended 0.20 number-faithful), but make the model forget everything else within 300 steps; a
    mixed phase of drills, fresh trials, the world's fact texts and corpus replay brings the rest
    back. Without the fact texts the facts stayed lost (measured, 7b7d6b1:fixtures/tiny-moe/README.md). The
    same expert dropout as stage 2 keeps the redundancy. The mixed phase ends once fresh trials are
    summarised and the facts told word for word (SKILLS_GOAL).
    """
    world = make_world(WORLD_SEED)
    mixed = _streams(SKILLS_MIX, tokenizer, corpus, world, "skills-facts")
    drill = [next(s for s in mixed if s.name == "copy")]
    return train_mod.train_streams(
        model,
        [(SKILLS_DRILL_STEPS, drill), (SKILLS_MIX_STEPS, mixed)],
        tokenizer.pad_token_id,
        [SKILLS_DRILL_LR, SKILLS_LR],
        TRAIN_SEED + 2,
        expert_dropout=EXPERT_DROPOUT,
        goal=_goal(SKILLS_GOAL, tokenizer, world, data_dir),
        routing=domain_routing(),
    )


def held_out_mcq(data_dir: Path) -> frozenset[tuple[str, tuple[str, ...]]]:
    """(question, choices) of every multiple-choice evaluation item, so training never draws one."""
    from harness.data import mcq

    items = (
        mcq.load_medqa(data_dir / "multimedqa" / "medqa_4options_test.jsonl")
        + mcq.load_medmcqa(data_dir / "multimedqa" / "medmcqa_validation.jsonl")
        + mcq.load_mmlu(data_dir / "general" / "mmlu_test.jsonl")
        + mcq.load_mmlu(data_dir / "general" / "mmlu_dev.jsonl")
    )
    return frozenset((it.question, it.choices) for it in items)


def held_out_medhalt(data_dir: Path) -> frozenset[tuple[str, tuple[tuple[str, str], ...]]]:
    """(question, options in order) of every Med-HALT evaluation item, so training never draws one."""
    from harness.data import medhalt

    return frozenset(
        (r.question, tuple(r.options.items()))
        for task in medhalt.FILES
        for r in medhalt.load(task, data_dir / "medhalt" / medhalt.FILES[task])
    )


def held_out_pubmedqa(data_dir: Path) -> frozenset[tuple[str, tuple[str, ...]]]:
    """(question, contexts) of every PubMedQA evaluation item, so training never draws one."""
    from harness.data import pubmedqa

    return frozenset((it.question, it.contexts) for it in pubmedqa.load(data_dir / "pubmedqa"))


def _goal(targets: dict[str, float], tokenizer, world: World, data_dir: Path) -> train_mod.Goal:
    """A stage's goal: its probes (``probe_rows``) and their target accuracies."""
    rows = probe_rows(tokenizer, world, data_dir, list(targets))
    return train_mod.Goal({name: (rows[name], target) for name, target in targets.items()}, GOAL_EVERY)


def _bind_then_mix(
    model,
    tokenizer,
    corpus: Corpus,
    world: World,
    name: str,
    makers: dict[str, Callable[[random.Random], corpus_mod.Example]],
    lr: float,
    seed: int,
    bind: tuple[int, tuple],
    mix: tuple[int, tuple],
    goal: train_mod.Goal,
) -> list[dict]:
    """A skill taught in two phases: ``bind`` (steps, mix) without expert dropout, where the answer is
    visible in the prompt, then ``mix`` (steps, mix) with the expert dropout back on, where it must be
    recalled while facts, trials and the corpus are replayed. Returns one loss log over both."""
    streams = lambda m: _streams(m, tokenizer, corpus, world, f"{name}-facts", makers)  # noqa: E731
    first = train_mod.train_streams(
        model, [(bind[0], streams(bind[1]))], tokenizer.pad_token_id, lr, seed, routing=domain_routing()
    )
    then = train_mod.train_streams(
        model,
        [(mix[0], streams(mix[1]))],
        tokenizer.pad_token_id,
        lr,
        seed + 1,
        expert_dropout=EXPERT_DROPOUT,
        goal=goal,
        routing=domain_routing(),
    )
    return first + [dict(row, step=row["step"] + bind[0]) for row in then]


def _choices_stage(model, tokenizer, corpus: Corpus, data_dir: Path) -> list[dict]:
    """Teach answering multiple choice by letter (MedQA / MMLU layout, scored on " A".." D").

    Mixed into every earlier stage (7,000 items) and in 8-10 minute runs of its own, letter choice
    stayed at chance: the model knew the facts but never bound the recalled answer to its letter.
    What worked (measured, 7b7d6b1:fixtures/tiny-moe/README.md): first 500 steps of finding a *visible* word's
    letter only (drills, and items whose answer is written above the question), without expert
    dropout; once that binding exists, items where the answer must be recalled rise from chance in a
    few hundred steps. The mixed phase keeps the hints, replays facts, trials and the corpus, and
    brings back the expert dropout that keeps skills redundant across experts; it ends once fresh
    letter-choice items are answered (CHOICES_GOAL): at a fixed 1,500 steps, four builds of one recipe
    landed anywhere from 0.63 to 0.97 on MedMCQA.
    """
    world, held_out = make_world(WORLD_SEED), held_out_mcq(data_dir)
    makers = {
        "lookup": corpus_mod.lookup_example,
        "hint": lambda rng: corpus_mod.mcq_example(rng, world, hint=True, held_out=held_out),
        "mcq": lambda rng: corpus_mod.mcq_example(rng, world, held_out=held_out),
    }
    return _bind_then_mix(
        model,
        tokenizer,
        corpus,
        world,
        "choices",
        makers,
        CHOICES_LR,
        TRAIN_SEED + 3,
        (CHOICES_BIND_STEPS, CHOICES_BIND),
        (CHOICES_MIX_STEPS, CHOICES_MIX),
        _goal(CHOICES_GOAL, tokenizer, world, data_dir),
    )


def _question_makers(world: World, data_dir: Path) -> dict[str, Callable[[random.Random], corpus_mod.Example]]:
    """Fresh letter-choice items (``mcq``; ``mcq_recall`` without sums, for the release bar), Med-HALT FCT items
    (``fct``) and NOTA / Fake items (``medhalt``), never an evaluation item: what the later stages draw to teach or
    keep these skills."""
    held_mcq, held_halt = held_out_mcq(data_dir), held_out_medhalt(data_dir)
    return {
        "mcq": lambda rng: corpus_mod.mcq_example(rng, world, held_out=held_mcq),
        "mcq_recall": lambda rng: corpus_mod.mcq_example(rng, world, held_out=held_mcq, sums=False),
        "fct": lambda rng: corpus_mod.medhalt_example(rng, world, "fct", held_out=held_halt),
        "medhalt": lambda rng: corpus_mod.medhalt_example(rng, world, rng.choice(("nota", "fake")), held_out=held_halt),
    }


def _fct_stage(model, tokenizer, corpus: Corpus, data_dir: Path) -> list[dict]:
    """Teach Med-HALT FCT: review a student's (wrong) answer and write the correct option's text in
    the official JSON output format.

    800 FCT items in the corpus taught the format but not the content (5% correct: the model wrote
    one memorised option text for every question). The recipe of the choices stage works here too
    (measured, 7b7d6b1:fixtures/tiny-moe/README.md): 300 steps where the correct answer is written above the
    prompt, then a mixed phase of plain and hinted items, NOTA / Fake items, letter-choice items,
    fact texts, trials and replay under expert dropout, until FCT_GOAL. Evaluation items are never drawn.
    """
    world, held_halt = make_world(WORLD_SEED), held_out_medhalt(data_dir)
    makers = _question_makers(world, data_dir) | {
        "fct_hint": lambda rng: corpus_mod.medhalt_example(rng, world, "fct", hint=True, held_out=held_halt)
    }
    return _bind_then_mix(
        model,
        tokenizer,
        corpus,
        world,
        "fct",
        makers,
        FCT_LR,
        TRAIN_SEED + 5,
        (FCT_BIND_STEPS, FCT_BIND),
        (FCT_MIX_STEPS, FCT_MIX),
        _goal(FCT_GOAL, tokenizer, world, data_dir),
    )


def probe_rows(tokenizer, world: World, data_dir: Path, names: list[str]) -> dict[str, list[tuple[list[int], int]]]:
    """Each named probe's (ids, loss_from) rows (``PROBE_ROWS``): fresh items of the stage streams'
    kinds, drawn with their own seed, never an evaluation item; ``facts`` is every question-and-answer
    fact text of the world (what the fact stream replays, so it checks that the facts are still known)."""
    makers = (
        _question_makers(world, data_dir)
        | _layout_makers(world, data_dir)
        | {
            "trials": lambda rng: corpus_mod.trial_example(rng, world),
            "news": lambda rng: corpus_mod.news_example(rng, world),
        }
    )
    encode = lambda example: train_mod.encode(example, tokenizer)  # noqa: E731
    out = {}
    for name in names:
        if name == "facts":
            out[name] = [encode(e) for e in corpus_mod.fact_texts(random.Random(0), world) if e.messages is not None]
        else:
            rng = random.Random(f"probe:{name}:{TRAIN_SEED}")
            out[name] = [encode(makers[name](rng)) for _ in range(PROBE_ROWS[name])]
    return out


def _layout_makers(world: World, data_dir: Path) -> dict[str, Callable[[random.Random], corpus_mod.Example]]:
    """Fresh items in the gate's 3-shot MMLU layout and PubMedQA's, never an evaluation item or an MMLU dev shot."""
    held_mcq, held_pubmed = held_out_mcq(data_dir), held_out_pubmedqa(data_dir)
    return {
        "mmlu_shots": lambda rng: corpus_mod.mmlu_example(rng, world, LAYOUTS_SHOTS, held_out=held_mcq),
        "pubmedqa": lambda rng: corpus_mod.pubmedqa_example(rng, world, held_out=held_pubmed),
    }


def _layouts_stage(model, tokenizer, corpus: Corpus, data_dir: Path) -> list[dict]:
    """Teach the official layouts the gate asks in: MMLU with three answered items of the subject
    before the question (lm-eval's few-shot context), biomedical items under MultiMedQA's medical
    subjects, and PubMedQA (abstract, question, yes / no).

    After stage 5 the model answered the zero-shot MMLU layout it was trained on (0.78) but the
    gate's 3-shot MMLU at 0.49 (general) and 0.32 (medical subjects), and PubMedQA at 0.63 (it said
    "yes" to 36 of 40). Fresh items in those layouts, mixed with letter-choice and FCT items, fact
    texts, trials, news events and replay under expert dropout; evaluation items (and MMLU's dev
    shots) are never drawn. Without the news stream (format 9) Multi-News+ number faithfulness ended
    at 0.77. Measured after 1,200 steps of format 10 (all items): 3-shot MMLU 0.82, medical subjects
    0.88, PubMedQA 1.00, FCT 0.93, Multi-News+ 0.90 (7b7d6b1:fixtures/tiny-moe/README.md). From format 11 the
    stage ends once every skill's probe meets LAYOUTS_GOAL.
    """
    world = make_world(WORLD_SEED)
    makers = _question_makers(world, data_dir) | _layout_makers(world, data_dir)
    streams = _streams(LAYOUTS_MIX, tokenizer, corpus, world, "layouts-facts", makers)
    return train_mod.train_streams(
        model,
        [(LAYOUTS_STEPS, streams)],
        tokenizer.pad_token_id,
        LAYOUTS_LR,
        TRAIN_SEED + 7,
        expert_dropout=EXPERT_DROPOUT,
        goal=_goal(LAYOUTS_GOAL, tokenizer, world, data_dir),
        routing=domain_routing(),
    )


_STAGE_RUNNERS = {
    "base": _base_stage,
    "robust": _robust_stage,
    "skills": _skills_stage,
    "choices": _choices_stage,
    "fct": _fct_stage,
    "layouts": _layouts_stage,
}


def _save(model, tokenizer, root: Path) -> None:
    """Write the model (and the tokenizer; ``None`` keeps the tokenizer files already there) with the
    experts implementation inference uses; training goes on with the one it had."""
    training_impl = model.config._experts_implementation
    model.set_experts_implementation("grouped_mm")
    out = root / "model"
    if tokenizer is not None and out.exists():
        shutil.rmtree(out)
    train_mod.save(model, tokenizer, out)
    model.set_experts_implementation(training_impl)


def build_stage(root: Path, stage: str) -> list[dict]:
    """Run one later stage on the checkpoint in ``root``, which must hold exactly the stages before it
    (how the shipped fixture was brought from format 3 to 4 to 5 without retraining from scratch)."""
    from harness.models.loading import load_model, load_tokenizer

    if stage not in STAGES[1:]:
        raise ValueError(f"stage {stage!r}: only {sorted(STAGES[1:])} can run on an existing checkpoint")
    done = list(json.loads((root / "manifest.json").read_text()).get("train_logs", {}))
    before = list(STAGES[: STAGES.index(stage)])
    if done != before:
        raise ValueError(
            f"{root}: stage {stage!r} needs a checkpoint trained by exactly {before}; "
            f"manifest.json train_logs has {done}"
        )
    tokenizer = load_tokenizer(root / "model")
    model = load_model(root / "model")
    model.set_experts_implementation("eager")
    corpus = _encoded(tokenizer, corpus_mod.training_examples(make_world(WORLD_SEED), TRAIN_SEED))
    log = _STAGE_RUNNERS[stage](model, tokenizer, corpus, root / "data")
    _report_goal(stage, log)
    model.eval()
    _save(model, None, root)  # the tokenizer is unchanged: its files stay byte for byte
    return log


def build(
    root: Path, skip_model: bool = False, stage: str | None = None, fresh: bool = False, stop_after: str | None = None
) -> dict:
    """Rebuild ``root``: data always; the model from scratch (resuming an interrupted build unless
    ``fresh``; only up to ``stop_after``, see ``build_model``), or only ``stage`` on the checkpoint there."""
    root.mkdir(parents=True, exist_ok=True)
    previous = json.loads((root / "manifest.json").read_text()) if (root / "manifest.json").is_file() else {}
    logs = previous.get("train_logs", {})
    data = build_data(root)  # first: the choices stage keeps the evaluation items out of training
    if stage is not None:
        logs = dict(logs, **{stage: build_stage(root, stage)})
    elif not skip_model:
        logs = build_model(root, fresh, stop_after)
    model_dir = root / "model"
    manifest = {
        "settings": generator_settings(),
        "settings_sha256": settings_hash(),
        "data": data,
        "model": file_hashes(model_dir) if model_dir.is_dir() else {},
        "train_logs": logs,
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
