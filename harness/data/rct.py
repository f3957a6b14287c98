"""RCT summarization data (Wallace et al. 2021): ``{split}-inputs.csv`` and ``{split}-targets.csv``.

Both are pandas ``to_csv`` files with an unnamed index column. Inputs hold one row per trial report
(many per review); targets one row per review. By default only reviews with exactly one input
article are kept, as the reference study did (single-trial summarisation).
Source: github.com/bwallace/RCT-summarization-data @ de10c27.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from harness.data.records import as_int, fail, read_csv

REPO = "bwallace/RCT-summarization-data"


@dataclass(frozen=True)
class RctReview:
    review_id: str
    articles: tuple[tuple[str, str, str], ...]  # (pmid, title, abstract)
    target: str


def load(folder: Path, split: str = "test", single_article_only: bool = True) -> list[RctReview]:
    inputs, targets = folder / f"{split}-inputs.csv", folder / f"{split}-targets.csv"
    articles: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for row, rec in read_csv(inputs, ("ReviewID", "PMID", "Title", "Abstract")):
        if not rec["ReviewID"].strip():
            raise fail(inputs, row, "ReviewID", "a Cochrane review id like CD000123")
        pmid = str(as_int(inputs, row, "PMID", rec["PMID"]))
        articles[rec["ReviewID"]].append((pmid, rec["Title"], rec["Abstract"]))
    reviews = []
    for row, rec in read_csv(targets, ("ReviewID", "Target")):
        if not rec["Target"].strip():
            raise fail(targets, row, "Target", "a non-empty conclusion")
        arts = articles.get(rec["ReviewID"], [])
        if not arts or (single_article_only and len(arts) != 1):
            continue
        reviews.append(RctReview(rec["ReviewID"], tuple(arts), rec["Target"]))
    return reviews
