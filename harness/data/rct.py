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

from harness.data.records import as_int, fail, parse_each, read_csv


@dataclass(frozen=True)
class RctReview:
    review_id: str
    articles: tuple[tuple[str, str, str], ...]  # (pmid, title, abstract)
    target: str


def load(
    folder: Path, split: str = "test", single_article_only: bool = True, skipped: list[str] | None = None
) -> list[RctReview]:
    """Reviews of ``split`` joined to their trial reports (lenient when ``skipped`` is a list)."""
    inputs, targets = folder / f"{split}-inputs.csv", folder / f"{split}-targets.csv"

    def parse_input(row: str, rec: dict[str, str]) -> tuple[str, tuple[str, str, str]]:
        if not rec["ReviewID"].strip():
            raise fail(inputs, row, "ReviewID", "a Cochrane review id like CD000123")
        return rec["ReviewID"], (str(as_int(inputs, row, "PMID", rec["PMID"])), rec["Title"], rec["Abstract"])

    articles: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for review_id, article in parse_each(
        read_csv(inputs, ("ReviewID", "PMID", "Title", "Abstract")), parse_input, skipped
    ):
        articles[review_id].append(article)

    def parse_target(row: str, rec: dict[str, str]) -> RctReview | None:
        if not rec["Target"].strip():
            raise fail(targets, row, "Target", "a non-empty conclusion")
        arts = articles.get(rec["ReviewID"], [])
        if not arts or (single_article_only and len(arts) != 1):
            return None
        return RctReview(rec["ReviewID"], tuple(arts), rec["Target"])

    return parse_each(read_csv(targets, ("ReviewID", "Target")), parse_target, skipped)
