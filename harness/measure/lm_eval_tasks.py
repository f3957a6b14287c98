"""lm-evaluation-harness tasks, with their official definitions, pointed at local files.

``local_task("medqa_4options", {"test": path})`` loads the registered task's own YAML (templates,
``!function`` preprocessors, metrics, few-shot settings exactly as lm-eval ships them) and replaces
only where the rows come from: ``dataset_path: json`` with ``data_files`` per split. Any lm-eval task
works this way, so the embedded fixtures and offline mirrors of the real datasets run the same task
definitions as a hub-connected machine.

Task sets of the study: MultiMedQA (pubmedqa, medmcqa, medqa_4options, six MMLU medical subjects,
0-shot) and general utility (leaderboard_ifeval 0-shot, gsm8k 5-shot, humaneval_instruct 0-shot,
mmlu 3-shot as the issue asks).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from harness.data import pubmedqa
from harness.metrics import code_exec


@cache
def task_manager(task: str | None = None) -> Any:
    """An lm-eval TaskManager that knows ``task``: one that indexes only the folder whose YAML declares
    it (lm-eval's full index parses its ~13,000 YAML files: 17 s in every process), else the full one.
    With no task, one that indexes nothing: enough to load the resolved configs ``local_task`` returns."""
    from lm_eval.tasks import TaskManager

    if task is None:
        return TaskManager(include_defaults=False)
    folder = _task_folder(task)
    if folder is not None:
        scoped = TaskManager(include_path=str(folder), include_defaults=False)
        if scoped._entry(task) is not None:
            return scoped
    return TaskManager()


def _task_folder(task: str) -> Path | None:
    """The folder of lm-eval's shipped YAML that declares ``task: <task>``."""
    return _declared_tasks().get(task)


@cache
def _declared_tasks() -> dict[str, Path]:
    """Every task name a YAML shipped with lm-eval declares (``task: <name>``: a text match, no YAML
    parse) -> the first folder, in path order, that declares it; the files are read once per process."""
    import lm_eval.tasks

    declares = re.compile(r"""^["']?task["']?\s*:\s*["']?([^"'\s]+)["']?\s*$""", re.MULTILINE)
    found: dict[str, Path] = {}
    for path in sorted(Path(lm_eval.tasks.__file__).parent.rglob("*.yaml")):
        for name in declares.findall(path.read_text(encoding="utf-8", errors="replace")):
            found.setdefault(name, path.parent)
    return found


#: hooks whose official module needs the hub when imported -> moegate's offline equivalent
#: (``!function`` reference as written in the YAML -> callable)
OFFLINE_HOOKS: dict[str, dict[str, Callable[..., Any]]] = {
    "humaneval_instruct": {
        "utils.pass_at_k": code_exec.pass_at_k,
        "utils.build_predictions_instruct": code_exec.build_predictions_instruct,
    },
}


def official_config(task: str) -> dict[str, Any]:
    """The registered task's full config (includes and ``!function`` hooks resolved; hooks listed in
    ``OFFLINE_HOOKS`` are replaced without importing their module)."""
    tm = task_manager(task)
    entry = tm._entry(task)  # lm-eval 0.4.13 has no public accessor for a single task's config
    if entry is None or entry.yaml_path is None:
        raise ValueError(f"lm-eval has no YAML-defined task named {task!r}")
    if task not in OFFLINE_HOOKS:
        return tm._factory._load_full_config(entry, None)
    from lm_eval.tasks._yaml_loader import load_yaml

    folder = str(Path(entry.yaml_path).parent) + "/"
    hooks = {folder + ref: fn for ref, fn in OFFLINE_HOOKS[task].items()}

    def substitute(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: substitute(v) for k, v in value.items()}
        if isinstance(value, list):
            return [substitute(v) for v in value]
        if isinstance(value, str) and value.startswith(folder):
            if value not in hooks:
                raise ValueError(
                    f"lm-eval task {task}: hook {value[len(folder) :]!r} has no offline equivalent in "
                    "moegate (did lm-eval's YAML change?)"
                )
            return hooks[value]
        return value

    return substitute(load_yaml(entry.yaml_path, resolve_func=False))


def local_task(
    task: str, files: dict[str, Path], *, alias: str | None = None, num_fewshot: int | None = None, **overrides: Any
) -> dict[str, Any]:
    """``task``'s official config reading its splits from local JSON/JSONL ``files`` (split -> path)."""
    missing = [str(p) for p in files.values() if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"lm-eval task {task}: local data files not found: {', '.join(missing)}")
    cfg = official_config(task)
    for key in ("tag", "group", "task_list", "include"):
        cfg.pop(key, None)
    cfg.update(
        dataset_path="json",
        dataset_name=None,
        dataset_kwargs={"data_files": {split: str(Path(p).resolve()) for split, p in files.items()}},
    )
    for split_key in ("training_split", "validation_split", "test_split", "fewshot_split"):
        if cfg.get(split_key) not in (None, *files):
            cfg[split_key] = None
    if "test" in files:
        cfg["test_split"] = "test"
    if num_fewshot is not None:
        cfg["num_fewshot"] = num_fewshot
    if alias:
        cfg["task"] = alias
    cfg.update(overrides)
    return cfg


def pubmedqa_rows(folder: Path, out: Path) -> Path:
    """Write PubMedQA's ori_pqal.json test items as the rows the hub config ``..._source`` has."""
    items = pubmedqa.load(folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        for it in items:
            fh.write(
                json.dumps(
                    {
                        "QUESTION": it.question,
                        "CONTEXTS": list(it.contexts),
                        "final_decision": it.label,
                        "pmid": it.pmid,
                    }
                )
                + "\n"
            )
    return out


def lm_eval_cache(cache_dir: Path | None, checkpoint: str | None) -> str | None:
    """lm-eval's request cache path for one checkpoint: ``<cache>/lm-eval/<content hash>`` (never shared)."""
    if cache_dir is None or checkpoint is None:
        return None
    folder = Path(cache_dir) / "lm-eval"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / checkpoint[:32])


def evaluate(
    model: Any,
    tokenizer: Any,
    tasks: list[dict[str, Any]],
    *,
    limit: int | None = None,
    batch_size: int = 8,
    checkpoint: str | None = None,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Run lm-eval on an in-memory model (HFLM); returns lm-eval's results dict with per-sample logs.
    With ``checkpoint`` (content hash) and ``cache_dir``, lm-eval caches requests per checkpoint."""
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)
    return _simple_evaluate(lm, {}, tasks, limit, checkpoint, cache_dir)


def evaluate_server(
    base_url: str,
    served_model: str,
    tokenizer_dir: Path,
    tasks: list[dict[str, Any]],
    *,
    limit: int | None = None,
    checkpoint: str | None = None,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Run lm-eval against an OpenAI-compatible completions server (a vLLM server) with lm-eval's
    ``local-completions`` model; the checkpoint's own tokenizer splits context and continuation."""
    args = (
        f"model={served_model},base_url={base_url.rstrip('/')}/v1/completions,tokenizer={tokenizer_dir},"
        "tokenizer_backend=huggingface,tokenized_requests=True,num_concurrent=1,max_retries=3"
    )
    return _simple_evaluate("local-completions", {"model_args": args}, tasks, limit, checkpoint, cache_dir)


def _simple_evaluate(
    model: Any,
    model_kwargs: dict[str, Any],
    tasks: list[dict[str, Any]],
    limit: int | None,
    checkpoint: str | None,
    cache_dir: Path | None,
) -> dict[str, Any]:
    """lm-eval's simple_evaluate as both entry points call it: per-sample logs, no bootstrap, cached
    per checkpoint."""
    import lm_eval

    return lm_eval.simple_evaluate(
        model=model,
        **model_kwargs,
        tasks=tasks,
        task_manager=task_manager(),
        limit=limit,
        bootstrap_iters=0,
        log_samples=True,
        use_cache=lm_eval_cache(cache_dir, checkpoint),
    )
