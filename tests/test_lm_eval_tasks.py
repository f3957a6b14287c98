"""lm-eval tasks on local files: official templates kept, and results agree with our own backend."""

import json

import pytest

pytest.importorskip("lm_eval", reason="lm-eval is in the 'eval' extra")

from harness.data import mcq  # noqa: E402
from harness.data.prompts import multiple_choice  # noqa: E402
from harness.measure import lm_eval_tasks  # noqa: E402
from harness.models.registry import FIXTURES_DIR  # noqa: E402

DATA = FIXTURES_DIR / "tiny-moe" / "data"


def _task(cfg):
    return next(iter(lm_eval_tasks.task_manager().load([cfg])["tasks"].values()))


def test_local_medqa_uses_the_official_preprocessor_and_our_template_matches_it():
    cfg = lm_eval_tasks.local_task("medqa_4options", {"test": DATA / "multimedqa" / "medqa_4options_test.jsonl"})
    assert cfg["dataset_path"] == "json" and callable(cfg["doc_to_text"])
    task = _task(cfg)
    doc = next(iter(task.test_docs()))
    assert task.doc_to_text(doc) == multiple_choice.medqa_text(doc["sent1"], [doc[f"ending{i}"] for i in range(4)])
    assert task.doc_to_choice(doc) == list(multiple_choice.LETTERS)


def test_local_medmcqa_scores_the_validation_split_with_our_template():
    path = DATA / "multimedqa" / "medmcqa_validation.jsonl"
    task = _task(lm_eval_tasks.local_task("medmcqa", {"validation": path}))
    docs = list(task.validation_docs())
    items = mcq.load_medmcqa(path)
    assert len(docs) == len(items) == 60
    for doc, item in zip(docs[:5], items):
        assert task.doc_to_text(doc) == multiple_choice.medmcqa_text(item.question, item.choices)
        assert task.doc_to_target(doc) == item.answer and task.doc_to_choice(doc) == list(multiple_choice.LETTERS)


def test_medmcqa_rows_are_validated(tmp_path):
    from harness.data.records import DataFormatError

    bad = tmp_path / "medmcqa.jsonl"
    bad.write_text('{"question": "q", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": 4}\n')
    with pytest.raises(DataFormatError, match=r"line 1.*answer"):
        mcq.load_medmcqa(bad)


def test_local_mmlu_keeps_template_and_few_shot_split():
    files = {"test": DATA / "general" / "mmlu_test.jsonl", "dev": DATA / "general" / "mmlu_dev.jsonl"}
    cfg = lm_eval_tasks.local_task("mmlu_anatomy", files, alias="synthetic_mmlu", num_fewshot=3)
    assert cfg["fewshot_split"] == "dev" and cfg["num_fewshot"] == 3 and cfg["task"] == "synthetic_mmlu"
    task = _task(cfg)
    doc = next(iter(task.test_docs()))
    assert task.doc_to_text(doc) == multiple_choice.mmlu_text(doc["question"], doc["choices"])


