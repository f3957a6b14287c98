"""Calibration and surgery at Qwen3-30B-A3B's real shapes on one GPU (random weights, no hub).

Builds Qwen3-30B-A3B's architecture (48 layers x 128 experts, top-8, hidden 2048, bf16) with random weights
directly on the GPU, then measures: a plain forward over the calibration batches, the statistics capture
without EAN, with EAN (its default token budget), peak allocated memory of each (full mode); the checkpoint
written to ``--workdir``, layerwise calibration from it (decoder layers streamed) with its peak memory; and
surgery of one 50% variant. ``--layers`` trims the depth (the disk must hold the bf16 checkpoint: about
1.27 GB per layer). Without CUDA it exits with that reason; ``--smoke`` runs the same path at toy sizes on
the CPU (what CI can check).

    .venv/bin/python benchmarks/gpu_scale.py --workdir /scratch [--layers 48] [--samples 64] [--batch 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
import transformers as T

QWEN3_30B = dict(
    num_hidden_layers=48,
    num_experts=128,
    num_experts_per_tok=8,
    hidden_size=2048,
    moe_intermediate_size=768,
    intermediate_size=6144,
    num_attention_heads=32,
    num_key_value_heads=4,
    head_dim=128,
    vocab_size=151936,
)
SMOKE = dict(QWEN3_30B, hidden_size=64, moe_intermediate_size=32, intermediate_size=64, head_dim=16, vocab_size=512)


def _peak(device: str) -> float:
    return torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else float("nan")


def _reset(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def run(args: argparse.Namespace, device: str) -> list[tuple[str, float, float]]:
    from harness.models.adapters import adapter_for
    from harness.models.streaming import model_for_calibration
    from harness.prune.calibrate import CalibrationBatchSet, CalibrationSettings, collect_stats
    from harness.prune.methods import default_methods, statistics_of
    from harness.prune.surgery import write_pruned_tensors

    shape = dict(SMOKE if args.smoke else QWEN3_30B, num_hidden_layers=args.layers)
    config = T.Qwen3MoeConfig(**shape)
    dtype = torch.float32 if args.smoke else torch.bfloat16
    gen = torch.Generator().manual_seed(0)
    ids = [torch.randint(1, shape["vocab_size"], (args.seq,), generator=gen).tolist() for _ in range(args.samples)]
    batches = CalibrationBatchSet({"bench": ids}, {}, "bench")
    settings = CalibrationSettings(n_samples=args.samples, batch_size=args.batch)
    every = [m for m in default_methods()]
    rows: list[tuple[str, float, float]] = []

    def timed(name: str, fn) -> None:  # type: ignore[no-untyped-def]
        _reset(device)
        started = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        rows.append((name, time.perf_counter() - started, _peak(device)))

    with torch.device(device):
        torch.manual_seed(0)
        model = T.AutoModelForCausalLM.from_config(config, dtype=dtype).eval()
    adapter = adapter_for(config)

    def forward() -> None:
        with torch.no_grad():
            for start in range(0, args.samples, args.batch):
                model(input_ids=torch.tensor(ids[start : start + args.batch], device=device), use_cache=False)

    def capture(methods: list[str]):  # type: ignore[no-untyped-def]
        return lambda: collect_stats(model, adapter, batches, settings, 0, 0, statistics_of(methods), False)

    forward()  # warm-up (kernels, allocator), not timed
    timed("plain forward", forward)
    timed("capture without EAN", capture([m for m in every if m != "ean"]))
    timed("capture with EAN", capture(every))
    workdir = Path(args.workdir)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        source = Path(tmp) / "source"
        model.save_pretrained(source)
        model = None  # frees the GPU memory before the layerwise run
        if device.startswith("cuda"):
            torch.cuda.empty_cache()

        def layerwise() -> None:
            with model_for_calibration(source, "layerwise", device, workdir) as streamed:
                collect_stats(streamed, adapter, batches, settings, 0, 0, statistics_of(every), False)

        timed("layerwise calibration (all methods)", layerwise)
        half = shape["num_experts"] // 2
        slots = {layer: list(range(half)) for layer in range(args.layers)}
        (Path(tmp) / "pruned").mkdir()  # write_pruned_tensors fills an existing folder
        timed(
            "surgery, 50% of the experts",
            lambda: write_pruned_tensors(source, Path(tmp) / "pruned", adapter, slots, shape["num_experts"]),
        )
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default=tempfile.gettempdir(), help="where the checkpoint is written (and removed)")
    ap.add_argument("--layers", type=int, default=48)
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--smoke", action="store_true", help="toy sizes on the CPU (checks the script, no figures)")
    args = ap.parse_args()
    if args.smoke:
        device = "cpu"
    elif torch.cuda.is_available():
        device = "cuda"
    else:
        print("skipped: no CUDA device here (run it where `device` status shows a GPU; --smoke checks the path)")
        return 0
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu (smoke)"
    print(f"Qwen3-30B-A3B shape, {args.layers} layers, {args.samples} x {args.seq} tokens, batch {args.batch}, {name}")
    rows = run(args, device)
    base = rows[0][1]
    print("| step | seconds | / plain forward | peak allocated GiB |\n|---|---|---|---|")
    for step, seconds, peak in rows:
        print(f"| {step} | {seconds:.2f} | {seconds / base:.2f}x | {peak:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
