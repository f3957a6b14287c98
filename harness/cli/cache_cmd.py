"""``python -m harness cache info|prune``: inspect and trim the generation cache."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from harness.generate.cache import GenerationCache, default_cache_dir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cache", help="generation cache: entries per checkpoint, size; prune entries")
    p.add_argument("action", choices=["info", "prune"])
    p.add_argument(
        "--cache-dir", type=Path, default=None, help="cache directory (default $MOEGATE_CACHE_DIR or ~/.cache/moegate)"
    )
    p.add_argument("--checkpoint", help="prune: entries of the checkpoint whose content hash starts with this")
    p.add_argument("--older-than-days", type=float, help="prune: entries written more than this many days ago")
    p.add_argument("--corrupt", action="store_true", help="prune: entries whose stored digest no longer matches")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cache = GenerationCache((args.cache_dir or default_cache_dir()) / "generations.sqlite")
    try:
        if args.action == "prune":
            if args.checkpoint is None and args.older_than_days is None and not args.corrupt:
                raise ValueError("cache prune needs --checkpoint, --older-than-days or --corrupt")
            older = None if args.older_than_days is None else args.older_than_days * 86400
            print(json.dumps({"removed": cache.prune(args.checkpoint, older, args.corrupt)}))
        print(json.dumps(cache.info().as_dict(), indent=2))
    finally:
        cache.close()
    return 0
