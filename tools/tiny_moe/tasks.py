"""Task instances drawn from the synthetic world, one generator per benchmark shape.

Each generator takes its own ``random.Random`` so that training, calibration and evaluation draw
disjoint instances. Instances carry everything the official file formats need.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from harness.data.prompts import medhalt, multiple_choice, summarization
from tools.tiny_moe.world import Trial, World, fake_drug_name, make_event, make_trial


@dataclass(frozen=True)
class MCQ:
    question: str
    choices: tuple[str, ...]  # four options
    answer: int
    subject: str


def _options(rng: random.Random, correct: str, pool: list[str]) -> tuple[tuple[str, ...], int]:
    distractors = rng.sample([p for p in dict.fromkeys(pool) if p != correct], 3)
    choices = distractors + [correct]
    rng.shuffle(choices)
    return tuple(choices), choices.index(correct)


def bio_mcq(rng: random.Random, world: World) -> MCQ:
    drug = rng.choice(world.drugs)
    kind = rng.randrange(4)
    if kind == 0:
        q, correct, pool = (
            f"Which condition is {drug.name} used to treat?",
            drug.disease.name,
            [d.name for d in world.diseases],
        )
    elif kind == 1:
        q, correct = f"What is the standard dose of {drug.name}?", drug.dose_text
        pool = [f"{drug.dose} {u}" for u in ("mg", "mg/ml", "ng/ml", "IU")] + [d.dose_text for d in world.drugs]
    elif kind == 2:
        q, correct, pool = (
            f"Which drug class does {drug.name} belong to?",
            drug.drug_class,
            [d.drug_class for d in world.drugs],
        )
    else:
        disease = drug.disease
        q, correct, pool = (
            f"Which organ is mainly affected by {disease.name}?",
            disease.organ,
            [d.organ for d in world.diseases] + ["liver", "kidney", "lung", "heart"],
        )
    choices, answer = _options(rng, correct, pool)
    return MCQ(q, choices, answer, "clinical_knowledge")


SUM_SUBJECT = "elementary_mathematics"  # the general items that are sums ("What is a + b?")


def general_mcq(rng: random.Random, world: World) -> MCQ:
    kind = rng.randrange(4)
    if kind == 0:
        a, b = rng.randint(2, 60), rng.randint(2, 39)
        correct = str(a + b)
        pool = [str(a + b + d) for d in (-10, -2, -1, 1, 2, 10, 11)]
        choices, answer = _options(rng, correct, pool)
        return MCQ(f"What is {a} + {b}?", choices, answer, SUM_SUBJECT)
    country = rng.choice(world.countries)
    if kind == 1:
        q, correct, pool = (
            f"What is the capital of {country.name}?",
            country.capital,
            [c.capital for c in world.countries],
        )
    elif kind == 2:
        q, correct, pool = (
            f"Which language is spoken in {country.name}?",
            country.language,
            [c.language for c in world.countries],
        )
    else:
        q, correct, pool = (
            f"What is the currency of {country.name}?",
            country.currency,
            [c.currency for c in world.countries],
        )
    choices, answer = _options(rng, correct, pool)
    return MCQ(q, choices, answer, "global_facts")


def mcq_text(item: MCQ, style: str) -> str:
    """The lm-eval prompt for an item: ``medqa`` (biomedical) or ``mmlu`` (general) style."""
    if style == "medqa":
        return multiple_choice.medqa_text(item.question, item.choices)
    return multiple_choice.mmlu_description(item.subject) + multiple_choice.mmlu_text(item.question, item.choices)


# -- Med-HALT ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MedHaltItem:
    task: str  # fct | nota | fake
    question: str
    options: dict[str, str]
    correct_answer: str
    correct_index: int
    student_index: int | None = None

    def prompt(self) -> str:
        return medhalt.build_prompt(self.task, self.question, self.options)

    def target(self) -> str:
        """The answer the model is trained to give, in the official output format."""
        if self.task == "fct":
            return repr(
                {
                    "is_answer_correct": "no",
                    "answer": self.correct_answer,
                    "why_correct": f"The correct option is {self.correct_answer}.",
                    "why_others_incorrect": "The other options do not fit.",
                }
            )
        why = "The question refers to nothing known." if self.task == "fake" else "No listed option is correct."
        return repr(
            {
                "cop": self.correct_answer,
                "cop_index": str(self.correct_index),
                "why_correct": why,
                "why_others_incorrect": "The other options are wrong.",
            }
        )


def medhalt_item(rng: random.Random, world: World, task: str) -> MedHaltItem:
    if task == "fake":
        name = fake_drug_name(rng, world)
        opts = rng.sample([d.name for d in world.diseases], 3) + ["I do not know"]
        return MedHaltItem(
            "fake",
            f"Which condition is {name} used to treat?",
            {str(i): o for i, o in enumerate(opts)},
            "I do not know",
            3,
        )
    item = bio_mcq(rng, world)
    opts = list(item.choices)
    if task == "nota":
        opts[item.answer] = "None of the above"
        return MedHaltItem(
            "nota", item.question, {str(i): o for i, o in enumerate(opts)}, "None of the above", item.answer
        )
    student = rng.choice([i for i in range(4) if i != item.answer])
    options = {str(i): o for i, o in enumerate(opts)} | {"correct answer": opts[student]}
    return MedHaltItem("fct", item.question, options, opts[item.answer], item.answer, student)


# -- RCT and news summaries --------------------------------------------------------------------


def trial_title(t: Trial) -> str:
    return f"{t.drug.name} for {t.drug.disease.name}: a {t.design} trial."


def trial_abstract(t: Trial) -> str:
    outcome = (
        f"{t.drug.disease.symptom.capitalize()} fell by {t.reduction}% compared with placebo (p={t.p_value})."
        if t.significant
        else f"{t.drug.disease.symptom.capitalize()} did not differ from placebo "
        f"(change {t.reduction}%, p={t.p_value})."
    )
    return (
        f"We enrolled {t.n_patients} patients with {t.drug.disease.name} in a {t.design} trial. "
        f"Patients received {t.drug.name} {t.dose} {t.unit} or placebo for {t.weeks} weeks. {outcome}"
    )


def trial_summary(t: Trial) -> str:
    effect = (
        f"reduced {t.drug.disease.symptom} by {t.reduction}% (p={t.p_value})"
        if t.significant
        else f"did not reduce {t.drug.disease.symptom} (p={t.p_value})"
    )
    return (
        f"In {t.n_patients} patients with {t.drug.disease.name}, {t.drug.name} {t.dose} {t.unit} "
        f"for {t.weeks} weeks {effect} compared with placebo."
    )


def pubmedqa_item(t: Trial) -> tuple[str, list[str], str]:
    """(question, contexts, label) of a PubMedQA-style item on a trial: does the drug reduce the symptom?
    The label follows the trial's significance ("yes" / "no"); the world has no "maybe" trials."""
    question = f"Does {t.drug.name} reduce {t.drug.disease.symptom} in patients with {t.drug.disease.name}?"
    return question, trial_abstract(t).split(". ", 1), "yes" if t.significant else "no"


