"""Multi-XScience (Lu et al. 2020): related-work generation from an abstract and its references.

Raw files: github.com/yaolu/Multi-XScience @ 6559770 ``data/{train,val,test}.json.gz`` (gzipped JSON
arrays of ``{aid, mid, abstract, related_work, ref_abstract: {"@cite_N": {mid, abstract}}}``). The
reference study used the MedINST32 ``Multi-XScience`` copy instead (``Abstract: ... References:
@cite_N: ...`` inputs); ``to_medinst_input`` renders a raw record the same way.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

from harness.data.records import DataFormatError, fail, parse_each
from harness.data.sources import MULTI_XSCIENCE

REPO = MULTI_XSCIENCE[0]
INSTRUCTION = "Writing the related-work section of a paper based on its abstract and the articles it references."


@dataclass(frozen=True)
class XScienceRecord:
    aid: str
    abstract: str
    references: tuple[tuple[str, str], ...]  # (cite id, abstract)
    related_work: str

    def to_medinst_input(self) -> str:
        refs = " ".join(f"{cite}: {abstract}" for cite, abstract in self.references)
        return f"Abstract: {self.abstract}\nReferences: {refs}"


def load(path: Path, skipped: list[str] | None = None) -> list[XScienceRecord]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            rows = json.load(fh)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: file not found (Multi-XScience data/ from github.com/{REPO})") from None
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from exc

    def parse(where: str, rec: dict) -> XScienceRecord:
        for key in ("aid", "abstract", "related_work"):
            if not isinstance(rec.get(key), str):
                raise fail(path, where, key, "a string", rec.get(key))
        refs = rec.get("ref_abstract")
        if not isinstance(refs, dict):
            raise fail(path, where, "ref_abstract", "an object of @cite_N entries", refs)
        return XScienceRecord(
            rec["aid"],
            rec["abstract"],
            tuple((k, (v or {}).get("abstract", "")) for k, v in refs.items()),
            rec["related_work"],
        )

    return parse_each(((f"record {i}", rec) for i, rec in enumerate(rows)), parse, skipped)
