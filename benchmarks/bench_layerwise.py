"""Layerwise calibration: peak memory and time against the full-model pass, at growing layer counts.

For each layer count a random-weight Qwen3-MoE checkpoint with 128 experts, top-8 (Qwen3-30B-A3B's
expert count, small hidden size) is written once; then one child process per mode loads it
(``harness.models.streaming.model_for_calibration``) and runs the statistics capture of every default
method over the same random calibration batches. Each child reports its own peak RSS
(``getrusage``), its anonymous memory at the end of the capture (``/proc/self/smaps_rollup``: peak RSS
also counts the checkpoint's mmapped clean pages, which the kernel reclaims) and wall time. Layerwise
memory should stay near one decoder layer's weights + activations + statistics, flat in the layer
count, while the full pass grows with the checkpoint.

    .venv/bin/python benchmarks/bench_layerwise.py [--layers 12 24 48] [--samples 16] [--batch 8]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import transformers as T

SHAPE = dict(
    num_experts=128,
    num_experts_per_tok=8,
    moe_intermediate_size=128,
    intermediate_size=256,
    hidden_size=128,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=32,
    vocab_size=1024,
)
SEQ_LEN = 64


def write_checkpoint(path: Path, layers: int) -> int:
    torch.manual_seed(0)
    model = T.AutoModelForCausalLM.from_config(T.Qwen3MoeConfig(num_hidden_layers=layers, **SHAPE))
    model.save_pretrained(path)
    per_layer = sum(p.numel() * p.element_size() for p in model.model.layers[0].parameters())
    del model
    return per_layer


def child(path: Path, mode: str, samples: int, batch: int) -> None:
    from harness.models.adapters import adapter_for
    from harness.models.streaming import model_for_calibration
    from harness.prune.calibrate import CalibrationBatchSet, CalibrationSettings, collect_stats
    from harness.prune.methods import default_methods, statistics_of

    gen = torch.Generator().manual_seed(1)
    ids = [torch.randint(1, SHAPE["vocab_size"], (SEQ_LEN,), generator=gen).tolist() for _ in range(samples)]
    batches = CalibrationBatchSet({"bench": ids}, {}, "bench")
    settings = CalibrationSettings(n_samples=samples, batch_size=batch, ean_tokens_per_sample=16)
    started = time.perf_counter()
    with model_for_calibration(path, mode, "cpu", None) as model:  # type: ignore[arg-type]
        loaded = time.perf_counter() - started
        collect_stats(
            model, adapter_for(model.config), batches, settings, 0, 0, statistics_of(list(default_methods())), False
        )
        anonymous = _anonymous_bytes()  # still inside: the model and the statistics are alive
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"mode": mode, "seconds": seconds, "load_seconds": loaded, "peak_rss": peak, "anon": anonymous}))


def _anonymous_bytes() -> int:
    """Anonymous (non file-backed) memory of this process: what it really holds. Peak RSS also counts the
    checkpoint's mmapped, clean, reclaimable pages, which streaming reads through."""
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Anonymous:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, nargs="+", default=[12, 24, 48])
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--child", nargs=2, metavar=("PATH", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1], args.samples, args.batch)
        return
    print(
        "| layers | checkpoint | one layer | full: peak RSS / anonymous, s | layerwise: peak RSS / anonymous, s "
        "| layerwise / full time |"
    )
    print("|---|---|---|---|---|---|")
    for layers in args.layers:
        with tempfile.TemporaryDirectory(prefix="bench-layerwise-") as tmp:
            path = Path(tmp) / "ckpt"
            per_layer = write_checkpoint(path, layers)
            size = sum(f.stat().st_size for f in path.glob("*.safetensors"))
            runs = {}
            for mode in ("full", "layerwise"):
                cmd = [sys.executable, __file__, "--child", str(path), mode, "--samples", str(args.samples)]
                out = subprocess.run([*cmd, "--batch", str(args.batch)], capture_output=True, text=True, check=True)
                runs[mode] = json.loads(out.stdout.strip().splitlines()[-1])
            full, lw = runs["full"], runs["layerwise"]
            mib = 1 << 20
            print(
                f"| {layers} | {size / mib:,.0f} MiB | {per_layer / mib:.1f} MiB "
                f"| {full['peak_rss'] / mib:,.0f} / {full['anon'] / mib:,.0f} MiB, {full['seconds']:.1f} "
                f"| {lw['peak_rss'] / mib:,.0f} / {lw['anon'] / mib:,.0f} MiB, {lw['seconds']:.1f} "
                f"| {lw['seconds'] / full['seconds']:.2f}x |",
                flush=True,
            )


if __name__ == "__main__":
    main()
