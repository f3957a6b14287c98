"""Pruning methods as units: the registry, a method added from outside the package in one place, capture
collecting only what the requested methods declare, the statistics cache growing by union, and the typed
pruning manifest."""

from __future__ import annotations

import json

import pytest
import torch

from harness.data.calibration import CalibrationSource
from harness.models.adapters import adapter_for
from harness.models.loading import load_model, load_tokenizer, resolve
from harness.prune.calibrate import CalibrationSettings, build_calibration, calibration_stats
from harness.prune.capture import StatsCollector
from harness.prune.manifest import ManifestError, PruningManifest
from harness.prune.methods import (
    ScoringMethod,
    default_methods,
    get_method,
    register_method,
    statistics_of,
    unregister_method,
)
from harness.prune.select import plan_keep, select_kept
from harness.prune.stats import CalibrationStats, LayerStats, Statistic
from harness.prune.sweep import SweepRequest, run_sweep
from tests.families import save_tiny_checkpoint, tiny_model, tokens

ROUTED_NORM = Statistic("test_routed_norm", lambda view: view.norms)


class RoutedNorm(ScoringMethod):
    """Test-only method: mean unweighted output norm over the tokens routed to an expert."""

    name = "test_routed_norm"
    statistics = (get_method("frequency").statistics[0], ROUTED_NORM)

    def layer_scores(self, st: LayerStats) -> torch.Tensor:
        return st.sums[ROUTED_NORM.name] / st.sums["freq"].clamp(min=1)


@pytest.fixture
def routed_norm():
    register_method(RoutedNorm())
    yield
    unregister_method(RoutedNorm.name)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("methods")
    model = resolve(str(save_tiny_checkpoint(root / "tiny")))
    cal = root / "bio.jsonl"
    cal.write_text(
        "".join(
            json.dumps(
                {
                    "instruction": f"Summarize trial {i}.",
                    "input": f"{i} patients, {i}.5 mg",
                    "output": f"Dose {i}.5 mg.",
                }
            )
            + "\n"
            for i in range(12)
        )
    )
    return model, [CalibrationSource("bio", cal)]


def test_registry_defaults_aliases_and_unknown_names():
    assert default_methods() == ("random", "frequency", "gate", "ean", "reap", "easy_ep")
    assert get_method("EASY-EP").name == "easy_ep" and get_method("freq").name == "frequency"
    with pytest.raises(ValueError, match="unknown pruning method 'bogus'; choose from random, frequency.*naee"):
        get_method("bogus")
    with pytest.raises(ValueError, match="already registered"):
        register_method(get_method("reap"))
    names = [s.name for s in statistics_of(["reap", "frequency"])]
    assert names == ["freq", "reap"]  # the shared count is collected once


def test_a_method_added_in_one_place_runs_through_the_sweep(routed_norm, tiny, tmp_path):
    model, sources = tiny
    request = SweepRequest(["test_routed_norm", "frequency"], [0.5], [0], sources, CalibrationSettings(n_samples=8))
    results = {
        r.variant.method: r
        for r in run_sweep(model, request, tmp_path / "v", tmp_path / "c", show_progress=False, log=lambda _m: None)
    }
    mine = results["test_routed_norm"].manifest
    assert mine.verified and mine.verification is not None
    config = load_model(model.path).config
    routing = adapter_for(config).routing_info(config)
    plan = plan_keep(0.5, routing)
    for layer, scores in mine.scores.items():
        assert mine.kept_experts[layer] == select_kept(torch.tensor(scores, dtype=torch.float64), plan, routing)
    [cache] = (tmp_path / "c" / "calibration").glob("*.safetensors")
    assert CalibrationStats.load(cache).names == ("freq", "test_routed_norm")  # nothing else was collected
    assert mine.kept_experts != results["frequency"].manifest.kept_experts


def _count_expert_calls(model, adapter):
    calls = {"n": 0}
    for blk in adapter.moe_blocks(model):
        original = blk.experts.forward

        def counted(*args, _original=original, **kwargs):
            calls["n"] += 1
            return _original(*args, **kwargs)

        blk.experts.forward = counted
    return calls


@pytest.mark.parametrize("methods, calls_per_block", [(["frequency", "reap"], 1), (["ean"], 2)])
def test_capture_collects_only_the_requested_statistics(methods, calls_per_block):
    model = tiny_model("qwen3_moe", seed=3)
    adapter = adapter_for(model.config)
    calls = _count_expert_calls(model, adapter)
    ids, mask = tokens(seed=5, batch=2, length=9)
    with StatsCollector(model, adapter, statistics=statistics_of(methods)) as col, torch.no_grad():
        col.set_batch("bio", mask.bool(), mask.bool())
        model(input_ids=ids, attention_mask=mask)
    st = col.stats.layers["bio"][0]
    assert set(st.sums) == {s.name for s in statistics_of(methods)}
    assert calls["n"] == calls_per_block * len(adapter.moe_blocks(model))  # EAN's all-expert call only for ean
    assert st.sampled_tokens == (15 if "ean" in methods else 0)


def test_statistics_cache_is_reused_for_a_subset_and_grows_by_union(tiny, tmp_path):
    model, sources = tiny
    net, tokenizer = load_model(model.path), load_tokenizer(model.path)
    adapter = adapter_for(net.config)
    settings = CalibrationSettings(n_samples=6)
    batches = build_calibration(sources, tokenizer, {}, settings, 0)
    logs: list[str] = []

    def stats_for(methods):
        return calibration_stats(
            net, adapter, batches, settings, 0, statistics_of(methods), "fp", tmp_path, 0, False, logs.append
        )

    first = stats_for(["frequency"])
    both = stats_for(["ean"])
    again = stats_for(["frequency", "ean"])
    assert len(logs) == 2 and "lack ean: collecting again" in logs[0]
    assert logs[1].startswith("calibration statistics reused")
    assert first.names == ("freq",) and both.names == again.names == ("ean", "freq")
    for layer in first.layer_ids():  # the all-expert evaluation does not disturb the routed statistics
        assert torch.equal(first.layers["bio"][layer].sums["freq"], both.layers["bio"][layer].sums["freq"])


def test_manifest_round_trips_and_refuses_foreign_files(tiny, tmp_path):
    model, sources = tiny
    [result] = run_sweep(
        model,
        SweepRequest(["gate"], [0.25], [0], sources, CalibrationSettings(n_samples=4)),
        tmp_path / "v",
        tmp_path / "c",
        show_progress=False,
        log=lambda _m: None,
    )
    again = PruningManifest.read(result.path)
    assert again == result.manifest
    on_disk = json.loads((result.path / "pruning.json").read_text())
    assert on_disk["format"] == "moegate-pruning/1" and set(on_disk["kept_experts"]) == {"0", "1"}
    assert "search" not in on_disk and on_disk["surgery"]["seconds"] >= 0
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "pruning.json").write_text(json.dumps({"format": "someone-else/3"}))
    with pytest.raises(ManifestError, match=r"other/pruning.json: format 'someone-else/3'"):
        PruningManifest.read(tmp_path / "other")
    with pytest.raises(ManifestError, match="no pruning.json"):
        PruningManifest.read(tmp_path)
