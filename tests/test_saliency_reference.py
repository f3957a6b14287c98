"""Every saliency metric against a slow, independent reference: plain loops over tokens and experts.

The reference runs the unmodified model once, records each experts module's input, then calls the
router and the experts module one token and one expert at a time. It shares no code with
``harness.prune.capture`` or ``harness.prune.methods``.
"""

import math

import pytest
import torch

from harness.models.adapters import adapter_for
from harness.prune.capture import StatsCollector
from harness.prune.methods import get_method
from tests.families import FAMILIES, tiny_model, tokens

DATA_METRICS = ("frequency", "gate", "ean", "reap", "easy_ep")


def layer_scores(method, stats, layer, num_experts, seed):
    return get_method(method).scores(stats, layer, num_experts, seed)


def _expert_out(experts, h, i):
    return experts(h[None], torch.tensor([[i]]), torch.ones(1, 1))[0]


def reference_scores(model, adapter, ids, mask, ean_mask):
    inputs = {}

    def record(layer):
        def hook(_module, args):
            inputs[layer] = args[0].detach()  # returns None: the inputs pass through unchanged

        return hook

    hooks = [blk.experts.register_forward_pre_hook(record(blk.layer)) for blk in adapter.moe_blocks(model)]
    with torch.no_grad():
        model(input_ids=ids, attention_mask=mask)
    for h in hooks:
        h.remove()
    e = adapter.num_experts(model.config)
    result = {}
    for blk in adapter.moe_blocks(model):
        hidden = inputs[blk.layer]
        sums = {k: [0.0] * e for k in ("freq", "gate", "reap", "easy_ep", "ean")}
        n_tok = n_ean = 0
        for t in range(hidden.shape[0]):
            if not mask.reshape(-1)[t]:
                continue
            n_tok += 1
            h = hidden[t]
            with torch.no_grad():
                _, w, idx = blk.router(h[None])
                outs = [_expert_out(blk.experts, h, int(i)) for i in idx[0]]
                after = h.float() + sum(float(g) * o.float() for g, o in zip(w[0], outs))
                s = 1.0 - float(torch.nn.functional.cosine_similarity(h.float(), after, dim=0, eps=1e-8))
                for g, i, o in zip(w[0].tolist(), idx[0].tolist(), outs):
                    norm = float(o.float().norm())
                    sums["freq"][i] += 1
                    sums["gate"][i] += g
                    sums["reap"][i] += g * norm
                    sums["easy_ep"][i] += g * norm * s
                if ean_mask.reshape(-1)[t]:
                    n_ean += 1
                    for i in range(e):
                        sums["ean"][i] += float(_expert_out(blk.experts, h, i).float().norm())
        result[blk.layer] = {
            "frequency": [x / n_tok for x in sums["freq"]],
            "gate": [x / n_tok for x in sums["gate"]],
            "reap": [sums["reap"][i] / sums["freq"][i] if sums["freq"][i] else 0.0 for i in range(e)],
            "easy_ep": [x / n_tok for x in sums["easy_ep"]],
            "ean": [x / n_ean for x in sums["ean"]],
        }
    return result


@pytest.mark.parametrize("family", FAMILIES)
def test_metrics_match_slow_reference(family):
    model = tiny_model(family, seed=3)
    adapter = adapter_for(model.config)
    ids, mask = tokens(seed=5, batch=2, length=9)
    ean_mask = torch.zeros_like(mask, dtype=torch.bool)
    ean_mask[:, ::2] = True  # every other token: exercises the EAN sample restriction
    with StatsCollector(model, adapter) as col:
        col.set_batch("bio", mask.bool(), ean_mask)
        with torch.no_grad():
            model(input_ids=ids, attention_mask=mask)
    ref = reference_scores(model, adapter, ids, mask, ean_mask & mask.bool())
    for layer, expected in ref.items():
        for method in DATA_METRICS:
            got = layer_scores(method, col.stats, layer, 8, seed=0)
            assert got.tolist() == pytest.approx(expected[method], rel=1e-4, abs=1e-6), (family, layer, method)
        assert sum(expected["frequency"]) == pytest.approx(2.0)  # top-2: two slots per token


@pytest.mark.parametrize("family", FAMILIES)
def test_collector_leaves_model_outputs_unchanged(family):
    model = tiny_model(family, seed=1)
    adapter = adapter_for(model.config)
    ids, mask = tokens(seed=2)
    with torch.no_grad():
        plain = model(input_ids=ids, attention_mask=mask).logits
        with StatsCollector(model, adapter) as col:
            col.set_batch("bio", mask.bool(), mask.bool())
            observed = model(input_ids=ids, attention_mask=mask).logits
        after = model(input_ids=ids, attention_mask=mask).logits
    torch.testing.assert_close(observed, plain, rtol=1e-5, atol=1e-5)
    assert torch.equal(after, plain)  # the wrapper is gone


def test_dual_domain_scores_are_the_mean_of_per_domain_scores():
    model = tiny_model("qwen3_moe", seed=4)
    adapter = adapter_for(model.config)
    ids_a, mask_a = tokens(seed=10, length=12)
    ids_b, mask_b = tokens(seed=11, length=5)
    with StatsCollector(model, adapter) as col, torch.no_grad():
        col.set_batch("bio", mask_a.bool(), mask_a.bool())
        model(input_ids=ids_a, attention_mask=mask_a)
        col.set_batch("general", mask_b.bool(), mask_b.bool())
        model(input_ids=ids_b, attention_mask=mask_b)
    for method in DATA_METRICS:
        both = layer_scores(method, col.stats, 0, 8, 0)
        per = [get_method(method).layer_scores(col.stats.layers[d][0]) for d in ("bio", "general")]
        torch.testing.assert_close(both, (per[0] + per[1]) / 2)
    # the short domain counts as much as the long one: scores are per-token expectations
    assert col.stats.layers["bio"][0].tokens != col.stats.layers["general"][0].tokens


def test_random_scores_are_seeded_and_independent_of_data():
    a = layer_scores("random", None, 3, 16, seed=7)
    assert torch.equal(a, layer_scores("random", None, 3, 16, seed=7))
    assert not torch.equal(a, layer_scores("random", None, 3, 16, seed=8))
    assert not torch.equal(a, layer_scores("random", None, 4, 16, seed=7))


def test_reap_is_a_mean_over_routed_tokens_not_a_sum():
    from harness.prune.stats import LayerStats

    st = LayerStats(num_experts=2, tokens=10)
    st.sums["freq"] = torch.tensor([1.0, 9.0], dtype=torch.float64)
    st.sums["reap"] = torch.tensor([0.9, 2.7], dtype=torch.float64)  # rare but strong vs frequent but weak
    scores = get_method("reap").layer_scores(st)
    assert scores.tolist() == pytest.approx([0.9, 0.3])
    empty = LayerStats(2, tokens=0, sums={"gate": torch.zeros(2, dtype=torch.float64)})
    assert math.isclose(float(get_method("gate").layer_scores(empty).sum()), 0.0)
