"""Real shapes on one CPU: layerwise against full calibration (time, peak memory) and surgery memory.

Three tables, each from random-weight checkpoints written once per row (small hidden sizes, the real
models' layer and expert counts):

* ``shapes``: Qwen3-30B-A3B (48 x 128, top-8), GPT-OSS-20B (24 x 32, top-4) and DeepSeek-V3 (61 layers,
  256 experts, 8 groups, top-8, 3 dense layers): the statistics capture of every default method, full
  model against layerwise streaming, in one child process per mode.
* ``layers``: the Qwen3 shape at growing layer counts: layerwise memory should stay flat.
* ``surgery``: 50% surgery of Qwen3-shaped checkpoints of growing size, sharded: peak memory should stay
  near one shard.

Each child reports its peak RSS (``VmHWM``; it also counts the checkpoint's mmapped clean pages,
which the kernel can reclaim), its peak anonymous memory (what it really holds) and wall time; both
peaks include the interpreter with torch and transformers imported (about 330 MiB). One run; this
2-core machine is noisy, so rerun before trusting a digit.
glibc keeps freed heap: ``MALLOC_MMAP_THRESHOLD_=131072`` (set for the children unless given) returns
large blocks to the system, so anonymous memory shows what is live.

    .venv/bin/python benchmarks/bench_scale.py [--table shapes layers surgery] [--samples 16] [--batch 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
import transformers as T
from bench_capture import shapes  # benchmarks/: a script's own folder is on sys.path

SEQ_LEN = 64
MIB = 1 << 20
QWEN3 = dict(
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


def real_shapes() -> dict[str, T.PretrainedConfig]:
    return {name: config for name, config in shapes().items() if "shape" in name}


def write_checkpoint(path: Path, config: T.PretrainedConfig, shard: str | None = None) -> int:
    """Save a random-weight model in shards of ``shard`` (default: about two decoder layers, as real MoE
    checkpoints hold one to three layers per shard; one shard of every tensor would make each streamed
    read parse a header of tens of thousands of entries); return the bytes of its largest decoder layer."""
    torch.manual_seed(0)
    model = T.AutoModelForCausalLM.from_config(config)
    per_layer = max(sum(p.numel() * p.element_size() for p in layer.parameters()) for layer in model.model.layers)
    model.save_pretrained(path, max_shard_size=shard or f"{max(1, round(2 * per_layer / 1e6))}MB")
    del model
    return per_layer


class PeakMemory:
    """This process's peak RSS (``VmHWM``: exact, and unlike ``getrusage`` not inherited from the parent
    that forked it) and peak anonymous memory (``RssAnon`` sampled every 10 ms: what it really holds, not
    the checkpoint's mmapped clean pages, which the kernel can reclaim)."""

    def __init__(self) -> None:
        self.anonymous = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def _status(field: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        return 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.anonymous = max(self.anonymous, self._status("RssAnon"))
            self._stop.wait(0.01)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.anonymous = max(self.anonymous, self._status("RssAnon"))

    def report(self, started: float) -> None:
        print(
            json.dumps(
                {"seconds": time.perf_counter() - started, "peak_rss": self._status("VmHWM"), "anon": self.anonymous}
            )
        )


def child_calibration(
    path: Path, mode: str, samples: int, batch: int, report: bool = True, skip: tuple[str, ...] = ()
) -> None:
    from harness.models.adapters import adapter_for
    from harness.models.streaming import model_for_calibration
    from harness.prune.calibrate import CalibrationBatchSet, CalibrationSettings, collect_stats
    from harness.prune.methods import default_methods, statistics_of

    vocab = json.loads((path / "config.json").read_text())["vocab_size"]
    gen = torch.Generator().manual_seed(1)
    ids = [torch.randint(1, vocab, (SEQ_LEN,), generator=gen).tolist() for _ in range(samples)]
    batches = CalibrationBatchSet({"bench": ids}, {}, "bench")
    settings = CalibrationSettings(n_samples=samples, batch_size=batch, ean_tokens_per_sample=16)
    statistics = statistics_of([m for m in default_methods() if m not in skip])
    started = time.perf_counter()
    with PeakMemory() as peak, model_for_calibration(path, mode, "cpu", None) as model:  # type: ignore[arg-type]
        collect_stats(model, adapter_for(model.config), batches, settings, 0, 0, statistics, False)
    if report:
        peak.report(started)


def child_idle(path: Path) -> None:
    """The floor both peaks stand on: the interpreter after a layerwise calibration of a one-layer model
    (every module the pass imports stays imported), measured once that model is gone."""
    import gc

    child_calibration(path, "layerwise", 2, 2, report=False)
    gc.collect()
    print(json.dumps({"anon": PeakMemory._status("RssAnon")}))


def child_surgery(path: Path, out: Path) -> None:
    from harness.models.adapters import adapter_for
    from harness.prune.surgery import moe_layers_on_disk, write_pruned_checkpoint

    config = T.AutoConfig.from_pretrained(path)
    adapter = adapter_for(config)
    experts = adapter.num_experts(config)
    keep: dict[int, list[int | None]] = {
        layer: list(range(0, experts, 2)) for layer in moe_layers_on_disk(path, adapter)
    }
    started = time.perf_counter()
    with PeakMemory() as peak:
        write_pruned_checkpoint(path, out, adapter, keep, experts)
    peak.report(started)


def _child(*args: str) -> dict:
    env = {"MALLOC_MMAP_THRESHOLD_": "131072", **os.environ}
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True, env=env
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _calibration_row(
    label: str, config: T.PretrainedConfig, samples: int, batch: int, without_ean: bool = False
) -> tuple[str, int, dict, dict | None]:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        path = Path(tmp) / "ckpt"
        per_layer = write_checkpoint(path, config)
        shards = list(path.glob("*.safetensors"))
        size = sum(f.stat().st_size for f in shards)
        full, lw = (_child("calibrate", str(path), mode, str(samples), str(batch)) for mode in ("full", "layerwise"))
        no_ean = _child("calibrate", str(path), "layerwise", str(samples), str(batch), "ean") if without_ean else None
    row = (
        f"| {label} | {size / MIB:,.0f} MiB ({len(shards)} shards) | {per_layer / MIB:.1f} MiB "
        f"| {full['peak_rss'] / MIB:,.0f} / {full['anon'] / MIB:,.0f} MiB, {full['seconds']:.1f} s "
        f"| {lw['peak_rss'] / MIB:,.0f} / {lw['anon'] / MIB:,.0f} MiB, {lw['seconds']:.1f} s "
        f"| {lw['seconds'] / full['seconds']:.2f}x |"
    )
    return row, per_layer, lw, no_ean


CALIBRATION_HEADER = (
    "| {what} | checkpoint | largest layer | full: peak RSS / peak anonymous, time "
    "| layerwise: peak RSS / peak anonymous, time | layerwise / full time |\n|---|---|---|---|---|---|"
)


def table_shapes(samples: int, batch: int) -> None:
    print(CALIBRATION_HEADER.format(what="shape"))
    for name, config in real_shapes().items():
        print(_calibration_row(name, config, samples, batch)[0], flush=True)


def table_layers(samples: int, batch: int, counts: list[int]) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        write_checkpoint(Path(tmp) / "one", T.Qwen3MoeConfig(num_hidden_layers=1, **QWEN3))
        idle = _child("idle", str(Path(tmp) / "one"))["anon"]
    states = samples * SEQ_LEN * QWEN3["hidden_size"] * 4 * 2  # a layer's inputs and outputs, fp32
    print(CALIBRATION_HEADER.format(what="Qwen3 48 x 128 shape, layers"))
    for n in counts:
        config = T.Qwen3MoeConfig(num_hidden_layers=n, **QWEN3)
        row, per_layer, lw, no_ean = _calibration_row(str(n), config, samples, batch, without_ean=True)
        print(row, flush=True)
        assert no_ean is not None
        ratio = "{:.2f}x (without EAN: {:.2f}x)".format(
            *((run["anon"] - idle) / (per_layer + states) for run in (lw, no_ean))
        )
        print(
            f"|  | layerwise anonymous above the floor ({idle / MIB:,.0f} MiB: a 1-layer pass, freed) / (largest layer"
            " + "
            f"hidden states, {(per_layer + states) / MIB:.1f} MiB) | {ratio} "
            "|  |  |  |",
            flush=True,
        )


def table_surgery(sizes_gb: list[float], shard: str) -> None:
    print("| checkpoint | largest shard | surgery at 50%: peak RSS / peak anonymous | time |\n|---|---|---|---|")
    per_unit = 48 * 128 * 3 * 256 * 4  # experts' bytes per unit of moe_intermediate_size (48 x 128, hidden 256)
    for gb in sizes_gb:
        inter = max(8, round(gb * 2**30 / per_unit))
        config = T.Qwen3MoeConfig(
            **{**QWEN3, "hidden_size": 256, "moe_intermediate_size": inter, "head_dim": 64, "num_hidden_layers": 48}
        )
        with tempfile.TemporaryDirectory(prefix="bench-surgery-") as tmp:
            path = Path(tmp) / "ckpt"
            write_checkpoint(path, config, shard)
            files = list(path.glob("*.safetensors"))
            size, largest = sum(f.stat().st_size for f in files), max(f.stat().st_size for f in files)
            run = _child("surgery", str(path), str(Path(tmp) / "pruned"))
        print(
            f"| {size / 2**30:.2f} GiB ({len(files)} shards) | {largest / MIB:,.0f} MiB "
            f"| {run['peak_rss'] / MIB:,.0f} / {run['anon'] / MIB:,.0f} MiB | {run['seconds']:.1f} s |",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--table", nargs="+", choices=("shapes", "layers", "surgery"), default=["shapes", "layers", "surgery"]
    )
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--layers", type=int, nargs="+", default=[12, 24, 48], help="layer counts of the 'layers' table")
    ap.add_argument("--surgery-gb", type=float, nargs="+", default=[0.5, 2.0, 5.0])
    ap.add_argument("--shard", default="500MB", help="max shard size of the surgery checkpoints")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "idle":
            child_idle(Path(rest[0]))
        elif kind == "calibrate":
            child_calibration(Path(rest[0]), rest[1], int(rest[2]), int(rest[3]), skip=tuple(rest[4:]))
        else:
            child_surgery(Path(rest[0]), Path(rest[1]))
        return
    if "shapes" in args.table:
        table_shapes(args.samples, args.batch)
    if "layers" in args.table:
        table_layers(args.samples, args.batch, args.layers)
    if "surgery" in args.table:
        table_surgery(args.surgery_gb, args.shard)


if __name__ == "__main__":
    main()
