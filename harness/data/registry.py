"""Every dataset the gate uses: where it officially lives, where it is cached, how it is parsed.

Like lm-eval's task registry, each entry is data plus one loader. The default local location is
``$MOEGATE_DATA_DIR/<name>`` (``~/.cache/moegate/datasets/<name>``); ``--data-dir`` or an explicit
path overrides it. Nothing here touches the network.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from harness.data import gsm8k, humaneval, ifeval, mcq, medhalt, medinst, multi_news, multi_xscience, pubmedqa, rct


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    source: str  # hub id or repository, with the pinned revision
    default_file: str  # file or folder name inside the dataset directory
    load: Callable[..., Any]  # (path, skipped=None) -> records
    description: str


def _medhalt(task: str) -> DatasetSpec:
    return DatasetSpec(f"medhalt-{task}", f"hf:{medhalt.HUB_ID}@d1e8d04 | github:medhalt/medhalt@3dfe1e4",
                       medhalt.FILES[task], lambda p, skipped=None, t=task: medhalt.load(t, p, skipped), f"Med-HALT reasoning {task.upper()} CSV")


DATASETS: dict[str, DatasetSpec] = {s.name: s for s in (
    _medhalt("fct"), _medhalt("fake"), _medhalt("nota"),
    DatasetSpec("rct", f"github:{rct.REPO}@de10c27", ".", lambda p, skipped=None: rct.load(p, skipped=skipped), "RCT summarisation inputs/targets CSVs (test split)"),
    DatasetSpec("multi-news-plus", f"github:{multi_news.REPO}@e347c8e", "cleansed_data",
                lambda p, skipped=None: multi_news.load(p, skipped=skipped).clusters, "Multi-News+ cleansed JSON chunks (test split)"),
    DatasetSpec("pubmedqa", f"hf:{pubmedqa.HUB_ID}/{pubmedqa.HUB_CONFIG} | github:pubmedqa/pubmedqa@1cbae8e", ".",
                lambda p, skipped=None: pubmedqa.load(p, skipped=skipped), "PubMedQA labelled set, test PMIDs"),
    DatasetSpec("medinst", f"hf:{medinst.HUB_ID}", "medinst.jsonl", lambda p, skipped=None: medinst.load(p, skipped=skipped),
                "MedINST32 instruction records (generation tasks, test)"),
    DatasetSpec("medinst-calibration", f"hf:{medinst.HUB_ID}/{medinst.CALIBRATION_CONFIG}",
                f"{medinst.CALIBRATION_CONFIG}.jsonl", lambda p, skipped=None: medinst.load(p, skipped=skipped),
                "MedINST32 calibration pool (train); the study samples 128, seeded"),
    DatasetSpec("multi-xscience", f"github:{multi_xscience.REPO}@6559770", "test.json.gz",
                lambda p, skipped=None: multi_xscience.load(p, skipped), "Multi-XScience raw JSON (gz)"),
    DatasetSpec("medqa", "hf:GBaker/MedQA-USMLE-4-options-hf", "test.jsonl", lambda p, skipped=None: mcq.load_medqa(p, skipped),
                "MedQA 4-option rows (lm-eval medqa_4options)"),
    DatasetSpec("medmcqa", "hf:openlifescienceai/medmcqa", "validation.jsonl",
                lambda p, skipped=None: mcq.load_medmcqa(p, skipped), "MedMCQA rows (lm-eval medmcqa, validation split)"),
    DatasetSpec("mmlu", "hf:cais/mmlu", "test.jsonl", lambda p, skipped=None: mcq.load_mmlu(p, skipped), "MMLU rows"),
    DatasetSpec("gsm8k", f"hf:{gsm8k.HUB_ID} (main)", "test.jsonl", lambda p, skipped=None: gsm8k.load(p, skipped),
                "GSM8K test rows (train.jsonl beside it gives the 5 shots)"),
    DatasetSpec("ifeval", f"hf:{ifeval.HUB_ID}", "test.jsonl", lambda p, skipped=None: ifeval.load(p, skipped),
                "IFEval prompts with verifiable instructions (lm-eval ifeval)"),
    DatasetSpec("humaneval", f"hf:{humaneval.HUB_ID}", "test.jsonl", lambda p, skipped=None: humaneval.load(p, skipped),
                "HumanEval problems with unit tests (lm-eval humaneval_instruct, executed)"),
    DatasetSpec("knowledge", "local: a JSONL of cloze facts (id, domain, context, choices, answer)", "facts.jsonl",
                lambda p, skipped=None: mcq.load_cloze(p, skipped), "knowledge probes by log-likelihood (per domain)"),
)}


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
            f"dataset {name} not found at {target}. Official source: {spec.source}. Place the files there "
            f"(cache root: {root or data_root()}, env MOEGATE_DATA_DIR), pass the path explicitly "
            f"(`python -m harness data check {name} PATH`), or fetch it: `python -m harness data download {name}`"
        )
    return target


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0
