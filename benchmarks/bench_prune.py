"""Pruning-engine benchmarks; prints a table of ratios measured in one run (this machine is noisy).

  1. calibration overhead: all-metrics calibration pass / plain forward pass over the same batches
  2. sweep: 6 methods x 7 ratios from one calibration vs the naive way (one calibration per variant)
  3. surgery: seconds per pruned checkpoint, bytes written vs bytes expected

Usage: python benchmarks/bench_prune.py [--model tiny-moe|DIR] [--samples 128] [--naive-variants 42]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from timing import best  # benchmarks/timing.py: a script's own folder is on sys.path

from harness.batching import pad_batch
from harness.cli.prune_cmd import default_calibration
from harness.data.calibration import CalibrationSource
from harness.models.adapters import adapter_for
from harness.models.loading import load_model, load_tokenizer, resolve
from harness.prune.calibrate import CalibrationSettings, build_calibration, collect_stats
from harness.prune.methods import default_methods, statistics_of
from harness.prune.sweep import SweepRequest, run_sweep

RATIOS = [0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875]


def _plain_pass(model, batches, settings, pad_id) -> None:
    with torch.no_grad():
        for samples in batches.domains.values():
            order = sorted(range(len(samples)), key=lambda i: len(samples[i]))
            for start in range(0, len(order), settings.batch_size):
                ids, mask = pad_batch([samples[i] for i in order[start : start + settings.batch_size]], pad_id)
                model(input_ids=ids, attention_mask=mask, use_cache=False)


def _calibration_cost(
    resolved: Any, sources: list[CalibrationSource], tokenizer: Any, samples: int
) -> list[tuple[str, str]]:
    """Calibration pass (every default method's statistics) against a plain forward over the same batches."""
    model = load_model(resolved.path)
    adapter = adapter_for(model.config)
    rows = []
    for label, ean in (("EAN on 256 tokens/sample (default)", 256), ("EAN on 16 tokens/sample", 16)):
        settings = CalibrationSettings(n_samples=samples, ean_tokens_per_sample=ean)
        batches = build_calibration(sources, tokenizer, resolved.chat_template_kwargs, settings, seed=0)
        plain = best(
            lambda batches=batches, settings=settings: _plain_pass(model, batches, settings, tokenizer.pad_token_id)
        )
        calib = best(
            lambda batches=batches, settings=settings: collect_stats(
                model,
                adapter,
                batches,
                settings,
                0,
                tokenizer.pad_token_id,
                statistics_of(list(default_methods())),
                False,
            )
        )
        rows.append((f"calibration / plain forward, {label}", f"{calib / plain:.2f}x  ({calib:.2f}s vs {plain:.2f}s)"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny-moe")
    parser.add_argument("--calibration", action="append")
    parser.add_argument("--samples", type=int, default=128)
    parser.add_argument("--naive-variants", type=int, default=42, help="how many naive variants to actually run")
    args = parser.parse_args()

    resolved = resolve(args.model)
    sources = [CalibrationSource.parse(s) for s in (args.calibration or default_calibration(args.model))]
    tokenizer = load_tokenizer(resolved.path)
    rows = _calibration_cost(resolved, sources, tokenizer, args.samples)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        settings = CalibrationSettings(n_samples=args.samples)
        start = time.perf_counter()
        results = run_sweep(
            resolved,
            SweepRequest(list(default_methods()), RATIOS, [0], sources, settings, verify=False),
            tmp / "sweep",
            tmp / "cache",
            show_progress=False,
            log=lambda _m: None,
        )
        one_pass = time.perf_counter() - start
        n_variants = len(results)
        surgery = [r.manifest.surgery for r in results]
        written = sum(s["total_bytes_after"] for s in surgery)
        expected = sum(
            s["total_bytes_before"] - s["expert_bytes_before"] * r.variant.ratio for s, r in zip(surgery, results)
        )

        naive_runs = min(args.naive_variants, n_variants)
        start = time.perf_counter()
        for i, r in enumerate(results[:naive_runs]):
            run_sweep(
                resolved,
                SweepRequest([r.variant.method], [r.variant.ratio], [0], sources, settings, verify=False),
                tmp / f"naive{i}",
                tmp / f"naive-cache{i}",
                show_progress=False,
                log=lambda _m: None,
            )
            shutil.rmtree(tmp / f"naive{i}")
        naive = (time.perf_counter() - start) * n_variants / naive_runs
        rows.append(
            (
                f"sweep of {n_variants} variants: naive (1 calibration each) / one pass",
                f"{naive / one_pass:.1f}x  ({naive:.1f}s vs {one_pass:.1f}s"
                + ("" if naive_runs == n_variants else f"; naive extrapolated from {naive_runs}")
                + ")",
            )
        )
        seconds = [s["seconds"] for s in surgery]
        rows.append(
            (
                "surgery: seconds per pruned checkpoint (mean, max)",
                f"{sum(seconds) / len(seconds):.3f}s, {max(seconds):.3f}s",
            )
        )
        rows.append(
            ("surgery: bytes written / bytes expected (all variants)", f"{written / expected:.4f}  ({written:,} B)")
        )
        shrink = [
            s["expert_bytes_after"] / s["expert_bytes_before"] / (1 - r.variant.ratio) for s, r in zip(surgery, results)
        ]
        rows.append(("surgery: expert bytes kept / (1 - ratio), min..max", f"{min(shrink):.4f}..{max(shrink):.4f}"))

    width = max(len(k) for k, _ in rows)
    print(
        f"\nmodel: {resolved.name} ({resolved.path}), calibration samples/domain: {args.samples}, "
        f"threads: {torch.get_num_threads()}"
    )
    print(f"{'measure'.ljust(width)}  result")
    print(f"{'-' * width}  {'-' * 40}")
    for key, value in rows:
        print(f"{key.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
