"""Adapters find every MoE block, and their masked reference routers reproduce the real routers."""

import pytest
import torch
import transformers as T

from harness.models.adapters import UnsupportedModelError, adapter_for, supported_model_types
from tests.families import FAMILIES, tiny_config, tiny_model


@pytest.mark.parametrize("family", FAMILIES)
def test_blocks_and_routing_info(family):
    model = tiny_model(family)
    adapter = adapter_for(model.config)
    blocks = adapter.moe_blocks(model)
    assert len(blocks) == 2  # DeepSeek's dense first layer and Nemotron's Mamba/attention layers are skipped
    for blk in blocks:
        assert blk.router.weight.shape[0] == 8
        assert all(hasattr(blk.block, name) for name in blk.shared)
    assert adapter.routing_info(model.config).top_k == 2


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("norm", [True, False])
def test_masked_router_equals_real_router_when_nothing_is_masked(family, norm):
    model = tiny_model(family, norm_topk_prob=norm)
    adapter = adapter_for(model.config)
    hidden = torch.randn(7, model.config.hidden_size)
    for blk in adapter.moe_blocks(model):
        real = blk.router(hidden)
        ref = adapter.masked_router(blk.router, hidden, torch.ones(8, dtype=torch.bool))
        for a, b in zip(real, ref):
            assert torch.equal(a, b)


@pytest.mark.parametrize("family", FAMILIES)
def test_masked_router_never_picks_masked_experts(family):
    model = tiny_model(family)
    adapter = adapter_for(model.config)
    keep = torch.tensor([True, False, True, True, False, True, True, True])
    blk = adapter.moe_blocks(model)[0]
    _, weights, index = adapter.masked_router(blk.router, torch.randn(50, model.config.hidden_size), keep)
    assert keep[index].all()
    assert torch.isfinite(weights).all()


def test_unknown_architecture_lists_supported():
    with pytest.raises(UnsupportedModelError) as err:
        adapter_for(T.LlamaConfig())
    for name in ("qwen3_moe", "gpt_oss", "nemotron_h", "deepseek_v3"):
        assert name in str(err.value)
    assert set(supported_model_types()) >= {"qwen3_moe", "qwen3_5_moe", "mixtral", "olmoe"}


def test_composite_qwen3_5_config_and_disk_keys():
    text = tiny_config("qwen3_5_moe")
    composite = T.Qwen3_5MoeConfig(
        text_config=text.to_dict(), vision_config={"depth": 1, "hidden_size": 16, "num_heads": 2, "out_hidden_size": 32}
    )
    adapter = adapter_for(composite)
    assert adapter.num_experts(composite) == 8
    as_json = composite.to_dict()
    assert adapter.set_expert_count(as_json, 4) == ["num_experts"]
    assert as_json["text_config"]["num_experts"] == 4
    assert adapter.disk_layer("model.language_model.layers.7.mlp") == 7
    assert adapter.disk_layer("mtp.layers.0.mlp") is None  # the MTP head is not a pruned block


def test_config_without_expert_count_is_refused():
    adapter = adapter_for({"model_type": "qwen3_moe"})
    with pytest.raises(UnsupportedModelError, match="num_experts"):
        adapter.set_expert_count({"model_type": "qwen3_moe"}, 4)