def test_our_mmlu_three_shot_prompt_equals_lm_evals_fewshot_context(tmp_path):
    """The gate's MMLU items render exactly what lm-eval's mmlu_anatomy builds (description, first three
    dev rows answered, then the question), given a dev split holding only that subject's rows."""
    from harness.benchmarks import tasks

    rows = [json.loads(line) for line in (DATA / "general" / "mmlu_test.jsonl").read_text().splitlines()]
    dev = [json.loads(line) for line in (DATA / "general" / "mmlu_dev.jsonl").read_text().splitlines()]
    (tmp_path / "mmlu_test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows if r["subject"] == "anatomy"))
    anatomy_dev = [r for r in dev if r["subject"] == "anatomy"]
    (tmp_path / "mmlu_dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in anatomy_dev))
    task = _task(
        lm_eval_tasks.local_task(
            "mmlu_anatomy", {"test": tmp_path / "mmlu_test.jsonl", "dev": tmp_path / "mmlu_dev.jsonl"}, num_fewshot=3
        )
    )
    ours = tasks()["mmlu_medical"].load(tmp_path / "mmlu_test.jsonl")
    docs = list(task.test_docs())
    assert len(ours) == len(docs) == 10
    for item, doc in zip(ours, docs):
        assert item.prompt == task.fewshot_context(doc, num_fewshot=3)
    (tmp_path / "mmlu_dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in anatomy_dev[:2]))
    with pytest.raises(ValueError, match="subject 'anatomy' has 2 rows"):
        tasks()["mmlu_medical"].load(tmp_path / "mmlu_test.jsonl")


def test_pubmedqa_rows_and_missing_files(tmp_path):
    rows = lm_eval_tasks.pubmedqa_rows(DATA / "pubmedqa", tmp_path / "pubmedqa.jsonl")
    task = _task(lm_eval_tasks.local_task("pubmedqa", {"test": rows}))
    doc = next(iter(task.test_docs()))
    assert task.doc_to_text(doc) == multiple_choice.pubmedqa_text(doc["CONTEXTS"], doc["QUESTION"])
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        lm_eval_tasks.local_task("gsm8k", {"test": tmp_path / "nope.jsonl"})
    with pytest.raises(ValueError, match="no YAML-defined task"):
        lm_eval_tasks.official_config("no_such_task")


def test_lm_eval_accuracy_equals_our_backend_on_the_same_items(tmp_path):
    from harness.generate.base import choose_many
    from harness.generate.transformers_backend import TransformersBackend
    from harness.models.fingerprint import checkpoint_fingerprint
    from harness.models.loading import load_model, load_tokenizer, resolve

    model_ref = resolve("tiny-moe")
    model, tok = load_model(model_ref.path), load_tokenizer(model_ref.path)
    path = DATA / "multimedqa" / "medqa_4options_test.jsonl"
    out = lm_eval_tasks.evaluate(
        model,
        tok,
        [lm_eval_tasks.local_task("medqa_4options", {"test": path})],
        limit=24,
        checkpoint="f" * 64,
        cache_dir=tmp_path,
    )
    assert list((tmp_path / "lm-eval").glob("f" * 32 + "*"))  # requests cached under the checkpoint's hash
    lm_acc = out["results"]["medqa_4options"]["acc,none"]
    items = mcq.load_medqa(path)[:24]
    backend = TransformersBackend(model, tok, checkpoint_fingerprint(model_ref.path))
    picks = choose_many(
        backend, [(multiple_choice.medqa_text(i.question, i.choices), multiple_choice.LETTERS) for i in items]
    )
    ours = sum(p == i.answer for p, i in zip(picks, items)) / len(items)
    assert lm_acc == pytest.approx(ours)
    assert len(out["samples"]["medqa_4options"]) == 24


def test_generation_task_gsm8k_runs_from_local_files_with_official_filters():
    from harness.models.loading import load_model, load_tokenizer, resolve

    files = {"train": DATA / "general" / "gsm8k_train.jsonl", "test": DATA / "general" / "gsm8k_test.jsonl"}
    cfg = lm_eval_tasks.local_task("gsm8k", files, num_fewshot=5)
    assert cfg["output_type"] == "generate_until" and cfg["fewshot_split"] == "train"
    assert any("####" in str(f) for f in cfg["filter_list"])  # the official answer-extraction filter is kept
    model_ref = resolve("tiny-moe")
    cfg["generation_kwargs"] = dict(cfg.get("generation_kwargs") or {}, max_gen_toks=24)
    out = lm_eval_tasks.evaluate(load_model(model_ref.path), load_tokenizer(model_ref.path), [cfg], limit=3)
    metrics = out["results"]["gsm8k"]
    assert 0.0 <= metrics["exact_match,strict-match"] <= 1.0
    assert {s["doc_id"] for s in out["samples"]["gsm8k"]} == {0, 1, 2}  # one entry per filter and document


def test_lm_eval_through_the_harness_backend_uses_its_cache(tmp_path):
    """lm-eval's generate_until through HarnessLM: stop strings cut, greedy enforced, answers cached."""
    from types import SimpleNamespace

    from harness.generate.backends import BackendOptions, open_backend
    from harness.generate.lm_eval_adapter import HarnessLM
    from harness.models.loading import resolve

    req = lambda ctx, **kw: SimpleNamespace(args=(ctx, kw))  # noqa: E731
    with open_backend(resolve("tiny-moe").path, options=BackendOptions(cache_dir=tmp_path)) as backend:
        lm = HarnessLM(backend)
        prompt = "The capital of"  # a free-text continuation: "Answer:" prompts now get a single letter
        full = backend.generate([prompt], 24, chat=False)[0]
        assert len(full) > 6, f"the stop string needs a longer continuation than {full!r}"
        cut = lm.generate_until([req(prompt, until=[full[3:6]], max_gen_toks=24)])[0]
        assert cut == full[: full.find(full[3:6])] and backend.hits == 1
        with pytest.raises(ValueError, match="greedily"):
            lm.generate_until([req("x", do_sample=True)])
        ((ll, greedy),) = lm.loglikelihood([SimpleNamespace(args=("The capital of Varnia is", " Tolk."))])
        assert ll < 0 and greedy is False


def test_gsm8k_rows_are_validated(tmp_path):
    from harness.data import gsm8k
    from harness.data.records import DataFormatError

    bad = tmp_path / "test.jsonl"
    bad.write_text('{"question": "1+1?", "answer": "2"}\n')
    with pytest.raises(DataFormatError, match="line 1: field 'answer'"):
        gsm8k.load(bad)
    assert len(gsm8k.load(DATA / "general" / "gsm8k_test.jsonl")) == 30


def test_a_task_is_found_without_lm_evals_full_index():
    """The manager scoped to the folder that declares a task gives the task lm-eval's full index gives:
    same YAML file, same resolved config."""
    from lm_eval.tasks import TaskManager

    full = TaskManager()
    for task in ("gsm8k", "ifeval", "medqa_4options", "mmlu_anatomy", "pubmedqa", "medmcqa"):
        scoped = lm_eval_tasks.task_manager(task)
        assert len(scoped.all_tasks) < len(full.all_tasks) / 20, task
        assert scoped._entry(task).yaml_path == full._entry(task).yaml_path, task
        assert repr(lm_eval_tasks.official_config(task)) == repr(
            full._factory._load_full_config(full._entry(task), None)
        ), task
