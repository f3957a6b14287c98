"""PubMedQA labelled set: ``ori_pqal.json`` (PMID -> record) and ``test_ground_truth.json``.

Source: github.com/pubmedqa/pubmedqa @ 1cbae8e (``data/``); hub ``bigbio/pubmed_qa`` config
``pubmed_qa_labeled_fold0_source``. ``YEAR`` may be null.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.data.records import fail, load_json, parse_each

HUB_ID = "bigbio/pubmed_qa"
HUB_CONFIG = "pubmed_qa_labeled_fold0_source"
LABELS = ("yes", "no", "maybe")


@dataclass(frozen=True)
class PubMedQAItem:
    pmid: str
    question: str
    contexts: tuple[str, ...]
    label: str


def load(folder: Path, test_only: bool = True, skipped: list[str] | None = None) -> list[PubMedQAItem]:
    path = folder / "ori_pqal.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found (PubMedQA from github.com/pubmedqa/pubmedqa data/)")
    data = load_json(path)
    truth_path = folder / "test_ground_truth.json"
    truth = load_json(truth_path) if truth_path.is_file() else None
    if test_only and truth is None:
        raise FileNotFoundError(f"{truth_path}: needed to select the test PMIDs (or pass test_only=False)")

    def parse(where: str, pair: tuple[str, dict]) -> PubMedQAItem | None:
        pmid, rec = pair
        if test_only and pmid not in (truth or {}):
            return None
        if not isinstance(rec.get("QUESTION"), str):
            raise fail(path, where, "QUESTION", "a string", rec.get("QUESTION"))
        if not isinstance(rec.get("CONTEXTS"), list) or not all(isinstance(c, str) for c in rec["CONTEXTS"]):
            raise fail(path, where, "CONTEXTS", "a list of strings", rec.get("CONTEXTS"))
        label = (truth or {}).get(pmid, rec.get("final_decision"))
        if label not in LABELS:
            raise fail(path, where, "final_decision", f"one of {LABELS}", label)
        return PubMedQAItem(pmid, rec["QUESTION"], tuple(rec["CONTEXTS"]), label)

    return parse_each(((f"PMID {pmid}", (pmid, rec)) for pmid, rec in data.items()), parse, skipped)
