"""Train the embedded tiny Qwen3-MoE and its byte-level BPE tokenizer on the synthetic corpus (CPU)."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from tools.tiny_moe.corpus import Example

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}"
)

# format 21: hidden 128, 4 heads, expert width 64 (format 17: 192, 6, 96). The step is bound by element-wise and
# indexing work that grows with the width, so this build runs in 32-38 min (by host) instead of 67
# (7b7d6b1:fixtures/tiny-moe/README.md).
MODEL_CONFIG: dict[str, Any] = dict(
    vocab_size=2048,
    hidden_size=128,
    intermediate_size=256,
    moe_intermediate_size=64,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=32,
    num_experts=16,
    num_experts_per_tok=2,
    norm_topk_prob=True,
    max_position_embeddings=1024,
    tie_word_embeddings=True,
    router_aux_loss_coef=0.01,
    output_router_logits=False,
    rope_theta=10000.0,
    rms_norm_eps=1e-6,
)


def train_tokenizer(texts: list[str], vocab_size: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # digits one by one, as Qwen does: copying "179" stays a copy of 1, 7, 9
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|pad|>",
        bos_token=None,
        unk_token=None,
        chat_template=CHAT_TEMPLATE,
    )


def encode(example: Example, tokenizer: Any) -> tuple[list[int], int]:
    """Token ids and the index of the first token that carries loss (prompts carry none)."""
    ids = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    if example.messages is not None:
        prompt = tokenizer.apply_chat_template(example.messages[:-1], tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(example.messages, tokenize=False)
        assert full.startswith(prompt)
        return ids(prompt) + ids(full[len(prompt) :]), len(ids(prompt))
    assert example.text is not None, "an example is a chat or has a text"
    if example.completion is not None:
        head = ids(example.text)
        return head + ids(example.text + example.completion + "<|endoftext|>")[len(head) :], len(head)
    return ids(example.text + "<|endoftext|>"), 0


def build_model(tokenizer: Any, seed: int) -> torch.nn.Module:
    from transformers import AutoModelForCausalLM, Qwen3MoeConfig

    torch.manual_seed(seed)
    cfg = Qwen3MoeConfig(
        **MODEL_CONFIG,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
    )
    return AutoModelForCausalLM.from_config(cfg)


MAX_BATCH_SEQUENCES = 48  # without a cap, short fact texts land in a few huge batches and get few updates


def _batches(ids: list[list[int]], batch_tokens: int, rng: random.Random) -> list[list[int]]:
    """Length-bucketed batches of at most ``batch_tokens`` tokens and MAX_BATCH_SEQUENCES rows."""
    order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), rng.random()))
    batches: list[list[int]] = []
    cur: list[int] = []
    width = 0
    for i in order:
        width = max(width, len(ids[i]))
        if cur and (width * (len(cur) + 1) > batch_tokens or len(cur) >= MAX_BATCH_SEQUENCES):
            batches.append(cur)
            cur, width = [], len(ids[i])
        cur.append(i)
    if cur:
        batches.append(cur)
    rng.shuffle(batches)
    return batches


def _random_keep(rng: random.Random, layers: list[int], num_experts: int, max_drop: int) -> dict[int, list[int]]:
    """Per layer, a random subset of experts the router may use this step (0..max_drop dropped)."""
    return {layer: sorted(rng.sample(range(num_experts), num_experts - rng.randint(0, max_drop))) for layer in layers}


def _optimizer(model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    """Fused AdamW: one kernel for the whole update (a quarter to a third of the foreach update's time on
    CPU)."""
    return torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.01, fused=True)


@dataclass(frozen=True)
class DomainRouting:
    """Experts reserved for one domain per layer, and the weight of the penalty that keeps the other
    domains' tokens off them (``domain_routing_penalty``). Training rows then carry their domain as a
    third field, (ids, loss_from, domain)."""

    reserved: dict[str, dict[int, list[int]]]  # domain -> layer -> experts
    coef: float

    def forbidden(self, domains: list[str], layers: list[int], num_experts: int) -> torch.Tensor:
        """(rows, layers, experts): 1 where an expert is reserved for a domain other than the row's."""
        for row, domain in enumerate(domains):
            if domain not in self.reserved:
                raise ValueError(
                    f"row {row}: domain {domain!r} has no reserved experts (known: {sorted(self.reserved)})"
                )
        owned = {domain: torch.zeros(len(layers), num_experts) for domain in self.reserved}
        for domain, per_layer in self.reserved.items():
            for i, layer in enumerate(layers):
                owned[domain][i, per_layer[layer]] = 1.0
        everyone = sum(owned.values())
        off_limits = {domain: (everyone - mask).clamp(max=1.0) for domain, mask in owned.items()}
        return torch.stack([off_limits[domain] for domain in domains])


