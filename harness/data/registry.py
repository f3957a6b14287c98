"""Every dataset the gate uses: where it officially lives, where it is cached, how it is parsed.

Like lm-eval's task registry, each entry is data plus one loader. The default local location is
``$MOEGATE_DATA_DIR/<name>`` (``~/.cache/moegate/datasets/<name>``); ``--data-dir`` or an explicit
path overrides it. Nothing here touches the network.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data import gsm8k, humaneval, ifeval, mcq, medhalt, medinst, multi_news, multi_xscience, pubmedqa, rct
from harness.data.sources import (
    MEDHALT,
    MULTI_NEWS_PLUS,
    MULTI_XSCIENCE,
    PUBMEDQA,
    RCT,
    GitHubFiles,
    LocalOnly,
    Origin,
    hub,
)


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    origin: Origin  # the official source at its pinned commit (what ``data download`` fetches)
    default_file: str  # file or folder name inside the dataset directory
    load: Callable[..., Any]  # (path, skipped=None) -> records
    description: str

    @property
    def source(self) -> str:
        return self.origin.describe()


def _medhalt(task: str) -> DatasetSpec:
    f = medhalt.FILES[task]
    return DatasetSpec(
        f"medhalt-{task}",
        GitHubFiles(*MEDHALT, ((f"medhalt/datasets/{f}", f),)),
        f,
        lambda p, skipped=None, t=task: medhalt.load(t, p, skipped),
        f"Med-HALT reasoning {task.upper()} CSV (hub copy: {medhalt.HUB_ID})",
    )


DATASETS: dict[str, DatasetSpec] = {
    s.name: s
    for s in (
        _medhalt("fct"),
        _medhalt("fake"),
        _medhalt("nota"),
        DatasetSpec(
            "rct",
            GitHubFiles(*RCT, (("test-inputs.csv", "test-inputs.csv"), ("test-targets.csv", "test-targets.csv"))),
            ".",
            lambda p, skipped=None: rct.load(p, skipped=skipped),
            "RCT summarisation inputs/targets CSVs (test split)",
        ),
        DatasetSpec(
            "multi-news-plus",
            GitHubFiles(*MULTI_NEWS_PLUS, folder=("cleansing/cleansed_data", "cleansed_data*.json", "cleansed_data")),
            "cleansed_data",
            lambda p, skipped=None: multi_news.load(p, skipped=skipped).clusters,
            "Multi-News+ cleansed JSON chunks (test split)",
        ),
        DatasetSpec(
            "pubmedqa",
            GitHubFiles(
                *PUBMEDQA,
                (("data/ori_pqal.json", "ori_pqal.json"), ("data/test_ground_truth.json", "test_ground_truth.json")),
            ),
            ".",
            lambda p, skipped=None: pubmedqa.load(p, skipped=skipped),
            f"PubMedQA labelled set, test PMIDs (hub copy: {pubmedqa.HUB_ID}/{pubmedqa.HUB_CONFIG})",
        ),
        DatasetSpec(
            "medinst",
            hub(medinst.HUB_ID, medinst.GENERATION_TASKS, (("test", "medinst.jsonl"),)),
            "medinst.jsonl",
            lambda p, skipped=None: medinst.load(p, skipped=skipped),
            "MedINST32 instruction records (generation tasks, test; one config per task, rows tagged with it)",
        ),
        DatasetSpec(
            "medinst-calibration",
            hub(medinst.HUB_ID, (medinst.CALIBRATION_CONFIG,), (("train", f"{medinst.CALIBRATION_CONFIG}.jsonl"),)),
            f"{medinst.CALIBRATION_CONFIG}.jsonl",
            lambda p, skipped=None: medinst.load(p, skipped=skipped),
            "MedINST32 calibration pool (train); the study samples 128, seeded",
        ),
        DatasetSpec(
            "multi-xscience",
            GitHubFiles(*MULTI_XSCIENCE, (("data/test.json.gz", "test.json.gz"),)),
            "test.json.gz",
            lambda p, skipped=None: multi_xscience.load(p, skipped),
            "Multi-XScience raw JSON (gz)",
        ),
        DatasetSpec(
            "medqa",
            hub("GBaker/MedQA-USMLE-4-options-hf", (None,), (("test", "test.jsonl"),)),
            "test.jsonl",
            lambda p, skipped=None: mcq.load_medqa(p, skipped),
            "MedQA 4-option rows (lm-eval medqa_4options)",
        ),
        DatasetSpec(
            "medmcqa",
            hub("openlifescienceai/medmcqa", (None,), (("validation", "validation.jsonl"),)),
            "validation.jsonl",
            lambda p, skipped=None: mcq.load_medmcqa(p, skipped),
            "MedMCQA rows (lm-eval medmcqa, validation split)",
        ),
        DatasetSpec(
            "mmlu",
            hub("cais/mmlu", ("all",), (("test", "test.jsonl"), ("dev", "dev.jsonl"))),
            "test.jsonl",
            lambda p, skipped=None: mcq.load_mmlu(p, skipped),
            "MMLU rows (dev.jsonl beside it gives the 3 shots)",
        ),
        DatasetSpec(
            "gsm8k",
            hub(gsm8k.HUB_ID, ("main",), (("test", "test.jsonl"), ("train", "train.jsonl"))),
            "test.jsonl",
            lambda p, skipped=None: gsm8k.load(p, skipped),
            "GSM8K test rows (train.jsonl beside it gives the 5 shots)",
        ),
        DatasetSpec(
            "ifeval",
            hub(ifeval.HUB_ID, (None,), (("train", "test.jsonl"),)),
            "test.jsonl",  # the hub's only split is "train"
            lambda p, skipped=None: ifeval.load(p, skipped),
            "IFEval prompts with verifiable instructions (lm-eval ifeval)",
        ),
        DatasetSpec(
            "humaneval",
            hub(humaneval.HUB_ID, (None,), (("test", "test.jsonl"),)),
            "test.jsonl",
            lambda p, skipped=None: humaneval.load(p, skipped),
            "HumanEval problems with unit tests (lm-eval humaneval_instruct, executed)",
        ),
        DatasetSpec(
            "knowledge",
            LocalOnly("a JSONL of cloze facts (id, domain, context, choices, answer)"),
            "facts.jsonl",
            lambda p, skipped=None: mcq.load_cloze(p, skipped),
            "knowledge probes by log-likelihood (per domain)",
        ),
    )
}


def data_root() -> Path:
    return Path(os.environ.get("MOEGATE_DATA_DIR", Path.home() / ".cache" / "moegate" / "datasets"))


def get(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


def default_path(spec: DatasetSpec, root: Path | None = None) -> Path:
    return (root or data_root()) / spec.name / spec.default_file


def resolve_path(name: str, path: Path | None = None, root: Path | None = None) -> Path:
    """The file or folder to read, or a clear error naming source, cache location and override."""
    spec = get(name)
    target = path or default_path(spec, root)
    if not target.exists():
        raise FileNotFoundError(
            f"dataset {name} not found at {target}. Official source: {spec.source} ({spec.description}). "
            "Place the files there "
            f"(cache root: {root or data_root()}, env MOEGATE_DATA_DIR), pass the path explicitly "
            f"(`python -m harness data check {name} PATH`), or fetch it: `python -m harness data download {name}`"
        )
    return target


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0
