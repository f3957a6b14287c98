"""MedINST32 instruction records (Han et al. 2024): ``{instruction, input, output[, history]}``.

Hub ``aialt/MedINST32`` (formerly ``LiinXemmon/MedINST32``): one config per task (test split), and
``unseen_train_100k`` (train) as the calibration pool. Locally: JSONL/JSON files of the same records.
Task categories follow ``aialt/MedINST/evaluation.py``; generation tasks are the ones the gate scores
by text metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.data.calibration import MEDINST_CALIBRATION_CONFIG, MEDINST_HUB_ID, iter_raw
from harness.data.records import fail, parse_each

HUB_ID, CALIBRATION_CONFIG = MEDINST_HUB_ID, MEDINST_CALIBRATION_CONFIG
CATEGORIES: dict[str, tuple[str, ...]] = {
    "QA": ("BioASQ-Task-B-yesno", "PubMedQA-labeled", "MedQA"),
    "TE": ("SciFact", "ManConCorpus", "CoVERt"),
    "NER": (
        "NCBI-disease",
        "BC5CDR",
        "AnEM",
        "BioNLP-2009",
        "BioNLP-2011-GE",
        "BioNLP-2011-ID",
        "BioNLP-2011-REL",
        "BioNLP-2013-CG",
        "BioNLP-2013-GE",
        "BioNLP-2013-GRO",
        "BioNLP-2013-PC",
        "BioRED",
        "tmVar-v3",
    ),
    "TXTCLASS": ("Hallmarks-of-Cancer", "MedDialog"),
    "NED": ("MeDAL", "tmVar-v3-NED"),
    "RE": ("AnEM-RE", "BC5CDR-RE", "BioInfer-RE"),
    "COREF": ("AnEM-COREF", "MLEE-COREF"),
    "SUM": ("Multi-XScience",),
    "EE": ("MLEE-EE",),
    "STS": ("BIOSSES",),
    "TRANSL": ("ParaMed",),
}
GENERATION_CATEGORIES = ("SUM", "TRANSL", "QA", "NER", "NED", "RE", "COREF", "EE")
GENERATION_TASKS = tuple(t for c in GENERATION_CATEGORIES for t in CATEGORIES[c])  # the hub configs the gate scores


@dataclass(frozen=True)
class MedInstRecord:
    instruction: str
    input: str
    output: str
    history: tuple[tuple[str, str], ...] = ()
    task: str = ""


def load(path: Path, task: str = "", skipped: list[str] | None = None) -> list[MedInstRecord]:
    def parse(where: str, rec: object) -> MedInstRecord:
        location = where.split(": ", 1)[1]
        if not isinstance(rec, dict):
            raise fail(path, location, "(record)", "a JSON object", rec)
        for key in ("instruction", "output"):
            if not isinstance(rec.get(key), str):
                raise fail(path, location, key, "a string", rec.get(key))
        if not isinstance(rec.get("input", ""), str):
            raise fail(path, location, "input", "a string", rec.get("input"))
        history = rec.get("history") or []
        if not all(isinstance(p, list) and len(p) == 2 for p in history):
            raise fail(path, location, "history", "a list of [user, assistant] pairs", history)
        return MedInstRecord(
            rec["instruction"],
            rec.get("input", ""),
            rec["output"],
            tuple(tuple(p) for p in history),
            rec.get("task", task),
        )

    return parse_each(iter_raw(path), parse, skipped)
