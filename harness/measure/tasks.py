"""Gate tasks: a dataset, its official prompt, and the request each item makes.

A ``TaskSpec`` is declared by its benchmark unit (``harness.benchmarks``). A task turns dataset
records into ``Item``s; the backend answers them (greedy generation, argmax log-likelihood over
``choices``, or lm-eval's own task run through the backend); checks (``harness.measure.checks``) score
the answers item by item.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.data.dataset import DatasetSpec
from harness.generate.base import chat_prompt, choose_many
from harness.generate.cached import CachedBackend
from harness.measure.locate import dataset_path
from harness.metrics import code_exec

Request = Literal["generate", "choice", "lm_eval"]
Domain = Literal["biomedical", "general"]


@dataclass(frozen=True)
class Item:
    id: str
    prompt: str  # user turn (generation) or context (choice)
    reference: str = ""  # gold text or gold answer
    source: str = ""  # the document a summary must stay faithful to
    choices: tuple[str, ...] = ()
    answer: int = -1
    rows_file: str = ""  # lm_eval tasks: the file lm-eval reads the rows from itself (item i = row i)


@dataclass(frozen=True)
class LmEvalTask:
    task: str  # lm-eval's registered name
    metric: str  # per-sample metric read back from lm-eval's samples
    filter: str  # lm-eval filter whose output is scored
    shots: int  # few-shot examples (from a ``train`` file beside the test file)
    chat: bool  # render prompts with the model's chat template (lm-eval's apply_chat_template)


@dataclass(frozen=True)
class TaskSpec:
    name: str
    dataset: DatasetSpec  # where its rows come from (declared by the same benchmark)
    domain: Domain
    request: Request  # generate | choice | lm_eval (an lm-eval task run through the backend)
    load: Callable[[Path], list[Item]]
    max_new_tokens: int = 256
    description: str = ""
    max_model_len: int = 4096  # prompt + generation, as the study's vLLM runs (8192 for Multi-News+)
    executes_code: bool = False  # scoring runs model-written code (needs HF_ALLOW_CODE_EVAL=1)
    grounded: bool = False  # answers are checked against the item's source document (summaries)
    needs_reference: bool = False  # every check scores against the item's reference (gold answer or text)
    judge_instruction: str = ""  # the task's instruction as LLM judges see it (judged checks)
    lm_eval: LmEvalTask | None = None  # request "lm_eval": which lm-eval task and metric

    def __post_init__(self) -> None:
        if (self.request == "lm_eval") != (self.lm_eval is not None):
            raise ValueError(f"task {self.name}: lm_eval is given exactly when request is 'lm_eval'")


@dataclass
class TaskRun:
    """A task answered by one checkpoint: ``outputs[i]`` is item i's text, or its chosen index."""

    task: TaskSpec
    items: list[Item]
    outputs: list = field(default_factory=list)


def load_items(task: TaskSpec, data_dir: Path | None, limit: int | None = None) -> list[Item]:
    items = task.load(dataset_path(task.dataset, data_dir))
    return items[:limit] if limit else items


def check_lengths(task: TaskSpec, items: list[Item], backend: CachedBackend) -> None:
    """Refuse (naming the item) a prompt that leaves no room for the answer within the task's max length:
    nothing is silently truncated."""
    room = task.max_model_len - task.max_new_tokens
    for it in items:
        n = len(
            backend.tokenizer(chat_prompt(backend.tokenizer, it.prompt, backend.chat_kwargs), add_special_tokens=False)[
                "input_ids"
            ]
        )
        if n > room:
            raise ValueError(
                f"{task.name}: item {it.id}: prompt of {n} tokens + {task.max_new_tokens} new tokens "
                f"exceeds the max length {task.max_model_len}; use --limit or shorter sources"
            )


def _lm_eval_answers(task: TaskSpec, items: list[Item], backend: CachedBackend) -> list[dict]:
    """Run the official lm-eval task on exactly these items through the backend (and its cache);
    one {value, response} per item."""
    import lm_eval

    from harness.generate.lm_eval_adapter import HarnessLM
    from harness.measure import lm_eval_tasks

    spec = task.lm_eval
    assert spec is not None, "TaskSpec guarantees lm_eval for request 'lm_eval'"
    if not items or not items[0].rows_file:
        raise ValueError(f"{task.name}: items carry no rows file for lm-eval to read")
    test = Path(items[0].rows_file)
    files = {"test": test}
    if spec.shots:
        files["train"] = test.with_name(test.name.replace("test", "train"))
    cfg = lm_eval_tasks.local_task(spec.task, files, num_fewshot=spec.shots)
    cfg["generation_kwargs"] = dict(cfg.get("generation_kwargs") or {}, max_gen_toks=task.max_new_tokens)
    if task.executes_code:
        code_exec.require_allowed()
    out = lm_eval.simple_evaluate(
        model=HarnessLM(backend),
        tasks=[cfg],
        task_manager=lm_eval_tasks.task_manager(),
        limit=len(items),
        bootstrap_iters=0,
        log_samples=True,
        apply_chat_template=spec.chat,
        confirm_run_unsafe_code=task.executes_code,
    )
    by_doc = {int(s["doc_id"]): s for s in out["samples"][spec.task] if s["filter"] == spec.filter}
    return [
        {"value": float(by_doc[i][spec.metric]), "response": _first(by_doc[i]["filtered_resps"][0])}
        for i in range(len(items))
    ]


def _first(response: Any) -> str:
    """A filter's output for one sample: a string, or the candidates list of code tasks (one under greedy)."""
    return str(response[0] if isinstance(response, list) else response)


def answer(task: TaskSpec, items: list[Item], backend: CachedBackend) -> TaskRun:
    """Ask the backend every item (through its cache)."""
    outputs: list[Any]  # texts; a letter-choice task's per-choice log-likelihoods; lm-eval's own rows
    if task.request == "generate":
        check_lengths(task, items, backend)
        outputs = backend.generate([it.prompt for it in items], task.max_new_tokens)
    elif task.request == "lm_eval":
        outputs = _lm_eval_answers(task, items, backend)
    else:
        outputs = choose_many(backend, [(it.prompt, it.choices) for it in items])
    return TaskRun(task, items, outputs)
