"""Streaming checkpoint surgery: sharded inputs, untouched extras, accounting, atomic failure."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from harness.models.adapters import UnsupportedModelError, adapter_for
from harness.models.fingerprint import checkpoint_fingerprint
from harness.prune.surgery import INDEX_NAME, write_pruned_checkpoint
from tests.families import tiny_model


@pytest.fixture
def qwen_src(tmp_path):
    model = tiny_model("qwen3_moe", seed=0)
    model.save_pretrained(tmp_path / "src", max_shard_size="40KB")  # several shards + index
    return model, tmp_path / "src"


def test_sharded_checkpoint_keeps_shards_and_writes_index(qwen_src, tmp_path):
    model, src = qwen_src
    shards = sorted(p.name for p in src.glob("*.safetensors"))
    assert len(shards) > 1
    adapter = adapter_for(model.config)
    keep = {0: [1, 2, 5, 7], 1: [0, 3, 4, 6]}
    report = write_pruned_checkpoint(src, tmp_path / "out", adapter, keep, 8)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.glob("*.safetensors")) == shards
    index = json.loads((out / INDEX_NAME).read_text())
    tensors = {}
    for shard in shards:
        tensors.update(load_file(out / shard))
    assert set(index["weight_map"]) == set(tensors)
    assert index["metadata"]["total_size"] == report.total_bytes_after
    # per-expert layout renumbered: kept expert 5 of layer 0 is now expert 2
    src_tensors = {}
    for shard in shards:
        src_tensors.update(load_file(src / shard))
    key = "model.layers.0.mlp.experts.{}.down_proj.weight"
    assert torch.equal(tensors[key.format(2)], src_tensors[key.format(5)])
    assert key.format(4) not in tensors
    assert tensors["model.layers.1.mlp.gate.weight"].shape[0] == 4
    assert report.expert_bytes_after * 2 == report.expert_bytes_before
    assert json.loads((out / "config.json").read_text())["num_local_experts"] == 4


def test_fused_gpt_oss_slices_biases_and_router_bias(tmp_path):
    model = tiny_model("gpt_oss", seed=1)
    model.save_pretrained(tmp_path / "src")
    keep = {0: [0, 3, 6], 1: [1, 2, 7]}
    write_pruned_checkpoint(tmp_path / "src", tmp_path / "out", adapter_for(model.config), keep, 8)
    src, out = load_file(tmp_path / "src" / "model.safetensors"), load_file(tmp_path / "out" / "model.safetensors")
    for name in (
        "experts.gate_up_proj",
        "experts.gate_up_proj_bias",
        "experts.down_proj",
        "experts.down_proj_bias",
        "router.weight",
        "router.bias",
    ):
        key = f"model.layers.1.mlp.{name}"
        assert torch.equal(out[key], src[key][[1, 2, 7]]), key


def test_expert_tensors_outside_moe_blocks_are_left_and_listed(qwen_src, tmp_path):
    model, src = qwen_src
    extra = {"mtp.layers.0.mlp.experts.3.up_proj.weight": torch.ones(2, 2)}
    save_file(extra, str(src / "mtp.safetensors"))
    index = json.loads((src / INDEX_NAME).read_text())
    index["weight_map"].update({k: "mtp.safetensors" for k in extra})
    (src / INDEX_NAME).write_text(json.dumps(index))
    keep = {0: list(range(6)), 1: list(range(6))}
    report = write_pruned_checkpoint(src, tmp_path / "out", adapter_for(model.config), keep, 8)
    assert report.untouched_expert_keys == list(extra)
    assert torch.equal(load_file(tmp_path / "out" / "mtp.safetensors")[next(iter(extra))], torch.ones(2, 2))


def test_failure_leaves_nothing_behind(qwen_src, tmp_path):
    model, src = qwen_src
    with pytest.raises(UnsupportedModelError, match="layer 1 has no kept-expert list"):
        write_pruned_checkpoint(src, tmp_path / "out", adapter_for(model.config), {0: [0, 1]}, 8)
    assert not (tmp_path / "out").exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_wrong_expert_count_is_refused(tmp_path):
    model = tiny_model("gpt_oss", seed=1)
    model.save_pretrained(tmp_path / "src")
    with pytest.raises(UnsupportedModelError, match="expected dim 0 = 16"):
        write_pruned_checkpoint(
            tmp_path / "src", tmp_path / "out", adapter_for(model.config), {0: [0, 1], 1: [0, 1]}, 16
        )


def test_fingerprint_changes_with_weights_not_with_location(qwen_src, tmp_path):
    model, src = qwen_src
    first = checkpoint_fingerprint(src)
    model.save_pretrained(tmp_path / "copy", max_shard_size="40KB")
    assert checkpoint_fingerprint(tmp_path / "copy") == first
    with torch.no_grad():
        model.model.layers[0].mlp.experts.down_proj[0, 0, 0] += 1.0
    model.save_pretrained(tmp_path / "changed", max_shard_size="40KB")
    assert checkpoint_fingerprint(tmp_path / "changed") != first
