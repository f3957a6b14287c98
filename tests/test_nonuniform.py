"""Non-uniform per-layer keep counts: global allocation, padded dead slots, equivalence, refusals.

A checkpoint has one expert count, so layers that keep fewer experts are padded with dead slots
(zero weights, router row zero, router bias far below any score). Property: the padded checkpoint
equals the original with each layer's pruned experts masked out of routing.
"""

import json
import re
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file

from harness.cli.main import main
from harness.models.adapters import RoutingInfo, UnsupportedModelError, adapter_for, dead_slot_families
from harness.models.adapters.base import DEAD_SLOT_BIAS
from harness.prune.select import KeepPlan, PruningConfigError, allocate_global, plan_keep, slot_layout
from harness.prune.surgery import write_pruned_checkpoint
from harness.prune.verify import logits_of, masked_routing
from tests.families import save_tiny_checkpoint, tiny_model, tokens


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 5),
    st.sampled_from([(8, 2, 1, 1), (16, 2, 1, 1), (16, 4, 2, 1), (16, 4, 4, 2)]),
    st.integers(1, 7),
    st.data(),
)
def test_global_allocation_keeps_the_budget_and_routing_valid(layers, shape, eighths, data):
    num_experts, top_k, n_group, topk_group = shape
    routing = RoutingInfo(num_experts, top_k, n_group, topk_group)
    try:
        plan = plan_keep(eighths / 8, routing)
    except PruningConfigError:
        return
    scores = {
        layer: torch.tensor(
            data.draw(st.lists(st.floats(0.0, 10.0), min_size=num_experts, max_size=num_experts)), dtype=torch.float64
        )
        for layer in range(layers)
    }
    live = allocate_global(scores, plan, routing)
    assert sum(len(ids) for ids in live.values()) == plan.kept * layers  # same total as uniform
    group_size = num_experts // n_group
    for ids in live.values():
        assert len(set(ids)) == len(ids) and all(0 <= e < num_experts for e in ids)
        per_group = [sum(e // group_size == g for e in ids) for g in range(n_group)]
        assert min(per_group) >= (top_k if n_group == 1 else 2)
        assert topk_group * min(per_group) >= top_k
    slots = slot_layout(live, routing)
    width = {len(s) for s in slots.values()}
    assert len(width) == 1 and width.pop() % n_group == 0
    for layer, layer_slots in slots.items():
        assert sorted(e for e in layer_slots if e is not None) == live[layer]
        size = len(layer_slots) // n_group  # every slot stays in its original routing group
        assert all(e is None or e // group_size == i // size for i, e in enumerate(layer_slots))


def test_global_allocation_follows_saliency_shares():
    """Layer 0 concentrates its saliency on few experts, layer 1 spreads it: layer 1 keeps more."""
    routing = RoutingInfo(8, 2)
    peaked = torch.tensor([10.0, 9.0, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    flat = torch.tensor([1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7])
    live = allocate_global({0: peaked, 1: flat}, plan_keep(0.5, routing), routing)
    assert live[0] == [0, 1] and live[1] == [2, 3, 4, 5, 6, 7]
    # the same scores in every layer give the uniform allocation
    same = allocate_global({0: flat, 1: flat}, plan_keep(0.5, routing), routing)
    assert same == {0: [4, 5, 6, 7], 1: [4, 5, 6, 7]}
    with pytest.raises(PruningConfigError, match="negative"):
        allocate_global({0: flat - 2}, KeepPlan(0.5, 4, 4), routing)


def _masked_vs_padded(family: str, live_sets: list[list[int]], seed: int, **kwargs) -> tuple[float, dict]:
    model = tiny_model(family, seed=seed, **kwargs)
    adapter = adapter_for(model.config)
    routing = adapter.routing_info(model.config)
    live = {blk.layer: ids for blk, ids in zip(adapter.moe_blocks(model), live_sets)}
    slots = slot_layout(live, routing)
    ids, mask = tokens(seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(Path(tmp) / "src")
        write_pruned_checkpoint(Path(tmp) / "src", Path(tmp) / "out", adapter, slots, routing.num_experts)
        from transformers import AutoModelForCausalLM

        pruned, info = AutoModelForCausalLM.from_pretrained(Path(tmp) / "out", output_loading_info=True)
        assert not (info["missing_keys"] or info["unexpected_keys"] or info["mismatched_keys"]), info
        tensors = load_file(Path(tmp) / "out" / "model.safetensors")
        got = logits_of(pruned.eval(), ids, mask)
    with masked_routing(model, adapter, live):
        expected = logits_of(model, ids, mask)
    valid = mask.bool()
    assert adapter.num_experts(pruned.config) == len(next(iter(slots.values())))
    return float((got[valid] - expected[valid]).abs().max()), {"slots": slots, "tensors": tensors}


@st.composite
def uneven(draw):
    family = draw(st.sampled_from(dead_slot_families()))
    num_experts = draw(st.sampled_from([8, 16]))
    top_k = draw(st.integers(2, 3))
    layers = 3 if family == "nemotron_h" else 2  # tiny nemotron has MoE at layers 1 and 3; deepseek 1, 2
    sets = [
        sorted(draw(st.permutations(range(num_experts)))[: draw(st.integers(top_k, num_experts - 1))]) for _ in range(2)
    ]
    return family, num_experts, top_k, sets[:layers], draw(st.integers(0, 2**16))


@settings(max_examples=16, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(uneven())
def test_padded_checkpoint_equals_masked_original(case):
    family, num_experts, top_k, sets, seed = case
    diff, _ = _masked_vs_padded(family, sets, seed, num_experts=num_experts, top_k=top_k)
    assert diff < 1e-4


@pytest.mark.parametrize("family, param", [("gpt_oss", "router.bias"), ("deepseek_v3", "gate.e_score_correction_bias")])
def test_dead_slots_are_zero_and_switched_off(family, param):
    diff, out = _masked_vs_padded(family, [[0, 5], [1, 2, 3, 4, 6, 7]], seed=3, num_experts=8, top_k=2)
    assert diff < 1e-4
    slots, tensors = out["slots"], out["tensors"]
    first = min(slots)
    assert slots[first] == [0, 5, None, None, None, None]
    bias = next(v for k, v in tensors.items() if k.endswith(param) and f".{first}." in k)
    assert bias[2:].eq(DEAD_SLOT_BIAS).all() and not bias[:2].eq(DEAD_SLOT_BIAS).any()
    expert_keys = [k for k in tensors if f"layers.{first}." in k and ".experts." in k]
    assert expert_keys
    for key in expert_keys:
        t = tensors[key]
        if m := re.search(r"\.experts\.(\d+)\.", key):  # per-expert layout (DeepSeek-V3)
            assert bool(t.eq(0).all()) == (int(m[1]) >= 2), key
        else:  # fused layout (GPT-OSS): dim 0 is the slot
            assert t.shape[0] == 6 and t[2:].eq(0).all(), key
            assert "bias" in key or not t[:2].eq(0).all(), key


def test_two_group_padding_keeps_groups_aligned():
    """DeepSeek-V3 with two routing groups: group 0 keeps 2, group 1 keeps 4 -> 4 slots per group."""
    diff, out = _masked_vs_padded(
        "deepseek_v3", [[0, 1, 4, 5, 6, 7], [1, 3, 4, 6]], seed=5, num_experts=8, top_k=2, n_group=2, topk_group=1
    )
    assert diff < 1e-4
    assert list(out["slots"].values())[0] == [0, 1, None, None, 4, 5, 6, 7]


def test_families_without_router_bias_refuse_dead_slots(tmp_path):
    model = tiny_model("qwen3_moe")
    model.save_pretrained(tmp_path / "src")
    with pytest.raises(UnsupportedModelError, match="need a router bias.*gpt_oss"):
        write_pruned_checkpoint(
            tmp_path / "src", tmp_path / "out", adapter_for(model.config), {0: [0, 1, None], 1: [0, 1, 2]}, 8
        )
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def gpt_oss_checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("nonuniform")
    save_tiny_checkpoint(root / "gptoss", family="gpt_oss", num_experts=8, top_k=2)
    save_tiny_checkpoint(root / "qwen", family="qwen3_moe")
    cal = root / "bio.jsonl"
    cal.write_text(
        "".join(
            json.dumps(
                {
                    "instruction": f"Summarize trial {i}.",
                    "input": f"{i} patients got {i}.5 mg",
                    "output": f"Dose {i}.5 mg.",
                }
            )
            + "\n"
            for i in range(12)
        )
    )
    return root, cal


def test_cli_global_allocation_writes_a_verified_padded_variant(gpt_oss_checkpoint, capsys):
    root, cal = gpt_oss_checkpoint
    args = [
        "prune",
        "--model",
        str(root / "gptoss"),
        "--calibration",
        f"bio={cal}",
        "--samples",
        "8",
        "--quiet",
        "--method",
        "reap",
        "--ratio",
        "0.5",
        "--allocation",
        "global",
        "--out",
        str(root / "out"),
        "--cache-dir",
        str(root / "cache"),
    ]
    assert main(args) == 0
    manifest = json.loads((root / "out" / "gptoss-reap-r0.50-s0-bio-global" / "pruning.json").read_text())
    assert manifest["allocation"] == "global" and manifest["verification"]["ok"]
    live = {int(k): v for k, v in manifest["live_experts"].items()}
    assert sum(live.values()) == 4 * len(live)  # the uniform budget: 4 of 8 per layer on average
    assert manifest["experts_kept"] == max(live.values())
    for layer, slots in manifest["slots"].items():
        assert [e for e in slots if e is not None] == manifest["kept_experts"][layer]
    config = json.loads((root / "out" / "gptoss-reap-r0.50-s0-bio-global" / "config.json").read_text())
    assert config["num_local_experts"] == manifest["experts_kept"]


def test_cli_global_allocation_refuses_bias_free_routers_before_any_work(gpt_oss_checkpoint, capsys):
    root, cal = gpt_oss_checkpoint
    args = [
        "prune",
        "--model",
        str(root / "qwen"),
        "--calibration",
        f"bio={cal}",
        "--quiet",
        "--ratio",
        "0.5",
        "--allocation",
        "global",
        "--out",
        str(root / "refused"),
        "--cache-dir",
        str(root / "cache"),
    ]
    assert main(args) != 0
    err = capsys.readouterr().err
    assert "qwen3_moe" in err and "router bias" in err and "deepseek_v3" in err
    assert not (root / "refused").exists() or not any((root / "refused").iterdir())


def test_uneven_slot_counts_are_refused_before_anything_is_written(tmp_path):
    model = tiny_model("gpt_oss")
    model.save_pretrained(tmp_path / "src")
    with pytest.raises(UnsupportedModelError, match=r"same number of slots, got \[2, 3\]"):
        write_pruned_checkpoint(
            tmp_path / "src", tmp_path / "out", adapter_for(model.config), {0: [0, 1], 1: [0, 1, 2]}, 8
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]
