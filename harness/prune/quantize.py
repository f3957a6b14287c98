"""W4A16 GPTQ on a pruned checkpoint with llm-compressor, calibrated on the same calibration samples.

lm_head and every router (``mlp.gate``) stay unquantized (in the checkpoint's dtype, bfloat16 for the
real models). The group size is the W4A16 preset's 128 when every quantized input dimension divides
by it, else the largest of 64 / 32 / 16 that does (the embedded model's 192 / 96 need 32); recorded in
``quantization.json``. Written to a temporary directory renamed at the end; an identical variant on
disk is reused; verified by reloading in transformers and comparing logits with the unquantized
pruned model (relative L2 error within ``tolerance``) and by its size on disk.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from harness.atomic import atomic_dir
from harness.data.calibration import CalibrationSource
from harness.models.fingerprint import checkpoint_fingerprint, weight_files
from harness.models.loading import load_model, load_tokenizer
from harness.prune.calibrate import CalibrationSettings, build_calibration

SCHEMES = ("gptq-w4a16",)
IGNORE = ["lm_head", "re:.*mlp.gate$", "re:.*router$"]


@dataclass(frozen=True)
class QuantSettings:
    scheme: str = "gptq-w4a16"
    samples: int = 128
    max_length: int = 2048
    tolerance: float = 0.1  # relative L2 error of the logits vs the unquantized pruned model

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ValueError(f"unknown quantization {self.scheme!r}; supported: {', '.join(SCHEMES)}")


def group_size(model: torch.nn.Module) -> int:
    """The largest of 128/64/32/16 dividing the input dimension of every weight GPTQ will quantize."""
    dims = {
        p.shape[-1]
        for name, p in model.named_parameters()
        if p.dim() >= 2 and "embed" not in name and not name.startswith("lm_head") and ".mlp.gate." not in name
    }
    for size in (128, 64, 32, 16):
        if all(d % size == 0 for d in dims):
            return size
    raise ValueError(f"no GPTQ group size in 128/64/32/16 divides the weight input dimensions {sorted(dims)}")


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in weight_files(path))


def _key(fingerprint: str, settings: QuantSettings, calibration_hash: str) -> str:
    return hashlib.sha256(json.dumps([fingerprint, asdict(settings), calibration_hash]).encode()).hexdigest()


def quantize(
    src: Path, out: Path, sources: list[CalibrationSource], seed: int = 0, settings: QuantSettings | None = None
) -> dict:
    """Write (or reuse) the quantized checkpoint of ``src`` at ``out``; returns its quantization.json."""
    settings = settings or QuantSettings()
    from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme
    from datasets import Dataset
    from llmcompressor import oneshot
    from llmcompressor.modifiers.quantization import GPTQModifier

    tokenizer = load_tokenizer(src)
    batches = build_calibration(
        sources, tokenizer, {}, CalibrationSettings(n_samples=settings.samples, max_length=settings.max_length), seed
    )
    fingerprint = checkpoint_fingerprint(src)
    key = _key(fingerprint, settings, batches.hash)
    manifest_path = out / "quantization.json"
    if manifest_path.is_file() and json.loads(manifest_path.read_text()).get("key") == key:
        return json.loads(manifest_path.read_text())
    ids = [seq for domain in batches.domains.values() for seq in domain]
    model: Any = load_model(src)
    check = torch.tensor([ids[0][:64]])
    with torch.no_grad():
        reference = model(input_ids=check).logits.float()
    groups = group_size(model)
    scheme = QuantizationScheme(
        targets=["Linear"],
        weights=QuantizationArgs(num_bits=4, type="int", symmetric=True, strategy="group", group_size=groups),
    )
    started = time.perf_counter()
    oneshot(
        model=model,
        dataset=Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * len(i) for i in ids]}),
        recipe=GPTQModifier(config_groups={"group_0": scheme}, ignore=IGNORE),
        max_seq_length=settings.max_length,
        num_calibration_samples=len(ids),
    )
    seconds = time.perf_counter() - started
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp, save_compressed=True)
        tokenizer.save_pretrained(tmp)
        reloaded = load_model(tmp)
        with torch.no_grad():
            logits = reloaded(input_ids=check).logits.float()
        rel = float((logits - reference).norm() / reference.norm())
        manifest: dict[str, Any] = {
            "key": key,
            "source": str(src),
            "source_fingerprint": fingerprint,
            "settings": asdict(settings),
            "group_size": groups,
            "ignore": IGNORE,
            "calibration_hash": batches.hash,
            "calibration_samples": len(ids),
            "seconds": round(seconds, 2),
            "bytes": {"before": dir_bytes(src), "after": dir_bytes(tmp)},
            "verification": {"logits_rel_l2": rel, "tolerance": settings.tolerance, "ok": rel <= settings.tolerance},
        }
        if not manifest["verification"]["ok"]:
            raise RuntimeError(f"{src}: quantized logits differ by {rel:.3f} (relative L2) > {settings.tolerance}")
        (tmp / "quantization.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
