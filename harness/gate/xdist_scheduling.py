"""pytest-xdist scheduling for gate runs: every check of one variant runs on one worker, and the variants
spread over the workers.

A variant's answers are generated once, by the worker that runs its checks; split over workers, each
would generate them again (or wait). xdist's own ``--dist loadgroup`` does this through ``xdist_group``
marks, but it silently stops grouping on pytest >= 9.2 (pytest-dev/pytest-xdist#1386: the worker
rewrites a node id field pytest no longer reads), so the gate schedules by the variant id that every
check's node id carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xdist.scheduler import LoadScopeScheduling


def variant_scope(nodeid: str, variant_ids: Sequence[str]) -> str:
    """The variant a check's node id names (``test_check[<variant>-<check>]``; the longest id wins when one
    is a prefix of another), else the node id itself: a test of no variant is scheduled on its own."""
    named = [vid for vid in variant_ids if f"[{vid}-" in nodeid]
    return max(named, key=len) if named else nodeid


class VariantScheduling(LoadScopeScheduling):
    """xdist's load-by-scope scheduler with one scope per variant."""

    def __init__(self, config: Any, log: Any, variant_ids: Sequence[str]) -> None:
        super().__init__(config, log)
        self.variant_ids = list(variant_ids)

    def _split_scope(self, nodeid: str) -> str:
        return variant_scope(nodeid, self.variant_ids)
