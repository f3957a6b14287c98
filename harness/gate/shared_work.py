"""Work that pytest-xdist workers share: torch threads per worker, and once-only work under a file lock.

N workers on one machine each get 1/N of the cores for torch (by default every worker takes them
all and N workers oversubscribe the CPU). Work every worker needs but one must do (the baseline's
answers, the variants' sweep) runs under a file lock; the others wait on it, so the holder takes every
core while it holds the lock, and a cold run with ``-n N`` costs what a serial one does up to the
point where the workers' own variants spread over the cores.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock


def _workers() -> int:
    return int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)


def _threads_are_ours() -> bool:
    return _workers() > 1 and "OMP_NUM_THREADS" not in os.environ


def share_cpu_threads() -> None:
    """Give this xdist worker its share of the cores for torch (no-op outside xdist or with OMP_NUM_THREADS)."""
    if _threads_are_ours():
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // _workers()))


@contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """One worker at a time inside; under xdist the one inside takes every core (the others wait)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock)):
        if not _threads_are_ours():
            yield
            return
        import torch

        share = torch.get_num_threads()
        torch.set_num_threads(os.cpu_count() or share)
        try:
            yield
        finally:
            torch.set_num_threads(share)
