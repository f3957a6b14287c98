"""``python -m harness generate``: greedy outputs for a JSONL of prompts, through the cache."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.atomic import atomic_path
from harness.data.records import fail, parse_each, read_jsonl
from harness.generate.options import add_backend_options, backend_options


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="generate outputs for a JSONL file of prompts (cached, resumable)",
        description='Each input line is {"prompt": ..., "id": optional}. Outputs are cached per '
        "item by checkpoint content hash, so an interrupted run resumes where it stopped.",
    )
    p.add_argument("--model", required=True, help="registry name or checkpoint directory")
    p.add_argument("--prompts", type=Path, required=True, help='JSONL file, one {"prompt": ...} per line')
    p.add_argument("--out", type=Path, required=True, help="JSONL file to write {id, prompt, output} to")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--raw", action="store_true", help="send prompts as they are (no chat template)")
    add_backend_options(p.add_argument)
    p.set_defaults(run=run)


def _prompt(path: Path):
    def parse(where: str, raw: object) -> dict:
        if not isinstance(raw, dict) or not isinstance(raw.get("prompt"), str):
            raise fail(path, where, "prompt", "a JSON object with a string 'prompt'", raw)
        return {"id": raw.get("id", where), "prompt": raw["prompt"]}

    return parse


def run(args: argparse.Namespace) -> int:
    from harness.generate.backends import open_backend
    from harness.models.loading import resolve

    items = parse_each(read_jsonl(args.prompts), _prompt(args.prompts))
    model = resolve(args.model)
    with open_backend(model.path, model.chat_template_kwargs, backend_options(vars(args).get)) as backend:
        outputs = backend.generate([i["prompt"] for i in items], args.max_new_tokens, chat=not args.raw)
        summary = {
            "items": len(items),
            "from_cache": backend.hits,
            "generated": backend.computed,
            "checkpoint": backend.checkpoint,
            "backend": backend.version,
        }
    with atomic_path(args.out) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for item, output in zip(items, outputs):
            fh.write(json.dumps({**item, "output": output}, ensure_ascii=False) + "\n")
    print(json.dumps(summary), file=sys.stderr)
    return 0
