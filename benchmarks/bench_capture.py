"""Calibration capture cost at real layer and expert counts (random weights, small hidden size).

For each shape: a plain forward over a fixed batch, the statistics capture without EAN (every metric
but EAN: routing weights and the routed experts' outputs, which the forward computes anyway), and the
capture with EAN on 16 tokens per sequence (every expert on those tokens). Ratios to the plain
forward, best of 3 each, one process; this 2-core machine is noisy, so rerun before trusting a digit.

    .venv/bin/python benchmarks/bench_capture.py [--tokens 256] [--batch 4] [--shape qwen3-30b-a3b ...]
"""

from __future__ import annotations

import argparse

import torch
import transformers as T
from timing import best  # benchmarks/timing.py: a script's own folder is on sys.path

from harness.models.adapters import adapter_for
from harness.prune.capture import StatsCollector
from harness.prune.methods import default_methods, statistics_of

SMALL = dict(hidden_size=64, num_attention_heads=4, num_key_value_heads=2, head_dim=16, vocab_size=512)


def shapes() -> dict[str, T.PretrainedConfig]:
    return {
        "qwen3-moe 12 x 8, top-2": T.Qwen3MoeConfig(
            num_hidden_layers=12,
            num_experts=8,
            num_experts_per_tok=2,
            moe_intermediate_size=32,
            intermediate_size=64,
            **SMALL,
        ),
        "qwen3-moe 12 x 32, top-4": T.Qwen3MoeConfig(
            num_hidden_layers=12,
            num_experts=32,
            num_experts_per_tok=4,
            moe_intermediate_size=32,
            intermediate_size=64,
            **SMALL,
        ),
        "qwen3-moe 12 x 128, top-8": T.Qwen3MoeConfig(
            num_hidden_layers=12,
            num_experts=128,
            num_experts_per_tok=8,
            moe_intermediate_size=32,
            intermediate_size=64,
            **SMALL,
        ),
        "qwen3-30b-a3b shape 48 x 128, top-8": T.Qwen3MoeConfig(
            num_hidden_layers=48,
            num_experts=128,
            num_experts_per_tok=8,
            moe_intermediate_size=32,
            intermediate_size=64,
            **SMALL,
        ),
        "gpt-oss-20b shape 24 x 32, top-4": T.GptOssConfig(
            num_hidden_layers=24, num_local_experts=32, num_experts_per_tok=4, intermediate_size=32, **SMALL
        ),
        "deepseek-v3 shape 61 x 256 (8 groups), top-8, 3 dense": T.DeepseekV3Config(
            num_hidden_layers=61,
            n_routed_experts=256,
            num_experts_per_tok=8,
            n_group=8,
            topk_group=4,
            first_k_dense_replace=3,
            moe_intermediate_size=16,
            intermediate_size=64,
            kv_lora_rank=16,
            q_lora_rank=16,
            qk_rope_head_dim=8,
            qk_nope_head_dim=8,
            v_head_dim=16,
            hidden_size=64,
            num_attention_heads=4,
            num_key_value_heads=4,
            vocab_size=512,
        ),
    }


def _measure(
    model: torch.nn.Module, ids: torch.Tensor, valid: torch.Tensor, ean: torch.Tensor, sample: torch.Tensor
) -> tuple[float, float, float]:
    """Seconds of a plain forward, the capture without EAN and with EAN (best of 3 each)."""
    adapter = adapter_for(model.config)

    def plain() -> None:
        with torch.no_grad():
            model(input_ids=ids, use_cache=False)

    def capture(methods: list[str]) -> None:
        with StatsCollector(model, adapter, statistics=statistics_of(methods)) as col, torch.no_grad():
            col.set_batch("bio", valid, ean, sample)
            model(input_ids=ids, use_cache=False)

    routed_only = [m for m in default_methods() if m != "ean"]
    plain()  # warm-up
    return best(plain), best(lambda: capture(routed_only)), best(lambda: capture(list(default_methods())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=256, help="tokens per sequence")
    parser.add_argument("--batch", type=int, default=4, help="sequences per forward")
    parser.add_argument("--ean-tokens", type=int, default=16, help="EAN tokens per sequence")
    parser.add_argument("--shape", action="append", help="run only shapes whose name contains this")
    args = parser.parse_args()
    torch.manual_seed(0)
    ids = torch.randint(0, 512, (args.batch, args.tokens))
    valid = torch.ones_like(ids, dtype=torch.bool)
    ean = torch.zeros_like(valid)
    ean[:, torch.randperm(args.tokens)[: args.ean_tokens]] = True
    sample = torch.zeros_like(valid)
    sample[:, :4] = True  # the reconstruction token sample
    print("| shape | params | plain forward s | capture without EAN / forward | capture with EAN / forward |")
    print("|---|---|---|---|---|")
    for name, config in shapes().items():
        if args.shape and not any(s in name for s in args.shape):
            continue
        model = T.AutoModelForCausalLM.from_config(config).eval()
        base, without, with_ean = _measure(model, ids, valid, ean, sample)
        params = sum(p.numel() for p in model.parameters())
        print(
            f"| {name} | {params / 1e6:.1f} M | {base:.2f} | {without / base:.2f}x | {with_ean / base:.2f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
