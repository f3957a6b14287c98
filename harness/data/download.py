"""Fetch a dataset into its local cache location, only when asked (``python -m harness data download``).

GitHub-hosted files come from the pinned commit (raw files; folders listed through the contents
API); hub-hosted rows are exported with ``datasets.load_dataset`` to the JSONL the loaders read.
Everything lands in a temporary folder renamed into place at the end, so an interrupted download
leaves nothing half-written; the result is parsed with the dataset's loader before it is kept.
"""

from __future__ import annotations

import json
import os
import warnings
from fnmatch import fnmatchcase
from pathlib import Path

import httpx
from tqdm.auto import tqdm

from harness.atomic import atomic_dir
from harness.data.dataset import DatasetSpec, data_root, default_path
from harness.data.sources import GitHubFiles, HubRows

GITHUB_API = os.environ.get("MOEGATE_GITHUB_API", "https://api.github.com")
GITHUB_RAW = os.environ.get("MOEGATE_GITHUB_RAW", "https://raw.githubusercontent.com")


class DownloadError(ConnectionError):
    """A download that failed; the message names the URL or source."""


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
        files += [
            (f"{remote}/{e['name']}", f"{local}/{e['name']}")
            for e in listing
            if e.get("type") == "file" and fnmatchcase(e["name"], pattern)
        ]
        if not files:
            raise DownloadError(f"github:{spec.repo}@{spec.commit}: no {pattern} in {remote}")
    for remote, local in tqdm(files, desc=f"download {spec.repo}", unit="file", disable=not show_progress):
        target = tmp / local
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_get(client, f"{GITHUB_RAW}/{spec.repo}/{spec.commit}/{remote}").content)


def resolve_hub_commit(hub_id: str, revision: str) -> str:
    """The commit sha a branch or tag of a hub dataset points at now (recorded next to the rows)."""
    from huggingface_hub import HfApi

    sha = HfApi().dataset_info(hub_id, revision=revision).sha
    if sha is None:
        raise OSError(f"{hub_id}@{revision}: the hub returned no commit sha")
    return sha


def _hub(spec: HubRows, tmp: Path, revision: str, show_progress: bool) -> str:
    """Export every (config, split) to JSONL at one commit; returns that commit."""
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        raise DownloadError(f"hf:{spec.hub_id}: HF_HUB_OFFLINE / HF_DATASETS_OFFLINE is set; unset it to download")
    from datasets import load_dataset

    commit = resolve_hub_commit(spec.hub_id, revision)  # every config read at the same commit
    for split, local in spec.splits:
        with open(tmp / local, "w", encoding="utf-8") as fh:
            for config in tqdm(
                spec.configs,
                desc=f"download {spec.hub_id}",
                unit="config",
                disable=not show_progress or len(spec.configs) == 1,
            ):
                for row in load_dataset(spec.hub_id, config, split=split, revision=commit):
                    tagged = row | {"task": config} if len(spec.configs) > 1 else row
                    fh.write(json.dumps(tagged, ensure_ascii=False) + "\n")
    return commit


def download(
    spec: DatasetSpec, root: Path | None = None, show_progress: bool = True, revision: str | None = None
) -> Path:
    """Fetch ``spec`` into ``<root>/<name>/`` (replacing an older copy only once the new one parses).

    ``revision`` (hub datasets only) overrides the pinned commit with a branch, tag or commit."""
    name = spec.name
    recipe = spec.origin
    if not isinstance(recipe, (GitHubFiles, HubRows)):
        raise ValueError(
            f"dataset {name} has no download recipe (source: {spec.source}); place the files at "
            f"{default_path(spec, root)}"
        )
    folder = (root or data_root()) / name
    with atomic_dir(folder) as tmp:
        if isinstance(recipe, GitHubFiles):
            if revision is not None:
                raise ValueError(
                    f"dataset {name} comes from github:{recipe.repo} at the pinned commit "
                    f"{recipe.commit}; --revision applies to hub datasets only"
                )
            with httpx.Client(timeout=120) as client:
                _github(recipe, tmp, client, show_progress)
            fetched = {"repository": recipe.repo, "commit": recipe.commit}
        else:
            requested = revision or recipe.revision
            commit = _hub(recipe, tmp, requested, show_progress)
            fetched = {"hub_id": recipe.hub_id, "revision": requested, "commit": commit}
            if revision is None and not recipe.pinned:
                warnings.warn(
                    f"hf:{recipe.hub_id} has no pinned commit in moegate; read {requested} = {commit}. "
                    f"Pass --revision {commit} to fetch exactly these rows again.",
                    stacklevel=2,
                )
        records = spec.load(tmp / spec.default_file if spec.default_file != "." else tmp)
        (tmp / "SOURCE.json").write_text(
            json.dumps({"dataset": name, "source": spec.source, **fetched, "records": len(records)}, indent=2) + "\n"
        )
    return folder
