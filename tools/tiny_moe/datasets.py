"""Write the synthetic world's evaluation and calibration sets in the benchmarks' OFFICIAL formats.

Formats follow ``shared/design/datasets.md`` byte for byte where it matters to a loader:
Med-HALT CSVs (pandas ``to_csv(index=False)``, ``options`` as a Python dict repr), RCT
inputs/targets CSVs with the unnamed pandas index column, Multi-News+ cleansed JSON chunks
(``json.dump(indent=4)``, split ``val``), PubMedQA ``ori_pqal.json`` + ``test_ground_truth.json``,
MedQA-4-options and MMLU rows as the Hugging Face datasets expose them (JSONL), and MedINST
instruction records (JSONL). Calibration and evaluation items come from disjoint random streams.
"""

from __future__ import annotations

import collections
import csv
import gzip
import json
import random
import uuid
from pathlib import Path
from typing import Any

from harness.data import mcq
from tools.tiny_moe import tasks
from tools.tiny_moe.world import World

EVAL_SIZES = {
    "medhalt": 60,
    "mcq": 120,
    "rct": 40,
    "news": 30,
    "pubmedqa": 40,
    "medinst": 60,
    "xscience": 30,
    "ifeval": 40,
    "humaneval": 20,
}
CALIBRATION_SIZE = 512


def _rng(world: World, stream: str) -> random.Random:
    return random.Random(f"{stream}:{world.seed}")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


#: the columns the official Med-HALT reasoning CSVs (FCT, NOTA) share
MEDHALT_COLUMNS = [
    "id",
    "dataset",
    "question",
    "options",
    "correct_answer",
    "correct_index",
    "split_type",
    "subject_name",
    "topic_name",
    "year",
    "exam_name",
]


def _medhalt_row(rng: random.Random, it: Any, split: str) -> list:
    return [
        _uuid(rng),
        "synthetic_world",
        it.question,
        repr(it.options),
        it.correct_answer,
        it.correct_index,
        split,
        "pharmacology",
        "",
        "",
        "",
    ]


def write_medhalt(world: World, out: Path) -> None:
    rng = _rng(world, "eval-medhalt")
    n = EVAL_SIZES["medhalt"]
    fct = [tasks.medhalt_item(rng, world, "fct") for _ in range(n)]
    _write_csv(
        out / "medhalt" / "reasoning_FCT.csv",
        [*MEDHALT_COLUMNS, "student_answer", "student_index"],
        [[*_medhalt_row(rng, it, "val"), it.options["correct answer"], it.student_index] for it in fct],
    )
    nota = [tasks.medhalt_item(rng, world, "nota") for _ in range(n)]
    _write_csv(
        out / "medhalt" / "reasoning_nota.csv",
        MEDHALT_COLUMNS,
        [_medhalt_row(rng, it, "test") for it in nota],
    )
    fake = [tasks.medhalt_item(rng, world, "fake") for _ in range(n)]
    _write_csv(
        out / "medhalt" / "reasoning_fake.csv",
        [
            "id",
            "subject_name",
            "topic_name",
            "split_type",
            "dataset",
            "len",
            "year",
            "exam_name",
            "question",
            "options",
        ],
        [
            [
                _uuid(rng),
                "pharmacology",
                "None",
                "train",
                "synthetic_world",
                len(it.question.split()),
                "",
                "",
                it.question,
                repr(it.options),
            ]
            for it in fake
        ],
    )


def write_rct(world: World, out: Path) -> None:
    rng = _rng(world, "eval-rct")
    trials = tasks.make_trials(rng, world, EVAL_SIZES["rct"], 50000)
    _write_csv(
        out / "rct" / "test-inputs.csv",
        ["", "ReviewID", "PMID", "Title", "Abstract"],
        [[i, t.review_id, t.pmid, tasks.trial_title(t), tasks.trial_abstract(t)] for i, t in enumerate(trials)],
    )
    _write_csv(
        out / "rct" / "test-targets.csv",
        ["", "ReviewID", "Target"],
        [[i, t.review_id, tasks.trial_summary(t)] for i, t in enumerate(trials)],
    )


