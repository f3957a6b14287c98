"""`data download` against a local test double of GitHub (contents API + raw files): the files land
where the loaders look, are parsed before being kept, and failures leave nothing behind."""

from __future__ import annotations

import dataclasses
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.benchmarks import datasets, get_dataset
from harness.data import download as dl
from harness.data.dataset import resolve_path
from harness.data.sources import GitHubFiles, HubRows

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tiny-moe" / "data"


@pytest.fixture
def github(monkeypatch):
    """Serves fixture files as if they were the repositories' files at the pinned commits."""
    served = {
        "/medhalt/medhalt/3dfe1e4efa4f565a610e90328500b14c16c1e81c/medhalt/datasets/reasoning_fake.csv": (
            FIXTURES / "medhalt" / "reasoning_fake.csv"
        ).read_bytes(),
    }
    news = sorted((FIXTURES / "multi_news_plus" / "cleansed_data").glob("*.json"))
    for f in news:
        served[
            f"/c-juhwan/multi_news_plus/e347c8eedb78a09b4971bc0011a8865e11dfafdb/cleansing/cleansed_data/{f.name}"
        ] = f.read_bytes()
    listing = json.dumps(
        [{"name": f.name, "type": "file"} for f in news] + [{"name": "README.md", "type": "file"}]
    ).encode()
    served[
        "/repos/c-juhwan/multi_news_plus/contents/cleansing/cleansed_data?ref=e347c8eedb78a09b4971bc0011a8865e11dfafdb"
    ] = listing
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            requests.append(self.path)
            body = served.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"not found")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setattr(dl, "GITHUB_API", url)
    monkeypatch.setattr(dl, "GITHUB_RAW", url)
    yield requests
    server.shutdown()


def test_downloads_land_where_the_loaders_look(github, tmp_path):
    folder = dl.download(get_dataset("medhalt-fake"), tmp_path, show_progress=False)
    assert resolve_path(get_dataset("medhalt-fake"), root=tmp_path).is_file()
    assert json.loads((folder / "SOURCE.json").read_text())["records"] == 60
    dl.download(get_dataset("multi-news-plus"), tmp_path, show_progress=False)
    clusters = get_dataset("multi-news-plus").load(resolve_path(get_dataset("multi-news-plus"), root=tmp_path))
    assert len(clusters) == 30 and not any("README" in p for p in github)  # only the matching files fetched


def test_a_failed_download_leaves_nothing_and_keeps_the_old_copy(github, tmp_path, monkeypatch):
    dl.download(get_dataset("medhalt-fake"), tmp_path, show_progress=False)
    broken = GitHubFiles("medhalt/medhalt", "0" * 40, (("nope.csv", "reasoning_fake.csv"),))
    with pytest.raises(dl.DownloadError, match="HTTP 404"):
        dl.download(dataclasses.replace(get_dataset("medhalt-fake"), origin=broken), tmp_path, show_progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["medhalt-fake"]  # no temp folder left, old copy kept
    assert (tmp_path / "medhalt-fake" / "reasoning_fake.csv").is_file()


def test_hub_downloads_refuse_offline_and_unknown_recipes(tmp_path, monkeypatch, capsys):
    from harness.cli.main import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["data", "download", "gsm8k", "--data-dir", str(tmp_path)]) == 2
    assert "HF_HUB_OFFLINE" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no download recipe"):
        dl.download(get_dataset("knowledge"), tmp_path)
    assert not list(tmp_path.iterdir())


@pytest.fixture
def hub_double(monkeypatch):
    """Stands in for the hub: ``datasets.load_dataset`` rows per (config, split) and a resolvable commit."""
    import datasets

    calls: list[tuple] = []

    def load_dataset(hub_id, config, split, revision):
        calls.append((hub_id, config, split, revision))
        if hub_id == "openai/gsm8k":
            return [{"question": f"What is {i} + 1?", "answer": f"{i} + 1 = {i + 1}\n#### {i + 1}"} for i in range(3)]
        return [
            {"instruction": f"Task {config}: repeat.", "input": f"row {i}", "output": f"row {i}", "history": []}
            for i in range(2)
        ]

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    monkeypatch.setattr(dl, "resolve_hub_commit", lambda hub_id, revision: f"sha-of-{revision}")
    return calls


def test_hub_rows_are_read_at_one_resolved_commit_and_recorded(hub_double, tmp_path, capsys):
    from harness.cli.main import main

    assert main(["data", "download", "gsm8k", "--data-dir", str(tmp_path), "--revision", "v1.0"]) == 0
    source = json.loads((tmp_path / "gsm8k" / "SOURCE.json").read_text())
    assert source["revision"] == "v1.0" and source["commit"] == "sha-of-v1.0" and source["records"] == 3
    assert {c[3] for c in hub_double} == {"sha-of-v1.0"}  # every split read at the resolved commit
    assert len(get_dataset("gsm8k").load(resolve_path(get_dataset("gsm8k"), root=tmp_path))) == 3


def test_medinst_configs_are_tagged_with_their_task(hub_double, tmp_path):
    from harness.data import medinst

    with pytest.warns(UserWarning, match="no pinned commit"):
        dl.download(get_dataset("medinst"), tmp_path, show_progress=False)
    records = get_dataset("medinst").load(resolve_path(get_dataset("medinst"), root=tmp_path))
    assert [r.task for r in records] == [t for t in medinst.GENERATION_TASKS for _ in range(2)]
    assert {c[2] for c in hub_double} == {"test"}
    with pytest.warns(UserWarning, match="no pinned commit"):
        dl.download(get_dataset("medinst-calibration"), tmp_path, show_progress=False)
    assert hub_double[-1][1:3] == ("unseen_train_100k", "train")
    assert (
        len(get_dataset("medinst-calibration").load(resolve_path(get_dataset("medinst-calibration"), root=tmp_path)))
        == 2
    )


def test_revision_is_refused_for_github_pinned_datasets(tmp_path):
    with pytest.raises(ValueError, match="pinned commit 3dfe1e4"):
        dl.download(get_dataset("medhalt-fake"), tmp_path, revision="main")


def test_hub_sources_are_read_at_their_pinned_commit_by_default(hub_double, tmp_path):
    dl.download(get_dataset("gsm8k"), tmp_path, show_progress=False)
    pinned = get_dataset("gsm8k").origin.revision
    assert len(pinned) == 40 and {c[3] for c in hub_double} == {f"sha-of-{pinned}"}
    assert json.loads((tmp_path / "gsm8k" / "SOURCE.json").read_text())["revision"] == pinned


def test_an_unpinned_hub_source_warns_with_the_commit_to_pin(hub_double, tmp_path):
    with pytest.warns(UserWarning, match="--revision sha-of-main"):
        dl.download(get_dataset("medinst-calibration"), tmp_path, show_progress=False)


def test_every_official_source_is_pinned_to_a_full_commit_except_medinst():
    """MedINST32 is the one source with no commit known here (see harness/data/sources.py)."""
    unpinned = {n for n, s in datasets().items() if not s.origin.pinned}
    assert unpinned == {"medinst", "medinst-calibration"}
    for spec in datasets().values():
        if isinstance(spec.origin, HubRows) and spec.origin.pinned:
            assert spec.source.startswith(f"hf:{spec.origin.hub_id}@{spec.origin.revision[:10]}")
    with pytest.raises(ValueError, match="full 40-hex sha"):
        GitHubFiles("pubmedqa/pubmedqa", "1cbae8e")
