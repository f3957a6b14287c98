"""Generation cache: keys by content hash, atomic per item, resumes after kill -9, drops corrupt rows."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.generate.cache import GenerationCache
from harness.generate.cached import CachedBackend

ROOT = Path(__file__).resolve().parents[1]


class CountingBackend:
    """Test double: echoes prompts and counts what it was asked to compute."""

    name, version, batch_size, tokenizer = "double", "double-1", 4, None

    def __init__(self, checkpoint: str):
        self.checkpoint = checkpoint
        self.generated: list[str] = []

    def generate(self, prompts, max_new_tokens=256):
        self.generated += list(prompts)
        return [f"{self.checkpoint}:{p}:{max_new_tokens}" for p in prompts]

    def loglikelihood(self, requests):
        return [-float(len(c)) for _, c in requests]


def test_cache_hits_and_never_shares_between_checkpoints(tmp_path):
    cache = GenerationCache(tmp_path / "g.sqlite")
    a, b = CountingBackend("aaa"), CountingBackend("bbb")
    prompts = [f"p{i}" for i in range(10)] + ["p0"]  # a duplicate is computed once
    first = CachedBackend(a, cache).generate(prompts, 8, chat=False)
    assert len(a.generated) == 10 and first[0] == first[-1] == "aaa:p0:8"
    again = CachedBackend(a, cache)
    assert again.generate(prompts, 8, chat=False) == first and again.hits == 10 and len(a.generated) == 10
    other = CachedBackend(b, cache).generate(prompts, 8, chat=False)  # same prompts, other checkpoint
    assert other[0] == "bbb:p0:8" and len(b.generated) == 10
    CachedBackend(a, cache).generate(prompts[:3], 9, chat=False)  # other parameters: new entries
    assert len(a.generated) == 13
    refreshed = CachedBackend(a, cache, refresh=True)
    refreshed.generate(prompts[:2], 8, chat=False)
    assert refreshed.hits == 0 and refreshed.computed == 2
    assert CachedBackend(a, None).generate(["p0"], 8, chat=False) == ["aaa:p0:8"]
    assert cache.info().per_checkpoint == {"aaa": 13, "bbb": 10}


def test_corrupt_rows_are_regenerated_not_returned(tmp_path):
    path = tmp_path / "g.sqlite"
    cache = GenerationCache(path)
    backend = CountingBackend("aaa")
    CachedBackend(backend, cache).loglikelihood([("ctx", " a"), ("ctx", " bb")])
    with sqlite3.connect(path) as db:  # flip a stored value behind the cache's back
        db.execute("UPDATE entries SET value = '123.0' WHERE rowid = 1")
    wrapped = CachedBackend(backend, cache)
    assert wrapped.loglikelihood([("ctx", " a"), ("ctx", " bb")]) == [-2.0, -3.0]
    assert wrapped.computed == 1 and cache.corrupt_dropped == 1
    with sqlite3.connect(path) as db:
        db.execute("UPDATE entries SET value = 'not json', digest = 'x' WHERE rowid = 2")
    assert cache.prune(corrupt=True) == 1


def _generate(args: list[str], **kw) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "harness", "generate", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _rows(path: Path) -> int:
    try:
        with sqlite3.connect(path, timeout=30) as db:
            return db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_killed_run_resumes_without_losing_or_repeating_items(tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "".join(json.dumps({"id": i, "prompt": f"What treats disease number {i}?"}) + "\n" for i in range(24))
    )
    args = [
        "--model",
        "tiny-moe",
        "--prompts",
        str(prompts),
        "--max-new-tokens",
        "48",
        "--batch-size",
        "2",
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    db = tmp_path / "cache" / "generations.sqlite"
    proc = _generate(args + ["--out", str(tmp_path / "killed.jsonl")])
    deadline = time.monotonic() + 120
    while _rows(db) < 4 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _rows(db)
    assert 4 <= done < 24, "the run should have been killed part-way"
    assert not (tmp_path / "killed.jsonl").exists()  # the output file is written atomically at the end

    resumed = _generate(args + ["--out", str(tmp_path / "resumed.jsonl")])
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    summary = json.loads(err.strip().splitlines()[-1])
    assert summary["from_cache"] == done and summary["generated"] == 24 - done  # nothing twice, nothing lost
    fresh = _generate(args + ["--out", str(tmp_path / "fresh.jsonl"), "--no-cache"])
    assert fresh.wait(timeout=300) == 0
    assert (tmp_path / "resumed.jsonl").read_text() == (tmp_path / "fresh.jsonl").read_text()


def test_generate_cli_names_the_bad_line(tmp_path, capsys):
    from harness.cli.main import main

    bad = tmp_path / "p.jsonl"
    bad.write_text('{"prompt": "ok"}\n{"text": "no prompt"}\n')
    assert main(["generate", "--model", "tiny-moe", "--prompts", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert f"{bad}: line 2: field 'prompt'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["cache", "prune"], ["cache", "info"]])
def test_cache_cli(tmp_path, capsys, argv):
    from harness.cli.main import main

    code = main(argv + ["--cache-dir", str(tmp_path)])
    out = capsys.readouterr()
    if argv[1] == "prune":
        assert code == 2 and "needs --checkpoint" in out.err
    else:
        assert code == 0 and json.loads(out.out)["entries"] == 0


def test_two_processes_share_one_cache_safely(tmp_path):
    """Like two xdist workers on CPU: concurrent runs over overlapping prompts, one SQLite file."""
    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"Name a drug for disease {i}."}) + "\n" for i in range(12)))
    args = [
        "--model",
        "tiny-moe",
        "--prompts",
        str(prompts),
        "--max-new-tokens",
        "16",
        "--batch-size",
        "2",
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    procs = [_generate(args + ["--out", str(tmp_path / f"out{k}.jsonl")]) for k in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    assert _rows(tmp_path / "cache" / "generations.sqlite") == 12
    assert (tmp_path / "out0.jsonl").read_text() == (tmp_path / "out1.jsonl").read_text()


def test_xdist_workers_pin_one_gpu_each(tmp_path, monkeypatch, pytestconfig):
    from harness.pytest_gate import _pin_gpu

    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'GPU 0: H100 (UUID: a)'\necho 'GPU 1: H100 (UUID: b)'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    _pin_gpu(pytestconfig)  # this run's options: the transformers backend, one GPU per worker
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")  # an explicit choice is left alone
    _pin_gpu(pytestconfig)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "7"


def test_fully_cached_rerun_never_loads_the_model(tmp_path):
    from harness.generate.backends import BackendOptions, open_backend
    from harness.models.loading import resolve

    path, options = resolve("tiny-moe").path, BackendOptions(cache_dir=tmp_path)
    with open_backend(path, options=options) as backend:
        first = backend.generate(["Name a drug.", "Name a disease."], 8)
        assert backend.backend.started
    with open_backend(path, options=options) as backend:
        assert backend.generate(["Name a drug.", "Name a disease."], 8) == first
        assert not backend.backend.started and backend.hits == 2
