"""``python -m harness data``: list the datasets, or parse a local copy with its loader."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from harness.benchmarks import datasets, get_dataset
from harness.data.dataset import data_root, default_path, resolve_path, size_of


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="datasets: list them, check a local file or folder")
    cmds = p.add_subparsers(dest="data_command", required=True)
    ls = cmds.add_parser("list", help="each dataset, its source, whether it is cached here and its size")
    ls.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="cache root (default $MOEGATE_DATA_DIR or ~/.cache/moegate/datasets)",
    )
    ls.set_defaults(run=_list)
    ck = cmds.add_parser("check", help="parse PATH with the named loader; print the count and the first record")
    ck.add_argument("name", choices=sorted(datasets()))
    ck.add_argument("path", type=Path)
    ck.add_argument(
        "--lenient", action="store_true", help="skip malformed records (counted and listed) instead of failing"
    )
    ck.set_defaults(run=_check)
    dl = cmds.add_parser(
        "download",
        help="fetch a dataset from its official source into the cache (network)",
        description="The only command that touches the network for data: GitHub files at the "
        "pinned commit, hub rows exported to JSONL. Parsed before it is kept.",
    )
    dl.add_argument("name", choices=sorted(datasets()))
    dl.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="cache root (default $MOEGATE_DATA_DIR or ~/.cache/moegate/datasets)",
    )
    dl.add_argument(
        "--revision",
        default=None,
        help="hub datasets: branch, tag or commit to fetch instead of the pinned commit (the commit actually "
        "fetched is recorded in SOURCE.json). GitHub datasets are pinned to a commit already",
    )
    dl.set_defaults(run=_download)


def _list(args: argparse.Namespace) -> int:
    root = args.data_dir or data_root()
    print(f"cache root: {root}")
    for spec in datasets().values():
        path = default_path(spec, root)
        state = f"cached, {size_of(path):,} bytes" if path.exists() else "not cached"
        print(f"{spec.name:16s} {state:28s} {spec.source}  ({spec.description})")
    return 0


def _check(args: argparse.Namespace) -> int:
    spec = get_dataset(args.name)
    skipped: list[str] | None = [] if args.lenient else None
    records = spec.load(resolve_path(spec, args.path), skipped=skipped)
    first = records[0] if records else None
    print(
        f"{args.name}: {len(records)} records from {args.path}"
        + (f", {len(skipped)} malformed skipped" if skipped else "")
    )
    for reason in (skipped or [])[:20]:
        print(f"  skipped: {reason}")
    if first is not None:
        print(json.dumps(dataclasses.asdict(first), indent=2, ensure_ascii=False, default=str)[:4000])
    return 0


def _download(args: argparse.Namespace) -> int:
    from harness.data.download import download

    folder = download(get_dataset(args.name), args.data_dir, revision=args.revision)
    print(json.loads((folder / "SOURCE.json").read_text()) | {"path": str(folder)})
    return 0
