"""Tiny random models of every supported MoE family, built from transformers configs (no hub)."""

from __future__ import annotations

import torch
import transformers as T

FAMILIES = (
    "qwen3_moe",
    "qwen3_next",
    "qwen3_5_moe",
    "qwen2_moe",
    "gpt_oss",
    "nemotron_h",
    "mixtral",
    "olmoe",
    "deepseek_v3",
)
_COMMON = dict(
    vocab_size=128,
    hidden_size=32,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=8,
    eos_token_id=1,
    pad_token_id=0,
    bos_token_id=2,
)


def tiny_config(
    family: str,
    num_experts: int = 8,
    top_k: int = 2,
    *,
    norm_topk_prob: bool = True,
    n_group: int = 1,
    topk_group: int = 1,
) -> T.PretrainedConfig:
    """A two-MoE-layer config of ``family`` with hidden 32 and moe_intermediate 12 (2I != H)."""
    c = dict(_COMMON, num_experts_per_tok=top_k)
    if family == "qwen3_moe":
        return T.Qwen3MoeConfig(
            num_hidden_layers=2,
            num_experts=num_experts,
            moe_intermediate_size=12,
            intermediate_size=24,
            norm_topk_prob=norm_topk_prob,
            **c,
        )
    if family in ("qwen3_next", "qwen3_5_moe"):
        cls = T.Qwen3NextConfig if family == "qwen3_next" else T.Qwen3_5MoeTextConfig
        extra = {"norm_topk_prob": norm_topk_prob} if family == "qwen3_next" else {}
        return cls(
            num_hidden_layers=2,
            num_experts=num_experts,
            moe_intermediate_size=12,
            intermediate_size=24,
            shared_expert_intermediate_size=12,
            layer_types=["linear_attention", "full_attention"],
            linear_num_key_heads=2,
            linear_num_value_heads=2,
            linear_key_head_dim=8,
            linear_value_head_dim=8,
            **extra,
            **c,
        )
    if family == "qwen2_moe":
        c.pop("head_dim")
        return T.Qwen2MoeConfig(
            num_hidden_layers=2,
            num_experts=num_experts,
            moe_intermediate_size=12,
            intermediate_size=24,
            shared_expert_intermediate_size=12,
            norm_topk_prob=norm_topk_prob,
            **c,
        )
    if family == "gpt_oss":
        return T.GptOssConfig(num_hidden_layers=2, num_local_experts=num_experts, intermediate_size=12, **c)
    if family == "mixtral":
        return T.MixtralConfig(num_hidden_layers=2, num_local_experts=num_experts, intermediate_size=12, **c)
    if family == "olmoe":
        c.pop("head_dim")
        return T.OlmoeConfig(
            num_hidden_layers=2, num_experts=num_experts, intermediate_size=12, norm_topk_prob=norm_topk_prob, **c
        )
    if family == "deepseek_v3":
        c.pop("head_dim")
        c["num_key_value_heads"] = 4
        return T.DeepseekV3Config(
            num_hidden_layers=3,
            n_routed_experts=num_experts,
            n_group=n_group,
            topk_group=topk_group,
            first_k_dense_replace=1,
            moe_intermediate_size=12,
            intermediate_size=24,
            kv_lora_rank=8,
            q_lora_rank=8,
            qk_rope_head_dim=4,
            qk_nope_head_dim=4,
            v_head_dim=8,
            norm_topk_prob=norm_topk_prob,
            **c,
        )
    if family == "nemotron_h":
        return T.NemotronHConfig(
            num_hidden_layers=4,
            n_routed_experts=num_experts,
            n_group=n_group,
            topk_group=topk_group,
            layers_block_type=["mamba", "moe", "attention", "moe"],
            moe_intermediate_size=12,
            moe_shared_expert_intermediate_size=12,
            intermediate_size=24,
            mamba_num_heads=4,
            mamba_head_dim=8,
            ssm_state_size=8,
            n_groups=1,
            norm_topk_prob=norm_topk_prob,
            **c,
        )
    raise ValueError(family)


def tiny_model(family: str, seed: int = 0, **kwargs) -> torch.nn.Module:
    from harness.models.loading import build_from_config

    torch.manual_seed(seed)
    model = build_from_config(tiny_config(family, **kwargs))
    if family in ("deepseek_v3", "nemotron_h"):
        # random correction biases so the grouped, bias-corrected path is really exercised
        for name, buf in model.named_buffers():
            if name.endswith("e_score_correction_bias"):
                buf.copy_(torch.randn_like(buf) * 0.1)
    return model


def tokens(seed: int = 0, batch: int = 2, length: int = 10, vocab: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ids with the second row right-padded by three tokens."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (batch, length), generator=gen)
    mask = torch.ones_like(ids)
    if batch > 1:
        mask[1, length - 3 :] = 0
    return ids, mask


def save_tiny_checkpoint(path, family: str = "qwen3_moe", seed: int = 0, **kwargs):
    """A tiny random model saved with a locally trained byte-level BPE tokenizer and chat template."""
    from tools.tiny_moe.train import train_tokenizer

    corpus = [f"drug {i} treats disease {i % 7} at {i}.{i % 9} mg/ml" for i in range(200)]
    tokenizer = train_tokenizer(corpus, vocab_size=320)
    config = tiny_config(family, **kwargs)
    config.vocab_size = len(tokenizer)
    config.pad_token_id, config.eos_token_id = tokenizer.pad_token_id, tokenizer.eos_token_id
    torch.manual_seed(seed)
    from harness.models.loading import build_from_config

    model = build_from_config(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