def write_multi_news(world: World, out: Path) -> None:
    rng = _rng(world, "eval-news")
    events = tasks.make_events(rng, world, EVAL_SIZES["news"], 50594)
    records = []
    for e in events:
        docs = tasks.news_documents(e)
        records.append(
            {
                "idx": e.idx,
                "document_num": len(docs),
                "summary": tasks.news_summary(e),
                "split": "test",
                "cleansed_document": docs,
                "raw_document": docs,
                "reasons": ["All documents describe the same event. Therefore, the irrelevant document is: None"] * 5,
                "vote_count": {str(i): 0 for i in range(len(docs))},
            }
        )
    path = out / "multi_news_plus" / "cleansed_data" / f"cleansed_data_cot_{events[0].idx}_{events[-1].idx + 1}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=4, ensure_ascii=False), encoding="utf-8")


def write_multi_xscience(world: World, out: Path) -> None:
    """Raw Multi-XScience format (gzipped JSON array; gzip mtime 0 so the bytes are reproducible): a
    trial report as the paper's abstract, two earlier trials as its references, and a related-work
    paragraph citing them with their numbers."""
    rng = _rng(world, "eval-xscience")
    trials = tasks.make_trials(rng, world, 3 * EVAL_SIZES["xscience"], 90000)
    records = []
    for k in range(EVAL_SIZES["xscience"]):
        paper, refs = trials[3 * k], trials[3 * k + 1 : 3 * k + 3]
        related = " ".join(
            f"@cite_{i} studied {tasks.trial_summary(t)[0].lower()}{tasks.trial_summary(t)[1:]}"
            for i, t in enumerate(refs, start=1)
        )
        records.append(
            {
                "aid": f"{2600 + k}.{rng.randrange(10000, 99999)}",
                "mid": str(rng.randrange(10**9, 10**10)),
                "abstract": tasks.trial_abstract(paper),
                "related_work": related,
                "ref_abstract": {
                    f"@cite_{i}": {"mid": str(t.pmid), "abstract": tasks.trial_abstract(t)}
                    for i, t in enumerate(refs, start=1)
                },
            }
        )
    path = out / "multi_xscience" / "test.json.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as fh:
        fh.write(json.dumps(records).encode("utf-8"))


