"""Rebuild the embedded default model and its data from scratch: ``python -m harness embedded build``.

Steps: world -> official-format datasets (fast, deterministic) -> corpus -> tokenizer -> training
(about 25 minutes on 2 CPU cores) -> ``fixtures/tiny-moe/{model,data}`` plus ``manifest.json``
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


def generator_settings() -> dict:
    """Everything that determines the data and the model; its hash is recorded in the manifest."""
    return {"world_seed": WORLD_SEED, "train_seed": TRAIN_SEED, "epochs": EPOCHS, "lr": LEARNING_RATE,
            "batch_tokens": BATCH_TOKENS, "max_batch_sequences": train_mod.MAX_BATCH_SEQUENCES, "model_config": train_mod.MODEL_CONFIG, "format": 3}


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


def build_model(root: Path) -> list[dict]:
    world = make_world(WORLD_SEED)
    examples = corpus_mod.training_examples(world, TRAIN_SEED)
    plain = [(e.text or "") + (e.completion or "") if e.messages is None else "\n".join(m["content"] for m in e.messages)
             for e in examples]
    tokenizer = train_mod.train_tokenizer(plain, train_mod.MODEL_CONFIG["vocab_size"])
    encoded = [train_mod.encode(e, tokenizer) for e in examples]
    model = train_mod.build_model(tokenizer, TRAIN_SEED)
    model.set_experts_implementation("eager")  # fastest for training on CPU (measured)
    log = train_mod.train(model, [e[0] for e in encoded], [e[1] for e in encoded], tokenizer.pad_token_id, EPOCHS,
                          LEARNING_RATE, BATCH_TOKENS, TRAIN_SEED)
    model.set_experts_implementation("grouped_mm")
    out = root / "model"
    if out.exists():
        shutil.rmtree(out)
    train_mod.save(model, tokenizer, out)
    return log


def build(root: Path, skip_model: bool = False) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    manifest = {"settings": generator_settings(), "settings_sha256": settings_hash(), "data": build_data(root)}
    if not skip_model:
        manifest["train_log"] = build_model(root)
    elif (root / "manifest.json").is_file():
        manifest["train_log"] = json.loads((root / "manifest.json").read_text()).get("train_log", [])
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
