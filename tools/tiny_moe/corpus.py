"""Training corpus of the embedded model: world facts plus every task shape, biomedical and general.

Examples are either chat conversations (rendered with the model's chat template) or raw text (the
lm-eval multiple-choice format). Split streams: ``train`` here; calibration and evaluation items
come from other streams (see ``tools.tiny_moe.splits``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from harness.data.mcq import MEDICAL_SUBJECTS
from harness.data.prompts import multiple_choice, summarization
from tools.tiny_moe import tasks
from tools.tiny_moe.world import World


@dataclass(frozen=True)
class Example:
    """A chat (loss on the assistant turn), a raw prompt + completion (loss on the completion), or a
    raw text (loss everywhere: world facts)."""

    domain: str  # biomedical | general
    messages: list[dict[str, str]] | None = None
    text: str | None = None
    completion: str | None = None


def _chat(domain: str, user: str, assistant: str) -> Example:
    return Example(domain, messages=[{"role": "user", "content": user}, {"role": "assistant", "content": assistant}])


def fact_texts(rng: random.Random, world: World) -> list[Example]:
    out = []
    for drug in world.drugs:
        d = drug.disease
        out += [
            Example("biomedical", text=f"{drug.name} is a {drug.drug_class} used to treat {d.name}."),
            Example("biomedical", text=f"The standard dose of {drug.name} is {drug.dose_text}."),
            Example("biomedical", text=f"{d.name} mainly affects the {d.organ} and causes {d.symptom}."),
            _chat("biomedical", f"What is {drug.name} used for?", f"{drug.name} is used to treat {d.name}."),
            _chat(
                "biomedical",
                f"Tell me about {drug.name}.",
                f"{drug.name} is a {drug.drug_class}. It treats {d.name} at a standard dose of {drug.dose_text}.",
            ),
        ]
    for c in world.countries:
        out += [
            Example("general", text=f"The capital of {c.name} is {c.capital}."),
            Example("general", text=f"People in {c.name} speak {c.language} and pay with the {c.currency}."),
            _chat(
                "general",
                f"Tell me about {c.name}.",
                f"{c.name} is a country whose capital is {c.capital}. Its language is {c.language} "
                f"and its currency is the {c.currency}.",
            ),
        ]
    rng.shuffle(out)
    return out


def copy_example(rng: random.Random) -> Example:
    rec = tasks.copy_drill(rng)
    return _chat("general", f"{rec['instruction']}\n\nInput: {rec['input']}", rec["output"])


def trial_example(rng: random.Random, world: World) -> Example:
    """A freshly drawn trial (index up to a million, so practically never a repeat) and its summary."""
    trial = tasks.make_trials(rng, world, 1, rng.randint(0, 10**6))[0]
    return _chat("biomedical", tasks.rct_prompt(trial), tasks.trial_summary(trial))


def news_example(rng: random.Random, world: World) -> Example:
    """A freshly drawn Multi-News+ style event (two reports) and its one-sentence summary."""
    event = tasks.make_events(rng, world, 1, rng.randint(0, 10**6))[0]
    return _chat("general", summarization.news_prompt(tasks.news_documents(event)), tasks.news_summary(event))


def mcq_example(
    rng: random.Random,
    world: World,
    hint: bool = False,
    held_out: frozenset[tuple[str, tuple[str, ...]]] = frozenset(),
    sums: bool = True,
) -> Example:
    """A freshly drawn multiple-choice item (biomedical MedQA or general MMLU layout) and its letter.

    ``hint`` prefixes the answer text ("Note: the answer is ..."): the model then only has to find the
    option holding a word it can see, which it learns first; without it the answer must be recalled.
    Items whose (question, choices) are in ``held_out`` (the evaluation sets) are never drawn; ``sums=False``
    never draws a sum ("What is a + b?"), which no stage teaches and the model answers near chance."""
    bio, m = _fresh_mcq(rng, world, held_out, sums=sums)
    text = tasks.mcq_text(m, "medqa" if bio else "mmlu")
    text = _hinted(text, m.choices[m.answer]) if hint else text
    return Example("biomedical" if bio else "general", text=text, completion=" " + "ABCD"[m.answer])


def _fresh_mcq(
    rng: random.Random,
    world: World,
    held_out: frozenset[tuple[str, tuple[str, ...]]],
    bio: bool | None = None,
    sums: bool = True,
) -> tuple[bool, tasks.MCQ]:
    """A multiple-choice item not in ``held_out`` (and no sum unless ``sums``): biomedical with probability
    0.55 unless ``bio`` says."""
    while True:
        is_bio = rng.random() < 0.55 if bio is None else bio
        m = tasks.bio_mcq(rng, world) if is_bio else tasks.general_mcq(rng, world)
        if (m.question, m.choices) not in held_out and (sums or m.subject != tasks.SUM_SUBJECT):
            return is_bio, m


def mmlu_example(
    rng: random.Random, world: World, shots: int, held_out: frozenset[tuple[str, tuple[str, ...]]] = frozenset()
) -> Example:
    """A freshly drawn item in lm-eval's few-shot MMLU layout: ``shots`` answered items of the same subject
    before it (``multiple_choice.mmlu_prompt``). Biomedical items (half) go under one of MultiMedQA's six
    medical subjects, as the gate's ``mmlu_medical`` asks them. Neither query nor shots are in ``held_out``."""
    bio, query = _fresh_mcq(rng, world, held_out)
    subject = rng.choice(MEDICAL_SUBJECTS) if bio else query.subject
    examples: list[tasks.MCQ] = []
    while len(examples) < shots:
        _, m = _fresh_mcq(rng, world, held_out, bio)
        if bio or m.subject == subject:
            examples.append(m)
    text = multiple_choice.mmlu_prompt(
        subject, query.question, query.choices, [(m.question, m.choices, m.answer) for m in examples]
    )
    return Example("biomedical" if bio else "general", text=text, completion=" " + "ABCD"[query.answer])