def domain_routing_penalty(
    router_logits: tuple[torch.Tensor, ...], mask: torch.Tensor, forbidden: torch.Tensor
) -> torch.Tensor:
    """Router probability on forbidden experts, averaged over real tokens and layers.

    ``router_logits``: one (rows * columns, experts) tensor per layer, as the model returns them;
    ``mask``: (rows, columns) attention mask; ``forbidden``: (rows, layers, experts) from
    ``DomainRouting.forbidden``. A fine-tuned router learns to keep tokens off experts reserved for
    the other domain, so those experts see one domain's tokens only, as experts of real MoEs
    specialise (and pruning by one domain's calibration then hits the other domain's experts)."""
    rows, cols = mask.shape
    real = mask.reshape(-1).float()
    total = torch.zeros((), dtype=torch.float32)
    for layer, logits in enumerate(router_logits):
        probs = logits.float().softmax(-1).reshape(rows, cols, -1)
        on_forbidden = (probs * forbidden[:, None, layer, :]).sum(-1).reshape(-1)
        total = total + (on_forbidden * real).sum() / real.sum()
    return total / len(router_logits)


class _Stepper:
    """One optimisation step on a batch of (ids, loss_from) rows, with the optional expert dropout
    and domain routing.

    ``expert_dropout`` > 0: each step, every layer's router is masked to a random subset of its
    experts (up to that many dropped). A tiny model otherwise stores each skill in one or two
    experts, so removing any expert breaks it; real 30B MoEs are redundant enough that context-aware
    pruning at 25% keeps in-domain skills. Training this way gives the embedded model that redundancy.
    ``routing``: adds ``DomainRouting.coef`` times ``domain_routing_penalty`` (rows carry their domain).
    """

    def __init__(
        self, model: torch.nn.Module, pad_id: int, expert_dropout: int, seed: int, routing: DomainRouting | None = None
    ):
        from harness.models.adapters import adapter_for

        self.model, self.pad_id, self.expert_dropout, self.routing = model, pad_id, expert_dropout, routing
        self.adapter = adapter_for(model.config)
        self.layers = [b.layer for b in self.adapter.moe_blocks(model)]
        self.num_experts = self.adapter.num_experts(model.config)
        self.drop_rng = random.Random(f"expert-dropout:{seed}")

    def __call__(self, opt: torch.optim.Optimizer, rows: list[tuple]) -> tuple[float, int]:
        """Returns (loss, tokens in the batch)."""
        from contextlib import nullcontext

        from harness.prune.verify import masked_routing

        x, mask, targets = batch_tensors(rows, self.pad_id)
        routing = (
            masked_routing(
                self.model,
                self.adapter,
                _random_keep(self.drop_rng, self.layers, self.num_experts, self.expert_dropout),
            )
            if self.expert_dropout
            else nullcontext()
        )
        forbidden = (
            None
            if self.routing is None
            else self.routing.forbidden([row[2] for row in rows], self.layers, self.num_experts)
        )
        with routing:
            loss = training_loss(
                self.model, x, mask, targets, forbidden, self.routing.coef if self.routing is not None else 0.0
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        opt.step()
        return loss.item(), int(mask.sum())


def batch_tensors(rows: list[tuple], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded (input ids, attention mask, targets) of (ids, loss_from, ...) rows; ``targets[r, c]`` is
    the token column ``c`` must predict (``ids[c + 1]`` from ``loss_from`` on), else -100."""
    width = max(len(row[0]) for row in rows)
    x = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(x)
    targets = torch.full_like(x, -100)
    for row, (ids, loss_from, *_) in enumerate(rows):
        x[row, : len(ids)] = torch.tensor(ids)
        mask[row, : len(ids)] = 1
        start = max(loss_from, 1)
        targets[row, start - 1 : len(ids) - 1] = torch.tensor(ids[start:])
    return x, mask, targets


def _labelled_logits(
    model: torch.nn.Module, x: torch.Tensor, mask: torch.Tensor, targets: torch.Tensor, **kwargs: Any
) -> tuple[Any, torch.Tensor, torch.Tensor]:
    """The forward pass with the LM head applied only at the columns where some row has a target (a
    letter answer is 2 of ~150 columns; the head is a 2,048-way matmul per column); returns (output,
    its logits at those columns, the targets there)."""
    cols = targets.ne(-100).any(0).nonzero().squeeze(1)
    out = model(input_ids=x, attention_mask=mask, logits_to_keep=cols, **kwargs)
    return out, out.logits, targets[:, cols]


def training_loss(
    model: Any,
    x: torch.Tensor,
    mask: torch.Tensor,
    targets: torch.Tensor,
    forbidden: torch.Tensor | None = None,
    routing_coef: float = 0.0,
) -> torch.Tensor:
    """The model's own training loss (mean cross-entropy over the target tokens plus
    ``router_aux_loss_coef`` times the load-balancing loss), computed only where there are targets:
    the same value and gradients as ``model(..., labels=...).loss`` (tested) at a fraction of the head's
    cost; plus ``routing_coef`` times ``domain_routing_penalty`` when ``forbidden`` is given."""
    out, logits, wanted = _labelled_logits(model, x, mask, targets, output_router_logits=True)
    loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), wanted.flatten(), ignore_index=-100)
    loss = loss + model.config.router_aux_loss_coef * out.aux_loss
    if forbidden is not None:
        loss = loss + routing_coef * domain_routing_penalty(out.router_logits, mask, forbidden)
    return loss


@torch.no_grad()
def exact_match(model: torch.nn.Module, rows: list[tuple[list[int], int]], pad_id: int, batch_size: int = 16) -> float:
    """Share of (ids, loss_from) rows whose every answer token is the model's most likely next token: one
    teacher-forced pass that says whether greedy decoding from the prompt would write the answer
    exactly (tested against generation), so a stage can check its skills cheaply while it trains."""
    if any(loss_from < 1 for _, loss_from in rows):
        raise ValueError("exact_match needs a prompt before every answer (loss_from >= 1)")
    was_training = model.training
    model.eval()
    ordered = sorted(rows, key=lambda r: len(r[0]))
    hits = 0
    for i in range(0, len(ordered), batch_size):
        x, mask, targets = batch_tensors(ordered[i : i + batch_size], pad_id)
        _, logits, wanted = _labelled_logits(model, x, mask, targets)
        hits += int(((logits.argmax(-1) == wanted) | (wanted == -100)).all(1).sum())
    model.train(was_training)
    return hits / len(rows)


class _Log:
    """Loss log every ``every`` steps, the last and every goal check, mirrored on the progress bar."""

    def __init__(self, every: int):
        self.every, self.started, self.seen = every, time.perf_counter(), 0
        self.rows: list[dict[str, Any]] = []

    def __call__(self, bar: Any, step: int, last: int, loss: float, tokens: int, **extra: Any) -> None:
        self.seen += tokens
        rate = self.seen / (time.perf_counter() - self.started)
        if step % self.every == 0 or step == last or extra.get("probes"):
            self.rows.append(
                {"step": step, "loss": round(loss, 4), "tokens": self.seen, "tok_per_s": round(rate), **extra}
            )
        bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{rate:.0f}")


def train(
    model: torch.nn.Module,
    rows: list[tuple],
    pad_id: int,
    epochs: float,
    lr: float,
    batch_tokens: int,
    seed: int,
    log_every: int = 50,
    expert_dropout: int = 0,
    routing: DomainRouting | None = None,
) -> list[dict]:
    """Epochs over a fixed corpus of (ids, loss_from, ...) rows: AdamW with warmup + cosine decay;
    returns the loss log. ``expert_dropout``, ``routing``: see ``_Stepper``."""
    rng = random.Random(seed)
    ids = [row[0] for row in rows]
    stepper = _Stepper(model, pad_id, expert_dropout, seed, routing)
    model.train()
    opt = _optimizer(model, lr)
    per_epoch = len(_batches(ids, batch_tokens, random.Random(0)))
    steps = int(epochs * per_epoch)
    plan: list[list[int]] = []
    while len(plan) < steps:
        plan += _batches(ids, batch_tokens, rng)
    plan = plan[:steps]
    warmup = max(1, steps // 30)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps)))
    )
    log = _Log(log_every)
    bar = tqdm(plan, desc="train", unit="batch")
    for step, batch in enumerate(bar):
        loss, tokens = stepper(opt, [rows[i] for i in batch])
        sched.step()
        log(bar, step, steps - 1, loss, tokens)
    model.eval()
    return log.rows


@dataclass(frozen=True)
class Stream:
    """A source of training rows for ``train_streams``: each batch drawn from it holds ``batch_size``
    rows produced by ``draw(rng)`` (an (ids, loss_from) pair). ``pool`` > 1 draws that many batches at
    once, sorts them by length and cuts them into batches served in random order: free-text rows vary
    in length, and a batch padded to its longest row wasted up to 75% of its tokens (benchmarks/bench_train_step.py)."""

    name: str
    weight: float
    batch_size: int
    draw: Callable[[random.Random], tuple]  # (ids, loss_from), plus the row's domain under ``DomainRouting``
    pool: int = 1


@dataclass(frozen=True)
class Goal:
    """When a phase may stop early: every ``every`` steps, the exact-match accuracy (``exact_match``) of
    each probe's rows, and the phase ends once every one reaches its target. A fixed step count left
    the skill where the trajectory happened to be (letter choice 0.63-0.97 over four builds of one
    recipe); a goal trains until the skill is there and no longer, with the phase's steps as a cap."""

    probes: dict[str, tuple[list[tuple[list[int], int]], float]]  # name -> (rows, target accuracy)
    every: int = 100

    def check(self, model: torch.nn.Module, pad_id: int) -> tuple[dict[str, float], bool]:
        """(accuracy per probe, whether every target is met)."""
        scores = {name: round(exact_match(model, rows, pad_id), 4) for name, (rows, _) in self.probes.items()}
        return scores, all(scores[name] >= target for name, (_, target) in self.probes.items())


class _Batcher:
    """Batches of a phase's streams, pooled where a stream asks for it (see ``Stream.pool``)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.pending: dict[str, list[list[tuple]]] = {}  # stream -> batches drawn ahead

    def __call__(self, stream: Stream) -> list[tuple]:
        if stream.pool == 1:
            return [stream.draw(self.rng) for _ in range(stream.batch_size)]
        queue = self.pending.setdefault(stream.name, [])
        if not queue:
            rows = sorted(
                (stream.draw(self.rng) for _ in range(stream.pool * stream.batch_size)), key=lambda r: len(r[0])
            )
            queue += [rows[i : i + stream.batch_size] for i in range(0, len(rows), stream.batch_size)]
            self.rng.shuffle(queue)
        return queue.pop()


def train_streams(
    model: torch.nn.Module,
    phases: list[tuple[int, list[Stream]]],
    pad_id: int,
    lr: float | list[float],
    seed: int,
    expert_dropout: int = 0,
    log_every: int = 50,
    goal: Goal | None = None,
    routing: DomainRouting | None = None,
) -> list[dict]:
    """Steps drawn from weighted streams instead of epochs over a corpus, at a constant rate per phase:
    for teaching a skill (fresh items every step) while replaying what the model already knows.
    ``phases``: (steps, streams) run in order; each step picks one stream by weight. ``lr``: one
    learning rate, or one per phase. ``goal``: the last phase stops once it is met (its steps are
    then a cap); every check is logged with its probe scores. ``routing``: see ``_Stepper`` (every
    stream's rows then carry their domain)."""
    rng = random.Random(f"streams:{seed}")
    stepper = _Stepper(model, pad_id, expert_dropout, seed, routing)
    model.train()
    lrs = list(lr) if isinstance(lr, (list, tuple)) else [lr] * len(phases)
    if len(lrs) != len(phases):
        raise ValueError(f"{len(lrs)} learning rates for {len(phases)} phases")
    opt = _optimizer(model, lrs[0])
    total = sum(steps for steps, _ in phases)
    log = _Log(log_every)
    bar = tqdm(total=total, desc="train", unit="batch")
    step = 0
    for index, ((steps, streams), phase_lr) in enumerate(zip(phases, lrs)):
        phase_goal = goal if index == len(phases) - 1 else None
        batcher = _Batcher(rng)
        for group in opt.param_groups:
            group["lr"] = phase_lr
        for done in range(1, steps + 1):
            stream = rng.choices(streams, weights=[s.weight for s in streams])[0]
            loss, tokens = stepper(opt, batcher(stream))
            bar.update()
            checked: dict[str, Any] = {}
            if phase_goal is not None and (done % phase_goal.every == 0 or done == steps):
                scores, met = phase_goal.check(model, pad_id)
                checked = {"probes": scores, "goal_met": met}
                tqdm.write(f"step {step}: probes {scores}" + (" - goal met" if met else ""))
            log(bar, step, total - 1, loss, tokens, stream=stream.name, **checked)
            step += 1
            if checked.get("goal_met"):
                break
    bar.close()
    model.eval()
    return log.rows


def save(model: Any, tokenizer: Any | None, out: Path) -> None:
    """Write the checkpoint (and the tokenizer, unless ``None``)."""
    out.mkdir(parents=True, exist_ok=True)
    model.config.output_router_logits = False
    model.save_pretrained(out)
    if tokenizer is not None:
        tokenizer.save_pretrained(out)
