"""Fetch a dataset into its local cache location, only when asked (``python -m harness data download``).

GitHub-hosted files come from the pinned commit (raw files; folders listed through the contents
API); hub-hosted rows are exported with ``datasets.load_dataset`` to the JSONL the loaders read.
Everything lands in a temporary folder renamed into place at the end, so an interrupted download
leaves nothing half-written; the result is parsed with the dataset's loader before it is kept.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import httpx
from tqdm.auto import tqdm

from harness.atomic import atomic_dir
from harness.data import medinst, registry

GITHUB_API = os.environ.get("MOEGATE_GITHUB_API", "https://api.github.com")
GITHUB_RAW = os.environ.get("MOEGATE_GITHUB_RAW", "https://raw.githubusercontent.com")


class DownloadError(ConnectionError):
    """A download that failed; the message names the URL or source."""


@dataclass(frozen=True)
class GitHubFiles:
    repo: str
    commit: str
    files: tuple[tuple[str, str], ...] = ()  # (path in the repository, local path)
    folder: tuple[str, str, str] | None = None  # (remote folder, glob, local folder)


@dataclass(frozen=True)
class HubRows:
    hub_id: str
    configs: tuple[str | None, ...]  # several configs go into the same file, each row tagged "task": config
    splits: tuple[tuple[str, str], ...]  # (split, local JSONL file)
    # Not pinned to a commit: no hub was reachable to read one. `data download --revision` pins it;
    # SOURCE.json always records the commit actually fetched.
    revision: str = "main"


FETCH: dict[str, GitHubFiles | HubRows] = {
    **{f"medhalt-{t}": GitHubFiles("medhalt/medhalt", "3dfe1e4efa4f565a610e90328500b14c16c1e81c",
                                   ((f"medhalt/datasets/{f}", f),))
       for t, f in (("fct", "reasoning_FCT.csv"), ("fake", "reasoning_fake.csv"), ("nota", "reasoning_nota.csv"))},
    "rct": GitHubFiles("bwallace/RCT-summarization-data", "de10c2712873efa1733859f2d7113af60427d7b2",
                       (("test-inputs.csv", "test-inputs.csv"), ("test-targets.csv", "test-targets.csv"))),
    "multi-news-plus": GitHubFiles("c-juhwan/multi_news_plus", "e347c8eedb78a09b4971bc0011a8865e11dfafdb",
                                   folder=("cleansing/cleansed_data", "cleansed_data*.json", "cleansed_data")),
    "pubmedqa": GitHubFiles("pubmedqa/pubmedqa", "1cbae8e", (("data/ori_pqal.json", "ori_pqal.json"),
                                                             ("data/test_ground_truth.json", "test_ground_truth.json"))),
    "multi-xscience": GitHubFiles("yaolu/Multi-XScience", "6559770", (("data/test.json.gz", "test.json.gz"),)),
    "medqa": HubRows("GBaker/MedQA-USMLE-4-options-hf", (None,), (("test", "test.jsonl"),)),
    "medmcqa": HubRows("openlifescienceai/medmcqa", (None,), (("validation", "validation.jsonl"),)),
    "mmlu": HubRows("cais/mmlu", ("all",), (("test", "test.jsonl"), ("dev", "dev.jsonl"))),
    "gsm8k": HubRows("openai/gsm8k", ("main",), (("test", "test.jsonl"), ("train", "train.jsonl"))),
    "ifeval": HubRows("google/IFEval", (None,), (("train", "test.jsonl"),)),  # the hub's only split is "train"
    "humaneval": HubRows("openai/openai_humaneval", (None,), (("test", "test.jsonl"),)),
    # the generation tasks the gate scores, one config per task (evaluation.py's task names)
    "medinst": HubRows(medinst.HUB_ID, tuple(t for c in medinst.GENERATION_CATEGORIES for t in medinst.CATEGORIES[c]),
                       (("test", "medinst.jsonl"),)),
    "medinst-calibration": HubRows(medinst.HUB_ID, (medinst.CALIBRATION_CONFIG,),
                                   (("train", f"{medinst.CALIBRATION_CONFIG}.jsonl"),)),
}


def _get(client: httpx.Client, url: str) -> httpx.Response:
    response = client.get(url, follow_redirects=True)
    if response.status_code != 200:
        raise DownloadError(f"download failed: GET {url}: HTTP {response.status_code}")
    return response


def _github(spec: GitHubFiles, tmp: Path, client: httpx.Client, show_progress: bool) -> None:
    files = list(spec.files)
    if spec.folder:
        remote, pattern, local = spec.folder
        listing = _get(client, f"{GITHUB_API}/repos/{spec.repo}/contents/{remote}?ref={spec.commit}").json()
        files += [(f"{remote}/{e['name']}", f"{local}/{e['name']}") for e in listing
                  if e.get("type") == "file" and fnmatchcase(e["name"], pattern)]
        if not files:
            raise DownloadError(f"github:{spec.repo}@{spec.commit}: no {pattern} in {remote}")
    for remote, local in tqdm(files, desc=f"download {spec.repo}", unit="file", disable=not show_progress):
        target = tmp / local
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_get(client, f"{GITHUB_RAW}/{spec.repo}/{spec.commit}/{remote}").content)


def resolve_hub_commit(hub_id: str, revision: str) -> str:
    """The commit sha a branch or tag of a hub dataset points at now (recorded next to the rows)."""
    from huggingface_hub import HfApi

    return HfApi().dataset_info(hub_id, revision=revision).sha


def _hub(spec: HubRows, tmp: Path, revision: str, show_progress: bool) -> str:
    """Export every (config, split) to JSONL at one commit; returns that commit."""
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        raise DownloadError(f"hf:{spec.hub_id}: HF_HUB_OFFLINE / HF_DATASETS_OFFLINE is set; unset it to download")
    from datasets import load_dataset

    commit = resolve_hub_commit(spec.hub_id, revision)  # every config read at the same commit
    for split, local in spec.splits:
        with open(tmp / local, "w", encoding="utf-8") as fh:
            for config in tqdm(spec.configs, desc=f"download {spec.hub_id}", unit="config",
                               disable=not show_progress or len(spec.configs) == 1):
                for row in load_dataset(spec.hub_id, config, split=split, revision=commit):
                    tagged = row | {"task": config} if len(spec.configs) > 1 else row
                    fh.write(json.dumps(tagged, ensure_ascii=False) + "\n")
    return commit


def download(name: str, root: Path | None = None, show_progress: bool = True, revision: str | None = None) -> Path:
    """Fetch ``name`` into ``<root>/<name>/`` (replacing an older copy only once the new one parses).

    ``revision`` (hub datasets only) overrides the recipe's branch, tag or commit."""
    spec = registry.get(name)
    if name not in FETCH:
        raise ValueError(f"dataset {name} has no download recipe (source: {spec.source}); place the files at "
                         f"{registry.default_path(spec, root)}")
    folder = (root or registry.data_root()) / name
    with atomic_dir(folder) as tmp:
        recipe = FETCH[name]
        if isinstance(recipe, GitHubFiles):
            if revision is not None:
                raise ValueError(f"dataset {name} comes from github:{recipe.repo} at the pinned commit "
                                 f"{recipe.commit}; --revision applies to hub datasets only")
            with httpx.Client(timeout=120) as client:
                _github(recipe, tmp, client, show_progress)
            fetched = {"repository": recipe.repo, "commit": recipe.commit}
        else:
            requested = revision or recipe.revision
            fetched = {"hub_id": recipe.hub_id, "revision": requested,
                       "commit": _hub(recipe, tmp, requested, show_progress)}
        records = spec.load(tmp / spec.default_file if spec.default_file != "." else tmp)
        (tmp / "SOURCE.json").write_text(json.dumps({"dataset": name, "source": spec.source, **fetched,
                                                     "records": len(records)}, indent=2) + "\n")
    return folder
