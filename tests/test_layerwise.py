"""Layerwise calibration: decoder layers streamed from the checkpoint (accelerate's disk offload) give the
statistics and kept experts of the full-model pass, for every registered family, without ever holding
the decoder layers in memory; the mode is recorded in pruning.json and refused early on a bad folder."""

from __future__ import annotations

import json

import pytest
import torch

from harness.data.calibration import CalibrationSource
from harness.models.adapters import adapter_for
from harness.models.loading import load_tokenizer, resolve
from harness.models.streaming import choose_mode, layer_device_map, model_for_calibration
from harness.prune.calibrate import CalibrationSettings, build_calibration, collect_stats
from harness.prune.methods import default_methods, statistics_of
from harness.prune.sweep import SweepRequest, run_sweep
from tests.families import FAMILIES, save_tiny_checkpoint

SETTINGS = CalibrationSettings(n_samples=6, batch_size=2, ean_tokens_per_sample=None)


def _calibration_file(path):
    rows = [
        {"instruction": f"Summarize trial {i}.", "input": f"{i} patients, {i}.5 mg", "output": "Dose."}
        for i in range(8)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return [CalibrationSource("bio", path)]


def _stats(path, mode, sources, activation_dir=None):
    tokenizer = load_tokenizer(path)
    batches = build_calibration(sources, tokenizer, {}, SETTINGS, 0)
    with model_for_calibration(path, mode, "cpu", None) as model:
        adapter = adapter_for(model.config)
        layers = adapter.decoder_layers(model)
        if mode == "layerwise":  # nothing of the decoder stack is resident
            assert all(p.device.type == "meta" for p in layers.parameters())
        stats = collect_stats(
            model,
            adapter,
            batches,
            SETTINGS,
            0,
            tokenizer.pad_token_id,
            statistics_of(list(default_methods())),
            False,
            activation_dir,
        )
        if mode == "layerwise":  # and nothing stays resident after the pass
            assert all(p.device.type == "meta" for p in layers.parameters())
        return stats


def _assert_equal_stats(full, streamed, family):
    assert full.layer_ids() == streamed.layer_ids()
    for layer in full.layer_ids():
        a, b = full.layers["bio"][layer], streamed.layers["bio"][layer]
        assert set(a.sums) == set(b.sums) and set(a.sums) == {s.name for s in statistics_of(list(default_methods()))}
        assert (a.tokens, a.sampled_tokens) == (b.tokens, b.sampled_tokens)
        for name in a.sums:
            torch.testing.assert_close(a.sums[name], b.sums[name], rtol=1e-4, atol=1e-5, msg=f"{family} {layer} {name}")
        torch.testing.assert_close(a.hidden_sample, b.hidden_sample, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_layerwise_statistics_equal_the_full_pass(family, tmp_path):
    path = save_tiny_checkpoint(tmp_path / family, family)
    sources = _calibration_file(tmp_path / "bio.jsonl")
    _assert_equal_stats(_stats(path, "full", sources), _stats(path, "layerwise", sources), family)


@pytest.mark.parametrize("family", ["nemotron_h", "deepseek_v3"])
def test_hidden_states_spilled_to_an_activation_dir_give_the_same_statistics(family, tmp_path):
    path = save_tiny_checkpoint(tmp_path / family, family)
    sources = _calibration_file(tmp_path / "bio.jsonl")
    spill = tmp_path / "activations"
    _assert_equal_stats(_stats(path, "full", sources), _stats(path, "layerwise", sources, spill), family)
    assert spill.is_dir() and not any(spill.iterdir())  # the per-batch files went with the pass


def test_each_streamed_layer_is_read_once_per_pass_not_once_per_batch(tmp_path, monkeypatch):
    from accelerate.hooks import AlignDevicesHook

    loads: dict[int, int] = {}
    original = AlignDevicesHook.pre_forward

    def counting(self, module, *args, **kwargs):
        if self.offload:
            loads[id(module)] = loads.get(id(module), 0) + 1
        return original(self, module, *args, **kwargs)

    monkeypatch.setattr(AlignDevicesHook, "pre_forward", counting)
    path = save_tiny_checkpoint(tmp_path / "m", "qwen3_moe")
    sources = _calibration_file(tmp_path / "bio.jsonl")  # 6 samples in batches of 2: 3 batches
    _stats(path, "layerwise", sources)
    assert loads and set(loads.values()) == {1}


def test_a_layerwise_sweep_keeps_the_full_sweeps_experts_and_records_its_mode(tmp_path):
    """Through the sweep (hidden states spilled to --activation-dir): same kept experts as the full pass."""
    model = resolve(str(save_tiny_checkpoint(tmp_path / "m", "qwen3_moe")))
    sources = _calibration_file(tmp_path / "bio.jsonl")
    kept = {}
    spill = tmp_path / "activations"
    for mode in ("full", "layerwise"):
        request = SweepRequest(
            ["reap", "ean", "naee"], [0.5], [0], sources, SETTINGS, calibration_mode=mode, activation_dir=spill
        )
        results = run_sweep(model, request, tmp_path / mode, tmp_path / f"c-{mode}", show_progress=False, log=print)
        for r in results:
            assert r.manifest.verified and r.manifest.calibration is not None
            assert r.manifest.calibration.mode == mode
        kept[mode] = {r.variant.method: r.manifest.kept_experts for r in results}
    assert kept["layerwise"] == kept["full"]
    assert spill.is_dir() and not any(spill.iterdir())  # the layerwise pass spilled there and removed its files


def test_auto_picks_full_when_the_checkpoint_fits_and_the_map_streams_every_layer(tmp_path):
    path = save_tiny_checkpoint(tmp_path / "m", "gpt_oss")
    assert choose_mode("auto", path, "cpu") == "full"
    device_map = layer_device_map(path, "cpu")
    streamed = sorted(k for k, v in device_map.items() if v == "disk")
    assert streamed == [f"model.layers.{i}" for i in range(len(streamed))] and len(streamed) >= 2
    assert {v for k, v in device_map.items() if k not in streamed} == {"cpu"}


def test_a_bad_offload_folder_is_refused_before_any_work_and_the_folder_is_removed(tmp_path):
    path = save_tiny_checkpoint(tmp_path / "m", "qwen3_moe")
    occupied = tmp_path / "a-file"
    occupied.write_text("")
    with pytest.raises(NotADirectoryError, match="is not a directory"):
        with model_for_calibration(path, "layerwise", "cpu", occupied):
            pass
    parent = tmp_path / "offload"
    with model_for_calibration(path, "layerwise", "cpu", parent):
        assert len(list(parent.iterdir())) == 1  # one fresh folder while the model is open
    assert list(parent.iterdir()) == []


def test_a_bad_activation_folder_is_refused_before_any_forward(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    from harness.prune import layer_major

    path = save_tiny_checkpoint(tmp_path / "m", "qwen3_moe")
    sources = _calibration_file(tmp_path / "bio.jsonl")
    occupied = tmp_path / "a-file"
    occupied.write_text("")
    forwards = []
    monkeypatch.setattr(layer_major, "run_layer_major", lambda *a, **k: forwards.append(a))
    with pytest.raises(NotADirectoryError, match="--activation-dir .*a-file is not a directory"):
        _stats(path, "layerwise", sources, occupied)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage(1 << 30, 1 << 30, 1000))
    with pytest.raises(OSError, match=r"--activation-dir .*: 0 MiB free, the calibration hidden states need about"):
        _stats(path, "layerwise", sources, tmp_path / "spill")
    assert forwards == []


def test_the_gpu_scale_script_runs_its_path_at_toy_sizes(tmp_path):
    """benchmarks/gpu_scale.py (figures need a GPU) runs end to end on the CPU with --smoke."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_scale.py"
    args = ["--smoke", "--layers", "2", "--samples", "4", "--batch", "2", "--seq", "16", "--workdir", str(tmp_path)]
    proc = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    steps = [ln.split("|")[1].strip() for ln in proc.stdout.splitlines() if ln.startswith("| ") and "x |" in ln]
    assert steps == [
        "plain forward",
        "capture without EAN",
        "capture with EAN",
        "layerwise calibration (all methods)",
        "surgery, 50% of the experts",
    ]
    assert list(tmp_path.iterdir()) == []  # the checkpoint and offload folders are removed


def _sharded_checkpoint(tmp_path):
    from transformers import AutoModelForCausalLM

    path = save_tiny_checkpoint(tmp_path / "m", "qwen3_moe")
    AutoModelForCausalLM.from_pretrained(path).save_pretrained(path, max_shard_size="20KB")
    (path / "model.safetensors").unlink(missing_ok=True)
    index = json.loads((path / "model.safetensors.index.json").read_text())["weight_map"]
    layer_shard = index["model.layers.1.mlp.gate.weight"]
    assert len(set(index.values())) > 3
    return path, layer_shard


@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_a_missing_or_truncated_shard_is_named_before_any_work_and_nothing_is_written(damage, tmp_path):
    from harness.models.shards import CheckpointError

    path, shard = _sharded_checkpoint(tmp_path)
    if damage == "missing":
        (path / shard).unlink()
        expected = rf"{shard}: shard missing \(the index places \d+ tensors in it"
    else:
        with (path / shard).open("r+b") as fh:
            fh.truncate((path / shard).stat().st_size - 100)
        expected = rf"{shard}: tensor model\.layers\.\d+\.\S+ ends at byte \d+ of the data but the file holds \d+"
    sources = _calibration_file(tmp_path / "bio.jsonl")
    for mode in ("layerwise", "full"):
        request = SweepRequest(["reap"], [0.5], [0], sources, SETTINGS, calibration_mode=mode)
        with pytest.raises(CheckpointError, match=expected):
            run_sweep(resolve(str(path)), request, tmp_path / "out", tmp_path / "cache", show_progress=False)
        assert not any((tmp_path / "out").glob("*/pruning.json"))
        assert not list((tmp_path / "cache").rglob("*.safetensors"))


def test_an_interrupted_layerwise_pass_leaves_no_statistics_spill_or_variant_and_reruns_cleanly(tmp_path, monkeypatch):
    """Ctrl-C on the second (last) streamed layer: no statistics in the cache, no spilled hidden states, no variant
    directory; the same sweep run again completes."""
    from contextlib import contextmanager

    from harness.models import streaming

    model = resolve(str(save_tiny_checkpoint(tmp_path / "m", "qwen3_moe")))
    sources = _calibration_file(tmp_path / "bio.jsonl")
    spill, out, cache = tmp_path / "activations", tmp_path / "out", tmp_path / "cache"
    request = SweepRequest(
        ["frequency"], [0.5], [0], sources, SETTINGS, calibration_mode="layerwise", activation_dir=spill
    )
    resident = streaming.layer_resident
    entered = []

    @contextmanager
    def interrupted(layer):
        entered.append(layer)
        if len(entered) == 2:
            raise KeyboardInterrupt
        with resident(layer):
            yield

    monkeypatch.setattr(streaming, "layer_resident", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(model, request, out, cache, show_progress=False, log=print)
    assert len(entered) == 2
    assert not list(cache.rglob("*.safetensors")) and not any(spill.iterdir())
    assert not out.exists() or not any(p.is_dir() for p in out.iterdir())
    monkeypatch.setattr(streaming, "layer_resident", resident)
    (result,) = run_sweep(model, request, out, cache, show_progress=False, log=print)
    assert result.manifest.verified and len(list(cache.rglob("*.safetensors"))) == 1
