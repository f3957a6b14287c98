"""One calibration pass over every domain's samples, cached on disk by content hash.

The cache holds the statistics of the methods that asked for them; a later sweep whose methods need a
statistic the cached pass lacks runs the pass again for the union, so the cache only grows."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from harness.batching import pad_batch
from harness.data.calibration import CalibrationSource, read_records, render, sample_records
from harness.models.adapters import MoEAdapter
from harness.prune.capture import StatsCollector
from harness.prune.stats import CalibrationStats, Statistic


@dataclass(frozen=True)
class CalibrationSettings:
    n_samples: int = 128
    max_length: int = 2048
    batch_size: int = 4
    #: statistics of the ``all_experts`` scope (EAN) evaluate every expert on this many randomly chosen tokens
    #: per sample (None: all tokens). The reference code took the FIRST 256, i.e. mostly chat-template boilerplate.
    ean_tokens_per_sample: int | None = 256
    #: tokens per sample (random, seeded) whose expert inputs are kept for reconstruction losses and NAEE
    reconstruction_tokens_per_sample: int = 4


@dataclass
class CalibrationBatchSet:
    """Token ids per domain for one seed, plus a hash of exactly what will be fed to the model."""

    domains: dict[str, list[list[int]]]
    sources: dict[str, dict]
    hash: str


def build_calibration(
    sources: list[CalibrationSource],
    tokenizer: Any,
    chat_kwargs: dict[str, Any],
    settings: CalibrationSettings,
    seed: int,
) -> CalibrationBatchSet:
    domains: dict[str, list[list[int]]] = {}
    meta: dict[str, dict] = {}
    for src in sources:
        if src.domain in domains:
            raise ValueError(f"calibration domain {src.domain!r} given twice; name them DOMAIN=PATH")
        records = sample_records(read_records(src.path), settings.n_samples, seed)
        domains[src.domain] = [
            ids for ids in (render(r, tokenizer, chat_kwargs, settings.max_length) for r in records) if ids
        ]
        meta[src.domain] = {"path": str(src.path), "sha256": src.content_hash(), "samples": len(domains[src.domain])}
    h = hashlib.sha256(json.dumps(domains, sort_keys=True).encode()).hexdigest()
    return CalibrationBatchSet(domains=domains, sources=meta, hash=h)


def _token_sample(lengths: list[int], width: int, per_sample: int | None, seed: int) -> torch.Tensor:
    """``per_sample`` random (seeded) positions of each row's tokens; None: every token."""
    mask = torch.zeros(len(lengths), width, dtype=torch.bool)
    gen = torch.Generator().manual_seed(seed)
    for row, n in enumerate(lengths):
        if per_sample is None or n <= per_sample:
            mask[row, :n] = True
        else:
            mask[row, torch.randperm(n, generator=gen)[:per_sample]] = True
    return mask


@torch.no_grad()
def collect_stats(
    model: torch.nn.Module,
    adapter: MoEAdapter,
    batches: CalibrationBatchSet,
    settings: CalibrationSettings,
    seed: int,
    pad_id: int,
    statistics: tuple[Statistic, ...],
    show_progress: bool = True,
) -> CalibrationStats:
    """Run every calibration sample through the model once, collecting ``statistics``."""
    device = next(model.parameters()).device
    total = sum(len(v) for v in batches.domains.values())
    stats = CalibrationStats(
        meta={"calibration_hash": batches.hash, "sources": batches.sources, "seed": seed, "settings": settings.__dict__}
    )
    with (
        StatsCollector(model, adapter, stats, statistics) as collector,
        tqdm(total=total, desc="calibration", unit="sample", disable=not show_progress) as bar,
    ):
        for domain, samples in batches.domains.items():
            # sort by length so batches pad little; order does not change the sums
            order = sorted(range(len(samples)), key=lambda i: len(samples[i]))
            for start in range(0, len(order), settings.batch_size):
                chunk = [samples[i] for i in order[start : start + settings.batch_size]]
                ids, mask = pad_batch(chunk, pad_id)
                lengths = [len(s) for s in chunk]
                sampled = _token_sample(lengths, ids.shape[1], settings.ean_tokens_per_sample, seed + start)
                sample = _token_sample(
                    lengths, ids.shape[1], settings.reconstruction_tokens_per_sample, seed + start + 1
                )
                collector.set_batch(domain, mask.bool(), sampled, sample)
                model(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False)
                bar.update(len(chunk))
    return stats


def stats_cache_path(
    cache_dir: Path, model_fingerprint: str, batches: CalibrationBatchSet, settings: CalibrationSettings, seed: int
) -> Path:
    key = hashlib.sha256(
        json.dumps(
            [
                model_fingerprint,
                batches.hash,
                settings.ean_tokens_per_sample,
                seed,
                settings.reconstruction_tokens_per_sample,
            ]
        ).encode()
    ).hexdigest()[:24]
    return cache_dir / "calibration" / f"{key}.safetensors"


def calibration_stats(
    model: torch.nn.Module,
    adapter: MoEAdapter,
    batches: CalibrationBatchSet,
    settings: CalibrationSettings,
    seed: int,
    statistics: tuple[Statistic, ...],
    fingerprint: str,
    cache_dir: Path,
    pad_id: int,
    show_progress: bool,
    log: Callable[[str], None],
) -> CalibrationStats:
    """The cached pass when it has every statistic asked for, else a new pass over the union (saved)."""
    path = stats_cache_path(cache_dir, fingerprint, batches, settings, seed)
    wanted = {s.name: s for s in statistics}
    if path.is_file():
        cached = CalibrationStats.load(path)
        if not cached.has_hidden_samples():
            log(f"calibration statistics in {path} predate the reconstruction token sample: collecting again")
        elif set(wanted) <= set(cached.names):
            log(f"calibration statistics reused from {path}")
            return cached
        else:
            from harness.prune.methods import statistic_named

            missing = sorted(set(wanted) - set(cached.names))
            log(f"calibration statistics in {path} lack {', '.join(missing)}: collecting again")
            for name in cached.names:
                try:
                    wanted.setdefault(name, statistic_named(name))
                except KeyError:  # its method is no longer registered: nothing can collect it
                    continue
    stats = collect_stats(
        model, adapter, batches, settings, seed, pad_id, tuple(wanted[k] for k in sorted(wanted)), show_progress
    )
    stats.save(path)
    return stats
