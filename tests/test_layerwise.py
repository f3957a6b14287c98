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


def _stats(path, mode, sources):
    tokenizer = load_tokenizer(path)
    batches = build_calibration(sources, tokenizer, {}, SETTINGS, 0)
    with model_for_calibration(path, mode, "cpu", None) as model:
        if mode == "layerwise":  # nothing of the decoder stack is resident
            layers = adapter_for(model.config).decoder_layers(model)
            assert all(p.device.type == "meta" for p in layers.parameters())
        adapter = adapter_for(model.config)
        return collect_stats(
            model, adapter, batches, SETTINGS, 0, tokenizer.pad_token_id, statistics_of(list(default_methods())), False
        )


@pytest.mark.parametrize("family", FAMILIES)
def test_layerwise_statistics_equal_the_full_pass(family, tmp_path):
    path = save_tiny_checkpoint(tmp_path / family, family)
    sources = _calibration_file(tmp_path / "bio.jsonl")
    full, streamed = _stats(path, "full", sources), _stats(path, "layerwise", sources)
    assert full.layer_ids() == streamed.layer_ids()
    for layer in full.layer_ids():
        a, b = full.layers["bio"][layer], streamed.layers["bio"][layer]
        assert set(a.sums) == set(b.sums) and set(a.sums) == {s.name for s in statistics_of(list(default_methods()))}
        for name in a.sums:
            torch.testing.assert_close(a.sums[name], b.sums[name], rtol=1e-4, atol=1e-5, msg=f"{family} {layer} {name}")
        torch.testing.assert_close(a.hidden_sample, b.hidden_sample, rtol=1e-4, atol=1e-5)


def test_a_layerwise_sweep_keeps_the_full_sweeps_experts_and_records_its_mode(tmp_path):
    model = resolve(str(save_tiny_checkpoint(tmp_path / "m", "qwen3_moe")))
    sources = _calibration_file(tmp_path / "bio.jsonl")
    kept = {}
    for mode in ("full", "layerwise"):
        request = SweepRequest(["reap", "ean", "naee"], [0.5], [0], sources, SETTINGS, calibration_mode=mode)
        results = run_sweep(model, request, tmp_path / mode, tmp_path / f"c-{mode}", show_progress=False, log=print)
        for r in results:
            assert r.manifest.verified and r.manifest.calibration is not None
            assert r.manifest.calibration.mode == mode
        kept[mode] = {r.variant.method: r.manifest.kept_experts for r in results}
    assert kept["layerwise"] == kept["full"]


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
