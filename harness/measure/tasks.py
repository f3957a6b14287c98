"""Gate tasks: a dataset, its official prompt, and the request each item makes.

Registered like lm-eval tasks: one ``TaskSpec`` per name in ``TASKS``. A task turns dataset records
into ``Item``s; the backend answers them (greedy generation, or argmax log-likelihood over
``choices``); checks (``harness.measure.checks``) score the answers item by item.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.data import gsm8k, humaneval, ifeval, mcq, medhalt, medinst, multi_news, multi_xscience, pubmedqa, rct
from harness.data.prompts import medhalt as medhalt_prompts
from harness.data.prompts import multiple_choice, summarization
from harness.data.prompts.instruction import instruction_prompt
from harness.generate.base import chat_prompt, choose_many
from harness.generate.cached import CachedBackend
from harness.measure.locate import dataset_path
from harness.metrics import code_exec


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
class TaskSpec:
    name: str
    dataset: str
    domain: str  # biomedical | general
    request: str  # generate | choice | lm_eval (an lm-eval task run through the backend)
    load: Callable[[Path], list[Item]]
    max_new_tokens: int = 256
    description: str = ""
    max_model_len: int = 4096  # prompt + generation, as the study's vLLM runs (8192 for Multi-News+)
    executes_code: bool = False  # scoring runs model-written code (needs HF_ALLOW_CODE_EVAL=1)


@dataclass
class TaskRun:
    """A task answered by one checkpoint: ``outputs[i]`` is item i's text, or its chosen index."""

    task: TaskSpec
    items: list[Item]
    outputs: list = field(default_factory=list)


def _medhalt(task: str) -> Callable[[Path], list[Item]]:
    def load(path: Path) -> list[Item]:
        return [
            Item(r.id, medhalt_prompts.build_prompt(task, r.question, r.options), r.correct_answer)
            for r in medhalt.load(task, path)
        ]

    return load


def _rct(path: Path) -> list[Item]:
    items = []
    for r in rct.load(path):
        source = summarization.rct_source_block(r.review_id, r.articles)
        items.append(Item(r.review_id, summarization.rct_prompt(source), r.target, source))
    return items


def _news(path: Path) -> list[Item]:
    return [
        Item(str(c.idx), summarization.news_prompt(c.documents), c.summary, "\n\n".join(c.documents))
        for c in multi_news.load(path).clusters
    ]


def _xscience(path: Path) -> list[Item]:
    """The study's Multi-XScience: MedINST32-style input (abstract + references) under its instruction."""
    return [
        Item(
            r.aid,
            instruction_prompt(multi_xscience.INSTRUCTION, r.to_medinst_input()),
            r.related_work,
            r.to_medinst_input(),
        )
        for r in multi_xscience.load(path)
    ]


def _medinst(path: Path) -> list[Item]:
    return [
        Item(f"{r.task or 'medinst'}-{i}", instruction_prompt(r.instruction, r.input), r.output, r.input)
        for i, r in enumerate(medinst.load(path))
    ]


def _medqa(path: Path) -> list[Item]:
    return [
        Item(
            str(i), multiple_choice.medqa_text(r.question, r.choices), choices=multiple_choice.LETTERS, answer=r.answer
        )
        for i, r in enumerate(mcq.load_medqa(path))
    ]


MMLU_SHOTS = 3


def _mmlu(medical: bool) -> Callable[[Path], list[Item]]:
    """MMLU rows of MultiMedQA's six medical subjects (``medical``) or of every other subject, 3-shot:
    the first three rows of the subject's ``dev`` split (``dev.jsonl`` beside ``test.jsonl``), as
    lm-eval's ``first_n`` sampler takes them."""

    def load(path: Path) -> list[Item]:
        dev_path = path.with_name(path.name.replace("test", "dev"))
        if not dev_path.is_file():
            raise FileNotFoundError(f"MMLU {MMLU_SHOTS}-shot needs the dev split beside {path}: {dev_path} not found")
        shots: dict[str, list[tuple[str, tuple[str, ...], int]]] = {}
        for r in mcq.load_mmlu(dev_path):
            shots.setdefault(r.subject, []).append((r.question, r.choices, r.answer))
        items = []
        for i, r in enumerate(mcq.load_mmlu(path)):
            if r.medical != medical:
                continue
            if len(shots.get(r.subject, ())) < MMLU_SHOTS:
                raise ValueError(
                    f"{path}: row {i + 1}: subject {r.subject!r} has {len(shots.get(r.subject, ()))} "
                    f"rows in {dev_path}; {MMLU_SHOTS}-shot needs {MMLU_SHOTS}"
                )
            items.append(
                Item(
                    str(i),
                    multiple_choice.mmlu_prompt(r.subject, r.question, r.choices, shots[r.subject][:MMLU_SHOTS]),
                    choices=multiple_choice.LETTERS,
                    answer=r.answer,
                )
            )
        return items

    return load


def _medmcqa(path: Path) -> list[Item]:
    return [
        Item(
            str(i),
            multiple_choice.medmcqa_text(r.question, r.choices),
            choices=multiple_choice.LETTERS,
            answer=r.answer,
        )
        for i, r in enumerate(mcq.load_medmcqa(path))
    ]


def _pubmedqa(path: Path) -> list[Item]:
    labels = ("yes", "no", "maybe")
    return [
        Item(
            r.pmid, multiple_choice.pubmedqa_text(r.contexts, r.question), choices=labels, answer=labels.index(r.label)
        )
        for r in pubmedqa.load(path)
    ]


