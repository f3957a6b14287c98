"""Released kept-expert masks as variants: the study's expert_mask.json format at Qwen3-30B-A3B's real
shape (48 MoE layers x 128 experts, top-8; small hidden size, random weights), moegate's pruning.json,
and malformed masks refused before anything is written."""

from __future__ import annotations

import json
import random

import pytest
import torch
import transformers as T

from harness.models.loading import resolve
from harness.prune.masks import MaskError
from harness.prune.sweep import SweepRequest, run_sweep


@pytest.fixture(scope="module")
def qwen3_30b_shape(tmp_path_factory):
    from tools.tiny_moe.train import train_tokenizer

    path = tmp_path_factory.mktemp("qwen3-30b-a3b-shape")
    tokenizer = train_tokenizer([f"trial {i} enrolled {i * 3} patients" for i in range(100)], vocab_size=300)
    config = T.Qwen3MoeConfig(
        num_hidden_layers=48,
        num_experts=128,
        num_experts_per_tok=8,
        hidden_size=32,
        moe_intermediate_size=8,
        intermediate_size=16,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        norm_topk_prob=True,
    )
    torch.manual_seed(0)
    T.AutoModelForCausalLM.from_config(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _study_mask(tmp_path, layers=48, kept=96, experts=128, seed=0):
    rnd = random.Random(seed)
    mask = [rnd.sample(range(experts), kept) for _ in range(layers)]  # score order, as released
    path = tmp_path / "expert_mask.json"
    path.write_text(json.dumps(mask))
    return path, mask


def test_study_mask_at_real_shape_builds_a_loadable_checkpoint(qwen3_30b_shape, tmp_path):
    path, mask = _study_mask(tmp_path)
    [result] = run_sweep(
        resolve(str(qwen3_30b_shape)),
        SweepRequest([], [], masks={"study": path}),
        tmp_path / "v",
        tmp_path / "c",
        show_progress=False,
        log=lambda _m: None,
    )
    assert result.variant.method == "mask-study" and result.variant.ratio == 0.25
    manifest = json.loads((result.path / "pruning.json").read_text())
    assert manifest["method"] == "mask" and manifest["mask"]["format"] == "study"
    assert manifest["mask"]["sha256"] == __import__("hashlib").sha256(path.read_bytes()).hexdigest()
    assert manifest["kept_experts"] == {str(layer): sorted(ids) for layer, ids in enumerate(mask)}
    assert manifest["verification"]["ok"]
    model = T.AutoModelForCausalLM.from_pretrained(result.path)
    assert model.config.num_experts == 96 and len(model.model.layers) == 48
    # moegate's own pruning.json is a mask too: the same kept experts, a new name
    [again] = run_sweep(
        resolve(str(qwen3_30b_shape)),
        SweepRequest([], [], masks={"again": result.path / "pruning.json"}, verify=False),
        tmp_path / "v",
        tmp_path / "c",
        show_progress=False,
        log=lambda _m: None,
    )
    assert again.kept == {layer: sorted(ids) for layer, ids in enumerate(mask)}
    assert json.loads((again.path / "pruning.json").read_text())["mask"]["format"] == "moegate"


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m[:47], r"47 layer entries, the model has 48 MoE layers"),
        (lambda m: [m[0][:95] + [128]] + m[1:], r"layer 0: expert id 128 is out of range 0..127"),
        (lambda m: m[:3] + [m[3][:95] + [m[3][0]]] + m[4:], r"layer 3: expert id \d+ appears twice"),
        (lambda m: [ids[:7] for ids in m], r"layer 0: keeps 7 experts, fewer than top_k=8"),
        (lambda m: [m[0][:64]] + m[1:], r"layers keep different counts \[64, 96\]; qwen3_moe: non-uniform"),
        (lambda m: {"kept_experts": {"0": m[0]}}, r"layers \[0\] do not match the model's MoE layers \[0, 1, 2"),
        (lambda m: {"kept": m}, r"expected a JSON list of kept-expert lists"),
    ],
)
def test_malformed_masks_are_refused_before_any_work(qwen3_30b_shape, tmp_path, edit, message):
    _, mask = _study_mask(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(edit(mask)))
    with pytest.raises(MaskError, match=message):
        run_sweep(
            resolve(str(qwen3_30b_shape)),
            SweepRequest([], [], masks={"bad": bad}),
            tmp_path / "v",
            tmp_path / "c",
            show_progress=False,
            log=lambda _m: None,
        )
    assert not (tmp_path / "v").exists()
