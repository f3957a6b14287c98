"""`data download` against a local test double of GitHub (contents API + raw files): the files land
where the loaders look, are parsed before being kept, and failures leave nothing behind."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.data import download as dl
from harness.data import registry

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tiny-moe" / "data"


@pytest.fixture
def github(monkeypatch):
    """Serves fixture files as if they were the repositories' files at the pinned commits."""
    served = {
        "/medhalt/medhalt/3dfe1e4efa4f565a610e90328500b14c16c1e81c/medhalt/datasets/reasoning_fake.csv":
            (FIXTURES / "medhalt" / "reasoning_fake.csv").read_bytes(),
    }
    news = sorted((FIXTURES / "multi_news_plus" / "cleansed_data").glob("*.json"))
    for f in news:
        served[f"/c-juhwan/multi_news_plus/e347c8eedb78a09b4971bc0011a8865e11dfafdb/cleansing/cleansed_data/{f.name}"] = f.read_bytes()
    listing = json.dumps([{"name": f.name, "type": "file"} for f in news] + [{"name": "README.md", "type": "file"}]).encode()
    served["/repos/c-juhwan/multi_news_plus/contents/cleansing/cleansed_data?ref=e347c8eedb78a09b4971bc0011a8865e11dfafdb"] = listing
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
    folder = dl.download("medhalt-fake", tmp_path, show_progress=False)
    assert registry.resolve_path("medhalt-fake", root=tmp_path).is_file()
    assert json.loads((folder / "SOURCE.json").read_text())["records"] == 60
    dl.download("multi-news-plus", tmp_path, show_progress=False)
    clusters = registry.get("multi-news-plus").load(registry.resolve_path("multi-news-plus", root=tmp_path))
    assert len(clusters) == 30 and not any("README" in p for p in github)  # only the matching files fetched


def test_a_failed_download_leaves_nothing_and_keeps_the_old_copy(github, tmp_path, monkeypatch):
    dl.download("medhalt-fake", tmp_path, show_progress=False)
    monkeypatch.setitem(dl.FETCH, "medhalt-fake", dl.GitHubFiles("medhalt/medhalt", "0" * 40, (("nope.csv", "reasoning_fake.csv"),)))
    with pytest.raises(dl.DownloadError, match="HTTP 404"):
        dl.download("medhalt-fake", tmp_path, show_progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["medhalt-fake"]  # no temp folder left, old copy kept
    assert (tmp_path / "medhalt-fake" / "reasoning_fake.csv").is_file()


def test_hub_downloads_refuse_offline_and_unknown_recipes(tmp_path, monkeypatch, capsys):
    from harness.cli.main import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["data", "download", "gsm8k", "--data-dir", str(tmp_path)]) == 2
    assert "HF_HUB_OFFLINE" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no download recipe"):
        dl.download("knowledge", tmp_path)
    assert not list(tmp_path.iterdir())
