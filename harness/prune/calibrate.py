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
from harness.models.streaming import is_streamed
from harness.prune.capture import StatsCollector
from harness.prune.layer_major import TokenBatch, check_activation_dir, run_layer_major
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


def token_batches(
    batches: CalibrationBatchSet, settings: CalibrationSettings, seed: int, pad_id: int
) -> list[TokenBatch]:
    """The calibration samples padded into batches (sorted by length per domain, so they pad little; order
    does not change the sums), with each batch's seeded token samples."""
    out = []
    for domain, samples in batches.domains.items():
        order = sorted(range(len(samples)), key=lambda i: len(samples[i]))
        for start in range(0, len(order), settings.batch_size):
            chunk = [samples[i] for i in order[start : start + settings.batch_size]]
            ids, mask = pad_batch(chunk, pad_id)
            lengths = [len(s) for s in chunk]
            sampled = _token_sample(lengths, ids.shape[1], settings.ean_tokens_per_sample, seed + start)
            sample = _token_sample(lengths, ids.shape[1], settings.reconstruction_tokens_per_sample, seed + start + 1)
            out.append(TokenBatch(domain, ids, mask, sampled, sample))
    return out


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
    activation_dir: Path | None = None,
) -> CalibrationStats:
    """Run every calibration sample through the model once, collecting ``statistics``: batch by batch for
    a resident model, layer by layer for a streamed one (``activation_dir``: where its hidden states wait
    between layers; None keeps them on the device)."""
    device = next(model.parameters()).device
    stats = CalibrationStats(
        meta={"calibration_hash": batches.hash, "sources": batches.sources, "seed": seed, "settings": settings.__dict__}
    )
    prepared = token_batches(batches, settings, seed, pad_id)
    layers = adapter.decoder_layers(model)
    streamed = is_streamed(layers)
    if streamed and activation_dir is not None:
        check_activation_dir(
            activation_dir, prepared, adapter.text_config(model.config).hidden_size, next(model.parameters()).dtype
        )
    with StatsCollector(model, adapter, stats, statistics) as collector:
        if streamed:
            with tqdm(
                total=len(layers), desc="calibration (layerwise)", unit="layer", disable=not show_progress
            ) as bar:
                run_layer_major(model, layers, collector, prepared, activation_dir, bar)
            return stats
        with tqdm(
            total=sum(len(b.ids) for b in prepared), desc="calibration", unit="sample", disable=not show_progress
        ) as bar:
            for b in prepared:
                collector.set_batch(b.domain, b.mask.bool(), b.sampled, b.sample)
                model(input_ids=b.ids.to(device), attention_mask=b.mask.to(device), use_cache=False)
                bar.update(len(b.ids))
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
    activation_dir: Path | None = None,
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
        model,
        adapter,
        batches,
        settings,
        seed,
        pad_id,
        tuple(wanted[k] for k in sorted(wanted)),
        show_progress,
        activation_dir,
    )
    stats.save(path)
    return stats
