"""``python -m harness``: one sub-command per pipeline stage."""

from __future__ import annotations

import argparse
import sys

from harness.cli import (
    agreement_cmd,
    cache_cmd,
    coverage_cmd,
    data_cmd,
    factcheck_cmd,
    generate_cmd,
    prune_cmd,
    report_cmd,
    score_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m harness", description="moegate: prune MoE models and gate their release"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    prune_cmd.register(sub)
    data_cmd.register(sub)
    factcheck_cmd.register(sub)
    generate_cmd.register(sub)
    cache_cmd.register(sub)
    report_cmd.register(sub)
    coverage_cmd.register(sub)
    agreement_cmd.register(sub)
    score_cmd.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted; completed variants are kept, partial outputs were removed", file=sys.stderr)
        return 130
    except (ValueError, OSError) as exc:  # bad input, missing files, failed downloads
        print(f"error: {exc}", file=sys.stderr)
        return 2
