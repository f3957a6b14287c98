"""Work xdist workers share: the file lock's holder takes every core and gives them back, and a baseline
store opened with --refresh-baseline ignores answers stored before it opened but takes those another
worker stored since (so workers refreshing together answer the baseline once)."""

from __future__ import annotations

import os
import threading
import time

import torch

from harness.benchmarks import get_task
from harness.gate.baseline import BaselineStore
from harness.gate.shared_work import exclusive, share_cpu_threads
from harness.measure.tasks import Item, TaskRun


def test_the_lock_holder_takes_every_core_and_gives_them_back(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    before = torch.get_num_threads()
    try:
        share_cpu_threads()
        assert torch.get_num_threads() == 2
        with exclusive(tmp_path / "sub" / "x.lock"):
            assert torch.get_num_threads() == 4
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_one_holder_at_a_time(tmp_path):
    inside, overlaps = [], []

    def work():
        with exclusive(tmp_path / "x.lock"):
            overlaps.append(len(inside))
            inside.append(1)
            time.sleep(0.05)
            inside.pop()

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == [0, 0, 0]


def test_a_refreshing_store_takes_only_answers_stored_since_it_opened(tmp_path):
    task = get_task("medqa")
    items = [Item(str(i), "q", choices=("A", "B", "C", "D"), answer=0) for i in range(3)]
    run = TaskRun(task, items, [0, 1, 2])
    BaselineStore(tmp_path).put("m", run, "k" * 16, {})
    time.sleep(0.02)
    refreshing = BaselineStore(tmp_path, refresh=True)
    assert refreshing.get("m", task, items, "k" * 16) is None  # stored before this run: refreshed
    time.sleep(0.02)
    BaselineStore(tmp_path, refresh=True).put("m", run, "k" * 16, {})  # another worker answered it
    assert refreshing.get("m", task, items, "k" * 16).outputs == [0, 1, 2]
