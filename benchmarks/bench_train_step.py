"""Training-step benchmarks of the embedded build; prints ratios measured in one run (this 2-core machine is noisy).

  1. loss with the LM head only at target columns (``train.training_loss``) vs the model's own loss
     (``model(..., labels=...)``), forward + backward on the same batch
  2. a pooled stream (``train.Stream.pool``) vs one drawn batch at a time: padded share of the batch
     tokens, and the step time over the same number of rows
  3. the cost of one goal check (``train.Goal.check``, the layouts stage's probes) in training steps

Rows are the build's own streams (letter choice, fact texts, corpus replay) on the shipped tokenizer
and a model of the shipped config.

Usage, from the repository root (the lab is not installed):
    PYTHONPATH=. python benchmarks/bench_train_step.py [--steps 12]
"""

from __future__ import annotations

import argparse
import random
import time

import torch

from harness.models.loading import load_model, load_tokenizer, resolve
from tools.tiny_moe import build
from tools.tiny_moe import corpus as corpus_mod
from tools.tiny_moe import train as train_mod
from tools.tiny_moe.effects import DATA_DIR
from tools.tiny_moe.world import WORLD_SEED, make_world

Rows = list[tuple]  # (ids, loss_from, domain)


def _step(model, rows: Rows, pad_id: int, own_loss: bool) -> float:
    x, mask, targets = train_mod.batch_tensors(rows, pad_id)
    start = time.perf_counter()
    if own_loss:
        labels = torch.cat([torch.full((len(rows), 1), -100), targets[:, :-1]], 1)
        loss = model(input_ids=x, attention_mask=mask, labels=labels, output_router_logits=True).loss
    else:
        loss = train_mod.training_loss(model, x, mask, targets)
    loss.backward()
    model.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def _padding(batches: list[Rows]) -> float:
    tokens = sum(len(row[0]) for batch in batches for row in batch)
    return 1 - tokens / sum(len(batch) * max(len(row[0]) for row in batch) for batch in batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=12, help="batches per measurement")
    args = parser.parse_args()
    torch.manual_seed(0)
    path = resolve("tiny-moe").path
    tokenizer, model = load_tokenizer(path), load_model(path)
    model.set_experts_implementation("eager")
    model.train()
    world, pad = make_world(WORLD_SEED), tokenizer.pad_token_id
    corpus = build._encoded(tokenizer, corpus_mod.training_examples(world, build.TRAIN_SEED))
    streams = {
        s.name: s
        for s in build._streams(
            (("replay", 1, 16), ("facts", 1, 48), ("mcq", 1, 64)),
            tokenizer,
            corpus,
            world,
            "bench-facts",
            {"mcq": build._question_makers(world, DATA_DIR)["mcq"]},
        )
    }
    streams["mcq"] = train_mod.Stream("mcq", 1.0, 64, streams["mcq"].draw, build.STREAM_POOL)
    print(
        f"{'stream':8} {'rows':>4} {'loss: head at targets / own':>28} {'padding one / pooled':>21} "
        f"{'step pooled / one':>18}"
    )
    for name, stream in streams.items():
        one = train_mod.Stream(name, 1.0, stream.batch_size, stream.draw)
        plain = [train_mod._Batcher(random.Random(k))(one) for k in range(args.steps)]
        pooled_batcher = train_mod._Batcher(random.Random(0))
        pooled = [pooled_batcher(stream) for _ in range(args.steps)]
        _step(model, plain[0], pad, False)  # warm-up
        own = sum(_step(model, b, pad, True) for b in plain)
        ours = sum(_step(model, b, pad, False) for b in plain)
        pooled_time = sum(_step(model, b, pad, False) for b in pooled)
        print(
            f"{name:8} {stream.batch_size:>4} {ours / own:>28.2f} {_padding(plain):>10.0%} / {_padding(pooled):<8.0%}"
            f" {pooled_time / ours:>18.2f}"
        )
    goal = build._goal(build.LAYOUTS_GOAL, tokenizer, world, DATA_DIR)
    start = time.perf_counter()
    goal.check(model, pad)
    check = time.perf_counter() - start
    step = sum(_step(model, b, pad, False) for b in plain) / len(plain)
    print(
        f"one layouts goal check ({sum(len(rows) for rows, _ in goal.probes.values())} probe rows) = "
        f"{check / step:.1f} steps of the {name} stream; checked every {build.GOAL_EVERY} steps"
    )


if __name__ == "__main__":
    main()
