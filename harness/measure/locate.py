"""Where a task's dataset is read from.

With a data directory (the embedded model's ``fixtures/tiny-moe/data``, or ``--data-dir``) files are
read in the fixture layout below; without one, each dataset comes from the dataset registry's
location (``$MOEGATE_DATA_DIR/<name>``), whose error names the official source and the override.
"""

from __future__ import annotations

from pathlib import Path

from harness.data import registry

#: dataset name -> path inside a data directory laid out like fixtures/tiny-moe/data
LAYOUT = {
    "medhalt-fct": "medhalt/reasoning_FCT.csv",
    "medhalt-nota": "medhalt/reasoning_nota.csv",
    "medhalt-fake": "medhalt/reasoning_fake.csv",
    "rct": "rct",
    "multi-news-plus": "multi_news_plus/cleansed_data",
    "pubmedqa": "pubmedqa",
    "medinst": "medinst/medinst_test.jsonl",
    "medqa": "multimedqa/medqa_4options_test.jsonl",
    "medmcqa": "multimedqa/medmcqa_validation.jsonl",
    "mmlu": "general/mmlu_test.jsonl",
    "knowledge": "knowledge/facts.jsonl",
    "gsm8k": "general/gsm8k_test.jsonl",
    "ifeval": "general/ifeval_test.jsonl",
    "humaneval": "general/humaneval_test.jsonl",
    "multi-xscience": "multi_xscience/test.json.gz",
}


def dataset_path(name: str, data_dir: Path | None) -> Path:
    if data_dir is None:
        return registry.resolve_path(name)
    path = Path(data_dir) / LAYOUT[name]
    if not path.exists():
        raise FileNotFoundError(
            f"dataset {name} not found at {path} (data directory {data_dir}; expected layout: "
            f"{LAYOUT[name]}). Official source: {registry.get(name).source}"
        )
    return path
