"""Where each dataset officially lives, pinned to one commit, so a re-download sees the same rows.

GitHub commits were read from the repositories themselves. No model/dataset hub is reachable from the
machine this was written on, so each hub commit below is one that several independent public
evaluation configs pin (their snapshot paths and ``revision=`` arguments agree); ``data download``
resolves it on the hub and writes the commit it read into ``SOURCE.json``. A source that has no known
commit says so (``pinned`` is False) and ``data download`` warns with the commit it resolved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SHA = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class GitHubFiles:
    """Raw files of a GitHub repository at one commit."""

    repo: str
    commit: str
    files: tuple[tuple[str, str], ...] = ()  # (path in the repository, local path)
    folder: tuple[str, str, str] | None = None  # (remote folder, glob, local folder)

    def __post_init__(self) -> None:
        if not _SHA.fullmatch(self.commit):
            raise ValueError(
                f"github:{self.repo}: commit must be a full 40-hex sha (raw URLs need it), got {self.commit!r}"
            )

    @property
    def pinned(self) -> bool:
        return True

    def describe(self) -> str:
        return f"github:{self.repo}@{self.commit[:10]}"


@dataclass(frozen=True)
class HubRows:
    """Rows of a hub dataset (configs x splits) exported to JSONL at one revision."""

    hub_id: str
    revision: str  # a commit sha; a branch only where no commit is known (then ``pinned`` is False)
    configs: tuple[str | None, ...]  # several configs go into the same file, each row tagged "task": config
    splits: tuple[tuple[str, str], ...]  # (split, local JSONL file)

    @property
    def pinned(self) -> bool:
        return bool(_SHA.fullmatch(self.revision))

    def describe(self) -> str:
        return f"hf:{self.hub_id}@{self.revision[:10] if self.pinned else self.revision + ' (unpinned)'}"


@dataclass(frozen=True)
class LocalOnly:
    """A dataset with no public source: the user's own file in the documented format."""

    what: str

    @property
    def pinned(self) -> bool:
        return True

    def describe(self) -> str:
        return f"local: {self.what}"


Origin = GitHubFiles | HubRows | LocalOnly

MEDHALT = "medhalt/medhalt", "3dfe1e4efa4f565a610e90328500b14c16c1e81c"  # 2023-10-13, the datasets/ folder
RCT = "bwallace/RCT-summarization-data", "de10c2712873efa1733859f2d7113af60427d7b2"  # 2021-01-22
MULTI_NEWS_PLUS = "c-juhwan/multi_news_plus", "e347c8eedb78a09b4971bc0011a8865e11dfafdb"  # 2024-08-24
PUBMEDQA = "pubmedqa/pubmedqa", "1cbae8e92f72f20c8d3747cbb3bf5bc53554d997"  # 2023-04-18
MULTI_XSCIENCE = "yaolu/Multi-XScience", "65597703a3d458a2ce4c80611d93675a21aa840c"  # 2024-06-16

# Hub commits pinned by several independent public evaluation configs (see the module docstring).
HUB_COMMITS = {
    "GBaker/MedQA-USMLE-4-options-hf": "17af9355ef89fba60de966eabaeba797c695f86e",
    "openlifescienceai/medmcqa": "91c6572c454088bf71b679ad90aa8dffcd0d5868",
    "cais/mmlu": "c30699e8356da336a370243923dbaf21066bb9fe",
    "openai/gsm8k": "740312add88f781978c0658806c59bc2815b9866",
    "google/IFEval": "966cd89545d6b6acfd7638bc708b98261ca58e84",
    "openai/openai_humaneval": "7dce6050a7d6d172f3cc5c32aa97f52fa1a2e544",
}


def hub(hub_id: str, configs: tuple[str | None, ...], splits: tuple[tuple[str, str], ...]) -> HubRows:
    """A hub source at its known commit, or at ``main`` (unpinned) where none is known."""
    return HubRows(hub_id, HUB_COMMITS.get(hub_id, "main"), configs, splits)