def rct_prompt(t: Trial) -> str:
    return summarization.rct_prompt(
        summarization.rct_source_block(t.review_id, [(str(t.pmid), trial_title(t), trial_abstract(t))])
    )


def news_documents(event) -> list[str]:
    c = event.country
    return [
        f"The {event.event} in {c.capital} drew {event.attendance} visitors on {event.month} {event.day}, "
        "organisers said.",
        f"{event.organiser}, who organised the {event.event}, said the {c.capital} crowd of {event.attendance} "
        f"was a record for {c.name}.",
    ]


def news_summary(event) -> str:
    c = event.country
    return f"The {event.event} in {c.capital}, {c.name}, drew {event.attendance} visitors on {event.month} {event.day}."


def make_trials(rng: random.Random, world: World, n: int, start: int) -> list[Trial]:
    return [make_trial(rng, world, start + i) for i in range(n)]


def make_events(rng: random.Random, world: World, n: int, start: int):
    return [make_event(rng, world, start + i) for i in range(n)]


# -- MedINST-style instruction records (calibration source and generation tasks) -----------------


def medinst_record(rng: random.Random, world: World) -> dict:
    kind = rng.randrange(4)
    if kind == 0:
        t = make_trial(rng, world, rng.randint(0, 99999))
        return {
            "instruction": "Summarize the findings of the clinical trial abstract in one sentence.",
            "input": trial_abstract(t),
            "output": trial_summary(t),
            "task": "SUM",
        }
    drug = rng.choice(world.drugs)
    if kind == 1:
        sentence = f"Treatment with {drug.name} improved {drug.disease.symptom} in {drug.disease.name}."
        return {
            "instruction": "Identify every drug mentioned in the text. Put each one in square brackets.",
            "input": sentence,
            "output": f"[{drug.name}]",
            "task": "NER",
        }
    if kind == 2:
        return {
            "instruction": "Answer the biomedical question with the name of a condition.",
            "input": f"Which condition is {drug.name} used to treat?",
            "output": drug.disease.name,
            "task": "QA",
        }
    return {
        "instruction": "State the standard dose of the drug, with its unit.",
        "input": drug.name,
        "output": drug.dose_text,
        "task": "QA",
    }