def pubmedqa_example(
    rng: random.Random, world: World, held_out: frozenset[tuple[str, tuple[str, ...]]] = frozenset()
) -> Example:
    """A fresh trial as a PubMedQA item in lm-eval's layout (abstract, question, " yes" / " no");
    items whose (question, contexts) are in ``held_out`` are never drawn."""
    while True:
        question, contexts, label = tasks.pubmedqa_item(tasks.make_trials(rng, world, 1, rng.randint(0, 10**6))[0])
        if (question, tuple(contexts)) not in held_out:
            return Example("biomedical", text=multiple_choice.pubmedqa_text(contexts, question), completion=" " + label)


def medhalt_example(
    rng: random.Random,
    world: World,
    task: str,
    hint: bool = False,
    held_out: frozenset[tuple[str, tuple[tuple[str, str], ...]]] = frozenset(),
) -> Example:
    """A freshly drawn Med-HALT item (``fct``, ``nota`` or ``fake``): the official prompt and the answer
    in the official output format. ``hint`` and ``held_out`` (question, options in order) as in
    ``mcq_example``."""
    while True:
        item = tasks.medhalt_item(rng, world, task)
        if (item.question, tuple(item.options.items())) not in held_out:
            break
    prompt = _hinted(item.prompt(), item.correct_answer) if hint else item.prompt()
    return _chat("biomedical", prompt, item.target())


def _hinted(prompt: str, answer: str) -> str:
    return f"Note: the answer is {answer}.\n" + prompt


def lookup_example(rng: random.Random) -> Example:
    prompt, answer = tasks.lookup_drill(rng)
    return Example("general", text=prompt, completion=answer)


def training_examples(world: World, seed: int, scale: float = 1.0) -> list[Example]:
    """The whole training mix, deterministic for (world, seed, scale)."""
    rng = random.Random(f"train:{seed}")
    n = lambda k: max(1, int(k * scale))  # noqa: E731
    out: list[Example] = []
    for _ in range(n(30)):
        out += fact_texts(rng, world)
    out += [
        Example("biomedical", text=tasks.mcq_text(m, "medqa"), completion=" " + "ABCD"[m.answer])
        for m in (tasks.bio_mcq(rng, world) for _ in range(n(4000)))
    ]
    out += [
        Example("general", text=tasks.mcq_text(m, "mmlu"), completion=" " + "ABCD"[m.answer])
        for m in (tasks.general_mcq(rng, world) for _ in range(n(3000)))
    ]
    for task, count in (("fct", 800), ("nota", 200), ("fake", 200)):
        out += [
            _chat("biomedical", it.prompt(), it.target())
            for it in (tasks.medhalt_item(rng, world, task) for _ in range(n(count)))
        ]
    out += [
        _chat("biomedical", tasks.rct_prompt(t), tasks.trial_summary(t))
        for t in tasks.make_trials(rng, world, n(2000), 0)
    ]
    out += [
        _chat("general", summarization.news_prompt(tasks.news_documents(e)), tasks.news_summary(e))
        for e in tasks.make_events(rng, world, n(1500), 0)
    ]
    for _ in range(n(2000)):
        rec = tasks.medinst_record(rng, world)
        out.append(
            _chat(
                "biomedical", rec["instruction"] + (f"\n\nInput: {rec['input']}" if rec["input"] else ""), rec["output"]
            )
        )
    for _ in range(n(2000)):
        rec = tasks.general_instruction(rng, world)
        out.append(
            _chat("general", rec["instruction"] + (f"\n\nInput: {rec['input']}" if rec["input"] else ""), rec["output"])
        )
    out += [copy_example(rng) for _ in range(n(3000))]
    out += [lookup_example(rng) for _ in range(n(3000))]
    rng.shuffle(out)
    return out
