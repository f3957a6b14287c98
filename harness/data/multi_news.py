"""Multi-News+ cleansed data (Choi et al. 2024): JSON arrays in ``cleansed_data_cot_*.json`` chunks.

Split values are ``train``/``val``/``test`` (``val``, not ``validation``). Clusters whose cleansing
kept no document (``document_num == 0``, 38 test rows upstream) are SKIPPED by default and counted:
summarising an empty source measures nothing (the reference study generated them anyway).
Source: github.com/c-juhwan/multi_news_plus @ e347c8e, ``cleansing/cleansed_data/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.data.records import DataFormatError, fail, load_json, parse_each
from harness.data.sources import MULTI_NEWS_PLUS

REPO = MULTI_NEWS_PLUS[0]
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class NewsCluster:
    idx: int
    documents: tuple[str, ...]  # non-empty cleansed documents
    summary: str
    split: str


@dataclass
class NewsLoadReport:
    clusters: list[NewsCluster]
    skipped_empty: int


def _chunk(path: Path) -> list:
    rows = load_json(path)
    if not isinstance(rows, list):
        raise DataFormatError(f"{path}: expected a JSON array of records")
    return rows


def load(
    folder: Path, split: str = "test", keep_empty: bool = False, skipped: list[str] | None = None
) -> NewsLoadReport:
    """Clusters of ``split``; empty clusters are counted, not summarised (unless ``keep_empty``)."""
    if split not in SPLITS:
        raise ValueError(f"Multi-News+ split must be one of {SPLITS} (the dev split is called 'val'), got {split!r}")
    files = sorted(folder.glob("cleansed_data*.json"))
    if not files:
        raise FileNotFoundError(f"{folder}: no cleansed_data*.json files (Multi-News+ from github.com/{REPO})")
    empty = 0
    clusters: list[NewsCluster] = []
    for path in files:

        def parse(where: str, rec: dict, path: Path = path) -> NewsCluster | None:
            nonlocal empty
            if not isinstance(rec, dict):
                raise fail(path, where, "(record)", "a JSON object", rec)
            for key, kind in (("idx", int), ("summary", str), ("split", str), ("cleansed_document", list)):
                if not isinstance(rec.get(key), kind):
                    raise fail(path, where, key, kind.__name__, rec.get(key))
            if rec["split"] not in SPLITS:
                raise fail(path, where, "split", f"one of {SPLITS}", rec["split"])
            if rec["split"] != split:
                return None
            docs = tuple(d for d in rec["cleansed_document"] if isinstance(d, str) and d.strip())
            if not docs and not keep_empty:
                empty += 1
                return None
            return NewsCluster(rec["idx"], docs, rec["summary"], rec["split"])

        clusters += parse_each(((f"record {i}", rec) for i, rec in enumerate(_chunk(path))), parse, skipped)
    return NewsLoadReport(sorted(clusters, key=lambda c: c.idx), empty)
