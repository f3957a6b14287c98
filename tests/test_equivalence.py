"""Property: a pruned checkpoint equals the original model with the pruned experts masked out of routing.

hypothesis draws the family, expert count, top-k, renormalisation flag and the kept set; the
pruned checkpoint is written by the streaming surgery, reloaded by transformers, and compared.
"""

import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.models.adapters import adapter_for
from harness.prune.surgery import write_pruned_checkpoint
from harness.prune.verify import logits_of, masked_routing
from tests.families import FAMILIES, tiny_model, tokens


def _prune_and_reload(model, kept, tmp: Path):
    adapter = adapter_for(model.config)
    model.save_pretrained(tmp / "src")
    e = adapter.num_experts(model.config)
    keep = {blk.layer: kept for blk in adapter.moe_blocks(model)}
    write_pruned_checkpoint(tmp / "src", tmp / "out", adapter, keep, e)
    from transformers import AutoModelForCausalLM

    pruned, info = AutoModelForCausalLM.from_pretrained(tmp / "out", output_loading_info=True)
    assert not (info["missing_keys"] or info["unexpected_keys"] or info["mismatched_keys"]), info
    return adapter, keep, pruned.eval()


@st.composite
def scenario(draw):
    family = draw(st.sampled_from(FAMILIES))
    num_experts = draw(st.sampled_from([4, 8, 16]))
    top_k = draw(st.integers(1, min(4, num_experts - 1)))
    grouped = family in ("deepseek_v3", "nemotron_h")
    if grouped:
        top_k = max(top_k, 2)  # these routers need at least two experts per group
    kept_n = draw(st.integers(max(top_k, 2 if grouped else 1), num_experts - 1))
    kept = sorted(draw(st.permutations(range(num_experts)))[:kept_n])
    norm = draw(st.booleans())
    return family, num_experts, top_k, kept, norm, draw(st.integers(0, 2**16))


@settings(max_examples=24, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_pruned_equals_masked_original(case):
    family, num_experts, top_k, kept, norm, seed = case
    model = tiny_model(family, seed=seed, num_experts=num_experts, top_k=top_k, norm_topk_prob=norm)
    ids, mask = tokens(seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        adapter, keep, pruned = _prune_and_reload(model, kept, Path(tmp))
        with masked_routing(model, adapter, keep):
            expected = logits_of(model, ids, mask)
        got = logits_of(pruned, ids, mask)
    valid = mask.bool()
    torch.testing.assert_close(got[valid], expected[valid], rtol=1e-4, atol=1e-4)


def test_grouped_routing_equivalence_with_two_groups():
    model = tiny_model("deepseek_v3", seed=9, num_experts=8, top_k=2, n_group=2, topk_group=1)
    ids, mask = tokens(seed=1)
    kept = [0, 2, 3, 5, 6, 7]  # three per group
    with tempfile.TemporaryDirectory() as tmp:
        adapter, keep, pruned = _prune_and_reload(model, kept, Path(tmp))
        assert adapter.routing_info(pruned.config).n_group == 2
        with masked_routing(model, adapter, keep):
            expected = logits_of(model, ids, mask)
        got = logits_of(pruned, ids, mask)
    torch.testing.assert_close(got[mask.bool()], expected[mask.bool()], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("family", ["qwen3_moe", "olmoe"])
def test_without_renormalisation_pruning_is_not_dropping_after_softmax(family):
    """norm_topk_prob=False: the pruned softmax runs over kept experts only, so the pruned model is
    the masked original (-inf logits), NOT the original with pruned experts dropped from its top-k
    while keeping the full-softmax probabilities. This documents the real relation."""
    model = tiny_model(family, seed=2, norm_topk_prob=False)
    adapter = adapter_for(model.config)
    ids, mask = tokens(seed=3)
    kept = [0, 1, 2, 3, 5]
    masks = torch.zeros(8, dtype=torch.bool)
    masks[kept] = True
    with tempfile.TemporaryDirectory() as tmp:
        _, keep, pruned = _prune_and_reload(model, kept, Path(tmp))
        got = logits_of(pruned, ids, mask)

    def drop_after_softmax(router, hidden):
        hidden = hidden.reshape(-1, router.hidden_dim)
        logits = torch.nn.functional.linear(hidden, router.weight)
        probs = torch.softmax(logits.float(), dim=-1).masked_fill(~masks, 0.0)  # original denominator
        value, index = torch.topk(probs, router.top_k, dim=-1)
        return logits, value.to(logits.dtype), index

    for blk in adapter.moe_blocks(model):
        blk.router.forward = lambda h, r=blk.router: drop_after_softmax(r, h)
    dropped = logits_of(model, ids, mask)
    assert (got - dropped)[mask.bool()].abs().max() > 1e-4
