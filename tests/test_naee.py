"""NAEE and the reconstruction loss against an independent slow reference: plain loops over tokens,
experts and every kept subset, with routing recomputed from the router's raw logits."""

from __future__ import annotations

from itertools import combinations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.models.adapters import adapter_for
from harness.prune.capture import StatsCollector
from harness.prune.methods import default_methods, get_method
from harness.prune.methods.naee import naee_select
from harness.prune.reconstruction import LayerReconstruction
from harness.prune.select import plan_keep, select_kept
from tests.families import tiny_model, tokens


def _collect(model, adapter, seed=5):
    ids, mask = tokens(seed=seed, batch=2, length=9)
    with StatsCollector(model, adapter) as col, torch.no_grad():
        col.set_batch("bio", mask.bool(), mask.bool(), mask.bool())  # every valid token in the sample
        model(input_ids=ids, attention_mask=mask)
    return col.stats


def _reference_losses(block, hidden, e, top_k, renorm, kept_count):
    """Every kept subset's loss, one token and one expert at a time (softmax-first routing)."""

    def out(h, i):
        return block.experts(h[None], torch.tensor([[i]]), torch.ones(1, 1))[0].double()

    losses = {}
    with torch.no_grad():
        per_token = []
        for h in hidden:
            logits = torch.nn.functional.linear(h[None].float(), block.router.weight.float())[0].double()
            per_token.append((logits, [out(h, i) for i in range(e)]))
        for subset in combinations(range(e), kept_count):
            total = 0.0
            for logits, outs in per_token:

                def routed(allowed, logits=logits, outs=outs):
                    masked = torch.full_like(logits, float("-inf"))
                    masked[list(allowed)] = logits[list(allowed)]
                    probs = torch.softmax(masked, dim=0)
                    value, index = torch.topk(probs, top_k)
                    if renorm:
                        value = value / value.sum()
                    return sum(float(v) * outs[int(i)] for v, i in zip(value, index))

                total += float(((routed(range(e)) - routed(subset)) ** 2).sum())
            losses[subset] = total / len(per_token)
    return losses


@pytest.mark.parametrize(
    "family, renorm", [("mixtral", True), ("qwen3_moe", True), ("qwen3_moe", False), ("olmoe", False)]
)
def test_exact_naee_equals_brute_force_over_every_subset(family, renorm):
    kwargs = {} if family == "mixtral" else {"norm_topk_prob": renorm}
    model = tiny_model(family, seed=2, **kwargs)
    adapter = adapter_for(model.config)
    stats = _collect(model, adapter)
    routing = adapter.routing_info(model.config)
    plan = plan_keep(0.5, routing)
    for block in adapter.moe_blocks(model):
        hidden = stats.layers["bio"][block.layer].hidden_sample
        assert hidden.shape[0] == 15  # 9 + 6 valid tokens
        recon = LayerReconstruction(adapter, block, hidden, 8)
        reference = _reference_losses(block, hidden, 8, routing.top_k, renorm, plan.kept)
        for subset in [(0, 1, 2, 3), (1, 3, 5, 7), (4, 5, 6, 7)]:
            assert recon.loss(subset) == pytest.approx(reference[subset], rel=1e-5, abs=1e-9)
        choice = naee_select([recon], plan, routing)
        best = min(reference, key=lambda s: (reference[s], s))
        assert choice.strategy == "exact" and choice.evaluations == 70
        assert tuple(choice.kept) == best and choice.loss == pytest.approx(reference[best], rel=1e-5, abs=1e-9)
        assert recon.loss(tuple(range(8))) == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([0.25, 0.5, 0.75]), st.sampled_from(["qwen3_moe", "gpt_oss", "olmoe"]))
def test_exact_naee_loss_is_at_most_every_methods(seed, ratio, family):
    model = tiny_model(family, seed=seed % 7)
    adapter = adapter_for(model.config)
    stats = _collect(model, adapter, seed=seed)
    routing = adapter.routing_info(model.config)
    plan = plan_keep(ratio, routing)
    block = adapter.moe_blocks(model)[0]
    recon = LayerReconstruction(adapter, block, stats.layers["bio"][block.layer].hidden_sample, 8)
    best = naee_select([recon], plan, routing).loss
    for method in default_methods():
        kept = select_kept(get_method(method).scores(stats, block.layer, 8, seed), plan, routing)
        assert best <= recon.loss(kept) + 1e-9, (method, kept)


def test_greedy_search_above_the_budget_respects_groups_and_is_no_better_than_exact():
    model = tiny_model("deepseek_v3", seed=1, num_experts=8, top_k=2, n_group=2, topk_group=2)
    adapter = adapter_for(model.config)
    stats = _collect(model, adapter)
    routing = adapter.routing_info(model.config)
    plan = plan_keep(0.5, routing)  # 2 of 4 per group: 36 subsets
    block = adapter.moe_blocks(model)[0]
    recon = LayerReconstruction(adapter, block, stats.layers["bio"][block.layer].hidden_sample, 8)
    exact = naee_select([recon], plan, routing)
    greedy = naee_select([recon], plan, routing, max_subsets=10)
    assert (exact.strategy, greedy.strategy, exact.evaluations) == ("exact", "greedy", 36)
    assert sum(i < 4 for i in greedy.kept) == 2 and len(greedy.kept) == 4
    assert greedy.loss >= exact.loss - 1e-12 and greedy.loss == pytest.approx(recon.loss(greedy.kept))


def test_sweep_records_every_methods_loss_and_naee_search(tmp_path):
    from harness.gate.variants import default_calibration
    from harness.models.loading import resolve
    from harness.prune.sweep import SweepRequest, run_sweep

    model = resolve("tiny-moe")
    sources = default_calibration("tiny-moe")
    from harness.prune.calibrate import CalibrationSettings

    request = SweepRequest(["naee", "reap", "random"], [0.75], [0], sources, CalibrationSettings(n_samples=16))
    results = run_sweep(model, request, tmp_path / "v", tmp_path / "c", show_progress=False, log=lambda _m: None)
    manifests = {r.variant.method: r.manifest for r in results}
    assert manifests["naee"].search["strategy"] == "exact" and manifests["naee"].search["evaluations"] > 0
    for method, m in manifests.items():
        assert set(m.reconstruction_loss) == set(m.kept_experts)
        if method != "naee":
            for layer, loss in m.reconstruction_loss.items():
                assert manifests["naee"].reconstruction_loss[layer] <= loss + 1e-9
    with pytest.raises(ValueError, match="naee chooses kept sets per layer"):
        run_sweep(
            model,
            SweepRequest(["naee"], [0.5], [0], sources, allocation="global"),
            tmp_path / "v",
            tmp_path / "c",
            show_progress=False,
            log=lambda _m: None,
        )
