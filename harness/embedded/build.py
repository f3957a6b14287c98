"""Rebuild the embedded default model and its data from scratch: ``python -m harness embedded build``.

Steps: world -> official-format datasets (fast, deterministic) -> corpus -> tokenizer -> training
(about 20 minutes on 2 CPU cores) -> a redundancy stage (the same corpus with random experts masked
out of routing, about 8 minutes) -> ``fixtures/tiny-moe/{model,data}`` plus ``manifest.json``
holding hashes of the generator settings and of every data file, so a test can prove that the
shipped files are what the current generator produces.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from harness.embedded import corpus as corpus_mod
from harness.embedded import train as train_mod
from harness.embedded.datasets import write_datasets
from harness.embedded.world import WORLD_SEED, make_world

TRAIN_SEED = 0
EPOCHS = 5.0
LEARNING_RATE = 3e-3
BATCH_TOKENS = 8192
# stage 2: redundancy (see train.train's expert_dropout); added in format 4
ROBUST_EPOCHS = 2.0
ROBUST_LR = 1e-3
EXPERT_DROPOUT = 6  # of 16 experts per layer, per step


def generator_settings() -> dict:
    """Everything that determines the data and the model; its hash is recorded in the manifest."""
    return {"world_seed": WORLD_SEED, "train_seed": TRAIN_SEED, "epochs": EPOCHS, "lr": LEARNING_RATE,
            "batch_tokens": BATCH_TOKENS, "max_batch_sequences": train_mod.MAX_BATCH_SEQUENCES, "model_config": train_mod.MODEL_CONFIG,
            "robust_epochs": ROBUST_EPOCHS, "robust_lr": ROBUST_LR, "expert_dropout": EXPERT_DROPOUT, "format": 4}


def settings_hash() -> str:
    return hashlib.sha256(json.dumps(generator_settings(), sort_keys=True).encode()).hexdigest()


def data_hashes(data_dir: Path) -> dict[str, str]:
    return {str(p.relative_to(data_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(data_dir.rglob("*")) if p.is_file()}


def build_data(root: Path) -> dict[str, str]:
    data_dir = root / "data"
    if data_dir.exists():
        shutil.rmtree(data_dir)
    write_datasets(make_world(WORLD_SEED), data_dir)
    return data_hashes(data_dir)


def _encoded(tokenizer, examples: list[corpus_mod.Example]) -> tuple[list[list[int]], list[int]]:
    encoded = [train_mod.encode(e, tokenizer) for e in examples]
    return [e[0] for e in encoded], [e[1] for e in encoded]


def build_model(root: Path) -> dict[str, list[dict]]:
    """Both stages from scratch; returns their loss logs."""
    examples = corpus_mod.training_examples(make_world(WORLD_SEED), TRAIN_SEED)
    plain = [(e.text or "") + (e.completion or "") if e.messages is None else "\n".join(m["content"] for m in e.messages)
             for e in examples]
    tokenizer = train_mod.train_tokenizer(plain, train_mod.MODEL_CONFIG["vocab_size"])
    ids, loss_from = _encoded(tokenizer, examples)
    model = train_mod.build_model(tokenizer, TRAIN_SEED)
    model.set_experts_implementation("eager")  # fastest for training on CPU (measured)
    logs = {"base": train_mod.train(model, ids, loss_from, tokenizer.pad_token_id, EPOCHS, LEARNING_RATE, BATCH_TOKENS,
                                    TRAIN_SEED)}
    logs["robust"] = _robust_stage(model, tokenizer, ids, loss_from)
    _save(model, tokenizer, root)
    return logs


def _robust_stage(model, tokenizer, ids: list[list[int]], loss_from: list[int]) -> list[dict]:
    return train_mod.train(model, ids, loss_from, tokenizer.pad_token_id, ROBUST_EPOCHS, ROBUST_LR, BATCH_TOKENS,
                           TRAIN_SEED + 1, expert_dropout=EXPERT_DROPOUT)


def _save(model, tokenizer, root: Path) -> None:
    """Write the model (and the tokenizer; ``None`` keeps the tokenizer files already there)."""
    model.set_experts_implementation("grouped_mm")
    out = root / "model"
    if tokenizer is not None and out.exists():
        shutil.rmtree(out)
    train_mod.save(model, tokenizer, out)


def build_robust_stage(root: Path) -> list[dict]:
    """Run only stage 2 on a shipped stage-1 checkpoint (how a format-3 fixture was brought to format 4)."""
    from harness.models.loading import load_model, load_tokenizer

    manifest = json.loads((root / "manifest.json").read_text())
    if "robust" in manifest.get("train_logs", {}):
        raise ValueError(f"{root}: the redundancy stage was already applied (manifest train_logs.robust)")
    tokenizer = load_tokenizer(root / "model")
    model = load_model(root / "model")
    model.set_experts_implementation("eager")
    ids, loss_from = _encoded(tokenizer, corpus_mod.training_examples(make_world(WORLD_SEED), TRAIN_SEED))
    log = _robust_stage(model, tokenizer, ids, loss_from)
    model.eval()
    _save(model, None, root)  # the tokenizer is unchanged: its files stay byte for byte
    return log


def build(root: Path, skip_model: bool = False, robust_only: bool = False) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    previous = json.loads((root / "manifest.json").read_text()) if (root / "manifest.json").is_file() else {}
    logs = previous.get("train_logs") or ({"base": previous["train_log"]} if "train_log" in previous else {})
    if robust_only:
        logs = dict(logs, robust=build_robust_stage(root))
    elif not skip_model:
        logs = build_model(root)
    manifest = {"settings": generator_settings(), "settings_sha256": settings_hash(), "data": build_data(root),
                "train_logs": logs}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
