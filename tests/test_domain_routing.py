"""Domain routing (every stage of the embedded model's build): reserved experts, the routing penalty, its training."""

import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.families import tiny_model
from tools.tiny_moe import train as train_mod


def _reference_penalty(router_logits, mask, domains, reserved, layers):
    """Plain loops: for every layer and real token, the router probability summed over the experts
    reserved for a domain other than the token's row, then the mean over tokens and over layers."""
    rows, cols = mask.shape
    per_layer = []
    for i, layer in enumerate(layers):
        probs = torch.softmax(router_logits[i].double(), dim=-1)
        total, count = 0.0, 0
        for r in range(rows):
            for c in range(cols):
                if not mask[r, c]:
                    continue
                count += 1
                for other, experts in reserved.items():
                    if other != domains[r]:
                        for e in experts[layer]:
                            total += float(probs[r * cols + c, e])
        per_layer.append(total / count)
    return sum(per_layer) / len(per_layer)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 4),
    cols=st.integers(1, 6),
    experts=st.integers(2, 8),
    layers=st.integers(1, 3),
    seed=st.integers(0, 10_000),
)
def test_the_routing_penalty_equals_a_loop_over_layers_tokens_and_experts(rows, cols, experts, layers, seed):
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    logits = tuple(torch.randn(rows * cols, experts, generator=gen) * 3 for _ in range(layers))
    mask = torch.ones(rows, cols, dtype=torch.long)
    for r in range(rows):
        mask[r, rng.randint(1, cols) :] = 0  # right padding, at least one real token per row
    layer_ids = list(range(layers))
    pool = list(range(experts))
    reserved = {}
    for domain in ("biomedical", "general"):
        reserved[domain] = {layer: sorted(rng.sample(pool, rng.randint(0, experts // 2))) for layer in layer_ids}
    domains = [rng.choice(("biomedical", "general")) for _ in range(rows)]
    routing = train_mod.DomainRouting(reserved, coef=1.0)
    ours = train_mod.domain_routing_penalty(logits, mask, routing.forbidden(domains, layer_ids, experts))
    assert float(ours) == pytest.approx(_reference_penalty(logits, mask, domains, reserved, layer_ids), abs=1e-5)


def test_a_row_of_a_domain_without_reserved_experts_is_refused():
    routing = train_mod.DomainRouting({"biomedical": {0: [0]}, "general": {0: [1]}}, coef=1.0)
    with pytest.raises(ValueError, match="row 1: domain 'legal' has no reserved experts"):
        routing.forbidden(["general", "legal"], [0], 4)


@torch.no_grad()
def _usage(model, rows) -> torch.Tensor:
    """(layers, experts): the router's mean probability per expert over every token of ``rows``."""
    model.eval()
    x, mask, _ = train_mod.batch_tensors(rows, pad_id=0)
    out = model(input_ids=x, attention_mask=mask, output_router_logits=True)
    real = mask.reshape(-1).bool()
    return torch.stack([logits.float().softmax(-1)[real].mean(0) for logits in out.router_logits])


def _epochs(model, rows, **routing) -> None:
    train_mod.train(model, rows, pad_id=0, epochs=20.0, lr=1e-2, batch_tokens=32, seed=0, **routing)


def _streams(model, rows, **routing) -> None:
    bio, general = [r for r in rows if r[2] == "biomedical"], [r for r in rows if r[2] == "general"]
    streams = [
        train_mod.Stream("bio", 0.5, 4, lambda rng: rng.choice(bio)),
        train_mod.Stream("general", 0.5, 4, lambda rng: rng.choice(general)),
    ]
    train_mod.train_streams(model, [(40, streams)], pad_id=0, lr=1e-2, seed=0, **routing)


@pytest.mark.parametrize("trainer", [_epochs, _streams], ids=["epochs", "streams"])
def test_domain_routing_training_keeps_each_domains_tokens_off_the_other_domains_experts(trainer):
    """A few steps with the penalty, in either trainer (epochs over the corpus in stages 1-2, streams
    in the later ones), move each domain's router probability off the other's experts, which the same
    steps without it do not."""
    import copy

    base = tiny_model("qwen3_moe", num_experts=8)
    layers = list(range(base.config.num_hidden_layers))
    reserved = {"biomedical": {layer: [0, 1, 2] for layer in layers}, "general": {layer: [5, 6, 7] for layer in layers}}
    bio_rows = [([5 + i, 9, 17, 33, 65, 3, 7, 11], 1, "biomedical") for i in range(8)]
    general_rows = [([70 + i, 80, 90, 100, 110, 4, 8, 12], 1, "general") for i in range(8)]

    def off_limits(model) -> float:
        """Mean usage, over both domains, of the experts reserved for the other one."""
        bio, general = _usage(model, bio_rows), _usage(model, general_rows)
        return float(bio[:, 5:].sum(1).mean() + general[:, :3].sum(1).mean()) / 2

    trained, plain = copy.deepcopy(base), copy.deepcopy(base)
    trainer(trained, bio_rows + general_rows, routing=train_mod.DomainRouting(reserved, coef=1.0))
    trainer(plain, bio_rows + general_rows)
    before = off_limits(base)
    assert before > 0.3  # 6 of 8 experts are some domain's: a random router puts ~3/8 off limits
    assert off_limits(trained) < 0.25 * before
    assert off_limits(plain) > 0.5 * before