def write_mcq(world: World, out: Path) -> None:
    rng = _rng(world, "eval-mcq")
    bio = [tasks.bio_mcq(rng, world) for _ in range(EVAL_SIZES["mcq"])]
    _write_jsonl(
        out / "multimedqa" / "medqa_4options_test.jsonl",
        [
            {
                "id": f"syn-{i}",
                "sent1": m.question,
                "sent2": "",
                **{f"ending{j}": c for j, c in enumerate(m.choices)},
                "label": m.answer,
            }
            for i, m in enumerate(bio)
        ],
    )
    mmlu_row = lambda m: {"question": m.question, "subject": m.subject, "choices": list(m.choices), "answer": m.answer}  # noqa: E731
    gen = [tasks.general_mcq(rng, world) for _ in range(EVAL_SIZES["mcq"])]
    dev: list[dict] = []  # three shots per subject, as the real dev split has (five) per subject
    while sorted(collections.Counter(r["subject"] for r in dev).values()) != [3, 3]:
        row = mmlu_row(tasks.general_mcq(rng, world))
        if sum(r["subject"] == row["subject"] for r in dev) < 3:
            dev.append(row)
    medical = _rng(world, "eval-mmlu-medical")  # MultiMedQA's MMLU subjects, appended from their own stream
    _write_jsonl(
        out / "general" / "mmlu_test.jsonl",
        [mmlu_row(m) for m in gen]
        + [dict(mmlu_row(tasks.bio_mcq(medical, world)), subject=subject) for subject in mcq.MEDICAL_SUBJECTS * 10],
    )
    dev += [dict(mmlu_row(tasks.bio_mcq(medical, world)), subject=subject) for subject in mcq.MEDICAL_SUBJECTS * 3]
    _write_jsonl(out / "general" / "mmlu_dev.jsonl", dev)
    med = _rng(world, "eval-medmcqa")  # its own stream: the files above keep their bytes
    _write_jsonl(
        out / "multimedqa" / "medmcqa_validation.jsonl",
        [
            {
                "id": _uuid(med),
                "question": m.question,
                **dict(zip(("opa", "opb", "opc", "opd"), m.choices)),
                "cop": m.answer,
                "choice_type": "single",
                "exp": "",
                "subject_name": "Pharmacology",
                "topic_name": None,
            }
            for m in (tasks.bio_mcq(med, world) for _ in range(EVAL_SIZES["mcq"] // 2))
        ],
    )


def write_gsm8k(world: World, out: Path) -> None:
    """Arithmetic word problems in GSM8K's row format (answer ends with '#### N')."""
    rng = _rng(world, "eval-gsm8k")

    def row() -> dict:
        c = rng.choice(world.countries)
        a, b = rng.randint(3, 60), rng.randint(2, 40)
        return {
            "question": f"A market in {c.capital} sold {a} crates in the morning and {b} in the afternoon. "
            f"How many crates did it sell?",
            "answer": f"It sold {a} + {b} = <<{a}+{b}={a + b}>>{a + b} crates.\n#### {a + b}",
        }

    _write_jsonl(out / "general" / "gsm8k_train.jsonl", [row() for _ in range(8)])
    _write_jsonl(out / "general" / "gsm8k_test.jsonl", [row() for _ in range(EVAL_SIZES["mcq"] // 4)])


def write_ifeval(world: World, out: Path) -> None:
    """IFEval rows (google/IFEval format) over world facts, with instructions whose lm-eval checkers are
    deterministic and offline: no commas, a keyword present or forbidden, a word limit, an end phrase.
    (Checkers that need langdetect or NLTK's punkt data are left out.)"""
    rng = _rng(world, "eval-ifeval")
    rows = []
    for key in range(EVAL_SIZES["ifeval"]):
        c = rng.choice(world.countries)
        other = rng.choice([x for x in world.countries if x is not c])
        kind = key % 5
        kwargs: list[dict[str, Any]]
        if kind == 0:
            text, ids, kwargs = "Do not use any commas in your response.", ["punctuation:no_comma"], [{}]
        elif kind == 1:
            text, ids, kwargs = (
                f"Include the keyword {c.capital} in your response.",
                ["keywords:existence"],
                [{"keywords": [c.capital]}],
            )
        elif kind == 2:
            text, ids, kwargs = (
                f"Do not include the word {other.capital} in your response.",
                ["keywords:forbidden_words"],
                [{"forbidden_words": [other.capital]}],
            )
        elif kind == 3:
            text, ids, kwargs = (
                "Answer with less than 30 words.",
                ["length_constraints:number_words"],
                [{"num_words": 30, "relation": "less than"}],
            )
        else:
            text, ids, kwargs = (
                f"Finish your response with the exact phrase 'the {c.currency}.'",
                ["startend:end_checker"],
                [{"end_phrase": f"the {c.currency}."}],
            )
        rows.append(
            {
                "key": 1000 + key,
                "prompt": f"Tell me about {c.name}. {text}",
                "instruction_id_list": ids,
                "kwargs": kwargs,
            }
        )
    _write_jsonl(out / "general" / "ifeval_test.jsonl", rows)


def _humaneval_problem(rng: random.Random, world: World, kind: int) -> tuple[str, str, str, str]:
    """(entry point, signature + docstring, canonical body, check body) of one small Python problem."""
    drug = rng.choice(world.drugs)
    if kind == 0:
        doses = [(rng.randint(1, 9) / 2, rng.randint(1, 14)) for _ in range(3)]
        return (
            "total_dose",
            f"def total_dose(daily_dose: float, days: int) -> float:\n"
            f'    """Return the total amount of {drug.name} taken at daily_dose per day for the given days.\n'
            f'    >>> total_dose(2.0, 3)\n    6.0\n    """\n',
            "    return daily_dose * days\n",
            "".join(f"    assert abs(candidate({d}, {n}) - {d * n}) < 1e-9\n" for d, n in doses),
        )
    if kind == 1:
        arms = [[rng.randint(5, 400) for _ in range(rng.randint(1, 5))] for _ in range(3)]
        return (
            "count_patients",
            "def count_patients(arms: list[int]) -> int:\n"
            f'    """Return how many patients the {drug.name} trial enrolled, given the size of each arm.\n'
            '    >>> count_patients([10, 12])\n    22\n    """\n',
            "    return sum(arms)\n",
            "".join(f"    assert candidate({c}) == {sum(c)}\n" for c in arms) + "    assert candidate([]) == 0\n",
        )
    if kind == 2:
        alpha = rng.choice((0.01, 0.05, 0.1))
        p_values = [round(rng.random() / 5, 3) for _ in range(3)] + [alpha]
        return (
            "is_significant",
            "def is_significant(p_value: float) -> bool:\n"
            f'    """Return True when the {drug.name} trial\'s p_value is below {alpha}.\n'
            f'    >>> is_significant({alpha / 2})\n    True\n    """\n',
            f"    return p_value < {alpha}\n",
            "".join(f"    assert candidate({x}) is {x < alpha}\n" for x in p_values),
        )
    countries = rng.sample(world.countries, 3)
    table = ", ".join(f"{c.name!r}: {c.capital!r}" for c in countries)
    return (
        "capital_of",
        f"CAPITALS = {{{table}}}\n\n\ndef capital_of(country: str) -> str:\n"
        '    """Return the capital of country from CAPITALS, or \'unknown\' when it is not listed.\n'
        f'    >>> capital_of({countries[0].name!r})\n    {countries[0].capital!r}\n    """\n',
        "    return CAPITALS.get(country, 'unknown')\n",
        "".join(f"    assert candidate({c.name!r}) == {c.capital!r}\n" for c in countries)
        + "    assert candidate('Atlantis') == 'unknown'\n",
    )


def write_humaneval(world: World, out: Path) -> None:
    """Small Python problems in openai/openai_humaneval's row format (prompt, canonical_solution,
    test defining ``check(candidate)``, entry_point)."""
    rng = _rng(world, "eval-humaneval")
    rows = []
    for i in range(EVAL_SIZES["humaneval"]):
        entry, prompt, solution, check = _humaneval_problem(rng, world, i % 4)
        rows.append(
            {
                "task_id": f"HumanEval/{i}",
                "prompt": prompt,
                "canonical_solution": solution,
                "test": "\n\nMETADATA = {'author': 'moegate', 'dataset': 'test'}\n\n\n"
                f"def check(candidate):\n{check}\n",
                "entry_point": entry,
            }
        )
    _write_jsonl(out / "general" / "humaneval_test.jsonl", rows)


def write_pubmedqa(world: World, out: Path) -> None:
    rng = _rng(world, "eval-pubmedqa")
    items, truth = {}, {}
    for t in tasks.make_trials(rng, world, EVAL_SIZES["pubmedqa"], 70000):
        question, contexts, label = tasks.pubmedqa_item(t)
        items[str(t.pmid)] = {
            "QUESTION": question,
            "CONTEXTS": contexts,
            "LABELS": ["METHODS", "RESULTS"],
            "MESHES": [t.drug.disease.name],
            "YEAR": None,
            "reasoning_required_pred": label,
            "reasoning_free_pred": label,
            "final_decision": label,
            "LONG_ANSWER": tasks.trial_summary(t),
        }
        truth[str(t.pmid)] = label
    (out / "pubmedqa").mkdir(parents=True, exist_ok=True)
    (out / "pubmedqa" / "ori_pqal.json").write_text(json.dumps(items, indent=4), encoding="utf-8")
    (out / "pubmedqa" / "test_ground_truth.json").write_text(json.dumps(truth, indent=4), encoding="utf-8")


def write_medinst(world: World, out: Path) -> None:
    rng = _rng(world, "calibration-medinst")
    calibration = [tasks.medinst_record(rng, world) for _ in range(CALIBRATION_SIZE)]
    _write_jsonl(
        out / "calibration" / "medinst_calibration.jsonl",
        [{k: r[k] for k in ("instruction", "input", "output")} for r in calibration],
    )
    rng = _rng(world, "calibration-general")
    _write_jsonl(
        out / "calibration" / "general_calibration.jsonl",
        [tasks.general_instruction(rng, world) for _ in range(CALIBRATION_SIZE)],
    )
    seen = {(r["instruction"], r["input"]) for r in calibration}
    rng = _rng(world, "eval-medinst")
    test: list[dict[str, Any]] = []
    while len(test) < EVAL_SIZES["medinst"]:  # evaluation never repeats a calibration prompt
        rec = tasks.medinst_record(rng, world)
        if (rec["instruction"], rec["input"]) not in seen:
            seen.add((rec["instruction"], rec["input"]))
            test.append(rec)
    _write_jsonl(out / "medinst" / "medinst_test.jsonl", test)


def write_knowledge(world: World, out: Path) -> None:
    _write_jsonl(out / "knowledge" / "facts.jsonl", tasks.knowledge_items(world))


def write_datasets(world: World, out: Path) -> None:
    for writer in (
        write_medhalt,
        write_rct,
        write_multi_news,
        write_mcq,
        write_gsm8k,
        write_pubmedqa,
        write_medinst,
        write_knowledge,
        write_multi_xscience,
        write_ifeval,
        write_humaneval,
    ):
        writer(world, out)