def _gsm8k(path: Path) -> list[Item]:
    return [Item(str(i), r.question, r.answer, rows_file=str(path)) for i, r in enumerate(gsm8k.load(path))]


def _ifeval(path: Path) -> list[Item]:
    return [
        Item(str(r.key), r.prompt, "instructions: " + ", ".join(r.instruction_id_list), rows_file=str(path))
        for r in ifeval.load(path)
    ]


def _humaneval(path: Path) -> list[Item]:
    return [Item(r.task_id, r.prompt, r.canonical_solution, rows_file=str(path)) for r in humaneval.load(path)]


def _knowledge(domain: str) -> Callable[[Path], list[Item]]:
    def load(path: Path) -> list[Item]:
        return [
            Item(c.id, c.context, choices=c.choices, answer=c.answer)
            for c in mcq.load_cloze(path)
            if c.domain == domain
        ]

    return load


TASKS: dict[str, TaskSpec] = {
    t.name: t
    for t in (
        TaskSpec(
            "medhalt_fct",
            "medhalt-fct",
            "biomedical",
            "generate",
            _medhalt("fct"),
            96,
            "Med-HALT false confidence test",
        ),
        TaskSpec(
            "medhalt_nota", "medhalt-nota", "biomedical", "generate", _medhalt("nota"), 96, "Med-HALT none of the above"
        ),
        TaskSpec(
            "medhalt_fake", "medhalt-fake", "biomedical", "generate", _medhalt("fake"), 96, "Med-HALT fake questions"
        ),
        TaskSpec("rct", "rct", "biomedical", "generate", _rct, 128, "RCT summaries (study prompt)"),
        TaskSpec(
            "multi_news",
            "multi-news-plus",
            "general",
            "generate",
            _news,
            128,
            "Multi-News+ summaries (study prompt)",
            max_model_len=8192,
        ),
        TaskSpec(
            "multi_xscience",
            "multi-xscience",
            "biomedical",
            "generate",
            _xscience,
            128,
            "Multi-XScience related work (MedINST32 rendering, study instruction)",
        ),
        TaskSpec("medinst", "medinst", "biomedical", "generate", _medinst, 128, "MedINST generation tasks"),
        TaskSpec("medqa", "medqa", "biomedical", "choice", _medqa, description="MedQA 4 options (lm-eval template)"),
        TaskSpec("medmcqa", "medmcqa", "biomedical", "choice", _medmcqa, description="MedMCQA (lm-eval template)"),
        TaskSpec("pubmedqa", "pubmedqa", "biomedical", "choice", _pubmedqa, description="PubMedQA (lm-eval template)"),
        TaskSpec(
            "mmlu",
            "mmlu",
            "general",
            "choice",
            _mmlu(False),
            description="MMLU without the medical subjects (lm-eval template, 3-shot)",
        ),
        TaskSpec(
            "mmlu_medical",
            "mmlu",
            "biomedical",
            "choice",
            _mmlu(True),
            description="MMLU's six MultiMedQA medical subjects (lm-eval template, 3-shot)",
        ),
        TaskSpec(
            "gsm8k",
            "gsm8k",
            "general",
            "lm_eval",
            _gsm8k,
            256,
            "GSM8K 5-shot through lm-eval (official YAML, flexible-extract exact match)",
        ),
        TaskSpec(
            "ifeval",
            "ifeval",
            "general",
            "lm_eval",
            _ifeval,
            128,
            "IFEval 0-shot through lm-eval (official YAML and checkers, chat template, prompt-level strict accuracy)",
        ),
        TaskSpec(
            "humaneval",
            "humaneval",
            "general",
            "lm_eval",
            _humaneval,
            1024,
            "HumanEval 0-shot through lm-eval's humaneval_instruct (official YAML, chat template; tests executed, "
            "pass@1)",
            executes_code=True,
        ),
        TaskSpec(
            "knowledge_bio",
            "knowledge",
            "biomedical",
            "choice",
            _knowledge("biomedical"),
            description="biomedical facts",
        ),
        TaskSpec(
            "knowledge_general", "knowledge", "general", "choice", _knowledge("general"), description="general facts"
        ),
    )
}


def get_task(name: str) -> TaskSpec:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known: {', '.join(TASKS)}")
    return TASKS[name]


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


@dataclass(frozen=True)
class LmEvalTask:
    task: str  # lm-eval's registered name
    metric: str  # per-sample metric read back from lm-eval's samples
    filter: str  # lm-eval filter whose output is scored
    shots: int  # few-shot examples (from a ``train`` file beside the test file)
    chat: bool  # render prompts with the model's chat template (lm-eval's apply_chat_template)


LM_EVAL = {
    "gsm8k": LmEvalTask("gsm8k", "exact_match", "flexible-extract", 5, chat=False),
    "ifeval": LmEvalTask("ifeval", "prompt_level_strict_acc", "none", 0, chat=True),
    "humaneval": LmEvalTask("humaneval_instruct", "pass@1", "create_test", 0, chat=True),
}


def _lm_eval_answers(task: TaskSpec, items: list[Item], backend: CachedBackend) -> list[dict]:
    """Run the official lm-eval task on exactly these items through the backend (and its cache);
    one {value, response} per item."""
    import lm_eval

    from harness.data import lm_eval_tasks
    from harness.generate.lm_eval_adapter import HarnessLM

    spec = LM_EVAL[task.name]
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