def general_instruction(rng: random.Random, world: World) -> dict:
    kind = rng.randrange(4)
    if kind == 0:
        a, b = rng.randint(2, 60), rng.randint(2, 39)
        return {"instruction": f"What is {a} + {b}?", "input": "", "output": str(a + b)}
    if kind == 1:
        words = rng.sample(["apple", "river", "stone", "cloud", "green", "table", "music", "bread", "light"], 3)
        return {
            "instruction": "Reverse the order of the words.",
            "input": " ".join(words),
            "output": " ".join(reversed(words)),
        }
    c = rng.choice(world.countries)
    if kind == 2:
        return {"instruction": f"What is the capital of {c.name}?", "input": "", "output": c.capital}
    return {"instruction": f"Which currency is used in {c.name}?", "input": "", "output": f"The {c.currency}."}


# -- skill drills: copying and option lookup (general domain, no world facts) -----------------------

DRILL_WORDS = (
    "apple",
    "river",
    "stone",
    "cloud",
    "green",
    "table",
    "music",
    "bread",
    "light",
    "north",
    "paper",
    "glass",
)


def copy_drill(rng: random.Random) -> dict:
    """Repeat a random string of numbers (with units) and words verbatim: trains attention-based copying."""
    parts = []
    for _ in range(rng.randint(3, 7)):
        kind = rng.randrange(3)
        if kind == 0:
            parts.append(str(rng.randint(1, 999)))
        elif kind == 1:
            parts.append(f"{rng.randint(1, 9)}.{rng.randint(0, 9)} {rng.choice(('mg', 'mg/ml', 'ng/ml', 'IU', '%'))}")
        else:
            parts.append(rng.choice(DRILL_WORDS))
    text = " ".join(parts)
    return {"instruction": "Repeat the text exactly.", "input": text, "output": text}


def lookup_drill(rng: random.Random) -> tuple[str, str]:
    """(prompt, " <letter>"): find which lettered option holds a given word, in the MCQ layout."""
    options = rng.sample(DRILL_WORDS, 4)
    target = rng.randrange(4)
    lines = "\n".join(f"{letter}. {text}" for letter, text in zip("ABCD", options))
    return f"Question: Which option is {options[target]}?\n{lines}\nAnswer:", " " + "ABCD"[target]


def knowledge_items(world: World) -> list[dict]:
    """Every world fact as a cloze item (context, candidate completions, index of the true one):
    drug -> disease over all diseases (biomedical) and country -> capital over all capitals (general)."""
    diseases = [x.name + "." for x in world.diseases]
    capitals = [x.capital + "." for x in world.countries]
    bio = [
        {
            "id": f"drug-{i}",
            "domain": "biomedical",
            "context": f"{d.name} is a {d.drug_class} used to treat",
            "choices": diseases,
            "answer": world.diseases.index(d.disease),
        }
        for i, d in enumerate(world.drugs)
    ]
    general = [
        {
            "id": f"country-{i}",
            "domain": "general",
            "context": f"The capital of {c.name} is",
            "choices": capitals,
            "answer": i,
        }
        for i, c in enumerate(world.countries)
    ]
    return bio + general
