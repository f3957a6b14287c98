"""A seeded synthetic world: fictional drugs, diseases, trials and a fictional general domain.

Everything the embedded model knows comes from here, so a benchmark item can only be answered by
knowing the world (facts) or by reading the prompt (numbers, units, patient counts). Facts are
shared between training and evaluation (they are knowledge); every evaluation *item* (question
instance, option order, trial, news event) is drawn from its own random stream and never appears
in training or calibration.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

SYLLABLES = (
    "zor",
    "va",
    "tre",
    "lin",
    "mo",
    "ke",
    "dra",
    "pi",
    "sul",
    "ta",
    "ne",
    "ox",
    "ri",
    "ba",
    "cel",
    "fu",
    "gan",
    "hex",
    "qui",
    "ro",
    "sa",
    "tor",
    "um",
    "vel",
    "xi",
    "ly",
    "mar",
    "no",
    "pra",
    "di",
)
# the suffix names the class, as in real drug nomenclature (-mab antibodies, -vir antivirals, ...)
DRUG_CLASS_BY_SUFFIX = {
    "mab": "monoclonal antibody",
    "tinib": "kinase inhibitor",
    "vir": "antiviral agent",
    "pril": "ACE inhibitor",
    "zole": "antifungal agent",
    "statin": "lipid-lowering agent",
    "cillin": "beta-lactam antibiotic",
    "parin": "anticoagulant",
    "olol": "beta blocker",
    "dronate": "bone resorption inhibitor",
}
DRUG_SUFFIXES = tuple(DRUG_CLASS_BY_SUFFIX)
DRUG_CLASSES = tuple(DRUG_CLASS_BY_SUFFIX.values())
ORGANS = ("liver", "kidney", "lung", "heart", "skin", "pancreas", "thyroid", "brain", "colon", "retina")
SYMPTOMS = ("fatigue", "joint pain", "fever", "cough", "rash", "headache", "nausea", "dizziness", "swelling", "itching")
DISEASE_SUFFIXES = ("syndrome", "disease", "fever", "palsy", "dystrophy", "itis")
UNITS = ("mg", "mg/ml", "ng/ml", "IU")
DESIGNS = ("randomized double-blind placebo-controlled", "randomized open-label", "randomized single-blind")
COUNTRY_SUFFIXES = ("ania", "land", "stan", "ia", "ora", "esh")
LANGUAGES = ("Velic", "Tarun", "Osmic", "Prelan", "Dunic", "Karvic", "Lumen", "Sorrish")
CURRENCIES = ("crown", "mark", "dinar", "florin", "real", "talent", "shell", "crest")
EVENTS = (
    "music festival",
    "marathon",
    "harvest fair",
    "chess tournament",
    "bridge opening",
    "film festival",
    "science fair",
    "flower show",
)


WORLD_SEED = 0  # the embedded model's world


@dataclass(frozen=True)
class Disease:
    name: str
    organ: str
    symptom: str


@dataclass(frozen=True)
class Drug:
    name: str
    drug_class: str
    disease: Disease
    dose: str  # printed value, e.g. "3.8"
    unit: str

    @property
    def dose_text(self) -> str:
        return f"{self.dose} {self.unit}"


@dataclass(frozen=True)
class Country:
    name: str
    capital: str
    language: str
    currency: str


@dataclass(frozen=True)
class Trial:
    """One randomized trial report; numbers are drawn per trial, so summaries must copy them."""

    review_id: str
    pmid: int
    drug: Drug
    n_patients: int
    design: str
    weeks: int
    dose: str
    unit: str
    reduction: int  # percent reduction of the symptom
    p_value: str
    significant: bool


@dataclass(frozen=True)
class NewsEvent:
    idx: int
    country: Country
    event: str
    attendance: int
    day: int
    month: str
    organiser: str


@dataclass
class World:
    seed: int
    diseases: list[Disease] = field(default_factory=list)
    drugs: list[Drug] = field(default_factory=list)
    countries: list[Country] = field(default_factory=list)


def _name(rng: random.Random, used: set[str], parts: int, suffix: str = "") -> str:
    while True:
        word = "".join(rng.choice(SYLLABLES) for _ in range(parts)) + suffix
        word = word.capitalize()
        if word not in used:
            used.add(word)
            return word


def make_world(seed: int, n_diseases: int = 24, n_drugs: int = 40, n_countries: int = 32) -> World:
    rng = random.Random(f"world:{seed}")
    used: set[str] = set()
    world = World(seed=seed)
    for _ in range(n_diseases):
        suffix = rng.choice(DISEASE_SUFFIXES)
        stem = _name(rng, used, 2)
        name = stem + suffix if suffix == "itis" else f"{stem} {suffix}"
        world.diseases.append(Disease(name, rng.choice(ORGANS), rng.choice(SYMPTOMS)))
    for i in range(n_drugs):
        suffix = rng.choice(DRUG_SUFFIXES)
        name = _name(rng, used, 2, suffix)
        unit = UNITS[i % len(UNITS)]
        dose = (
            f"{rng.randint(1, 9)}.{rng.randint(1, 9)}"
            if unit in ("mg/ml", "ng/ml")
            else str(rng.choice((5, 10, 20, 25, 40, 50, 100, 250, 500)))
        )
        world.drugs.append(Drug(name, DRUG_CLASS_BY_SUFFIX[suffix], world.diseases[i % n_diseases], dose, unit))
    for _ in range(n_countries):
        country = _name(rng, used, 2, rng.choice(COUNTRY_SUFFIXES))
        world.countries.append(Country(country, _name(rng, used, 2), rng.choice(LANGUAGES), rng.choice(CURRENCIES)))
    return world


def fake_drug_name(rng: random.Random, world: World) -> str:
    """A plausible drug name that does not exist in the world (for Med-HALT Fake questions)."""
    used = {d.name for d in world.drugs} | {d.name.split()[0] for d in world.diseases}
    return _name(rng, used, 3, rng.choice(DRUG_SUFFIXES))


def make_trial(rng: random.Random, world: World, serial: int) -> Trial:
    drug = rng.choice(world.drugs)
    significant = rng.random() < 0.7
    p = f"0.0{rng.randint(1, 4)}" if significant else f"0.{rng.randint(2, 8)}{rng.randint(0, 9)}"
    return Trial(
        review_id=f"CD{900000 + serial:06d}",
        pmid=30000000 + serial * 7 + rng.randint(0, 6),
        drug=drug,
        n_patients=rng.randint(24, 480),
        design=rng.choice(DESIGNS),
        weeks=rng.choice((4, 6, 8, 12, 16, 24, 52)),
        dose=drug.dose,
        unit=drug.unit,
        reduction=rng.randint(12, 64) if significant else rng.randint(0, 6),
        p_value=p,
        significant=significant,
    )


def make_event(rng: random.Random, world: World, idx: int) -> NewsEvent:
    months = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October")
    return NewsEvent(
        idx=idx,
        country=rng.choice(world.countries),
        event=rng.choice(EVENTS),
        attendance=rng.randint(150, 9800),
        day=rng.randint(1, 28),
        month=rng.choice(months),
        organiser=_name(rng, set(), 2),
    )
