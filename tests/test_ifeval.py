"""IFEval: official-format rows, lm-eval's own ifeval task and checkers run through moegate's backend
(chat template applied), scored per item; a scripted backend that obeys (or breaks) every instruction
must score 1 (or 0) on every row."""

import json

import pytest

from harness.benchmarks import tasks
from harness.data import ifeval
from harness.data.records import DataFormatError
from harness.generate.cached import CachedBackend
from harness.measure.tasks import answer
from harness.models.loading import load_tokenizer, resolve
from harness.models.registry import FIXTURES_DIR, get_spec
from tests.generation_double import ScriptedBackend

DATA = FIXTURES_DIR / "tiny-moe" / "data"


def _response(row: dict, obey: bool) -> str:
    """An answer that satisfies (or violates) the row's single instruction."""
    kind, kw = row["instruction_id_list"][0], row["kwargs"][0]
    if kind == "punctuation:no_comma":
        return "A calm country with one capital" if obey else "A calm country, with one capital"
    if kind == "keywords:existence":
        return f"Its capital is {kw['keywords'][0]}" if obey else "Its capital is unknown"
    if kind == "keywords:forbidden_words":
        return "A small country" if obey else f"A small country near {kw['forbidden_words'][0]}"
    if kind == "length_constraints:number_words":
        return "Short answer" if obey else " ".join(["word"] * 40)
    assert kind == "startend:end_checker"
    return f"They pay with {kw['end_phrase']}" if obey else "They pay with shells"


@pytest.mark.parametrize("obey", [True, False])
def test_lm_eval_checkers_score_scripted_answers(obey):
    path = DATA / "general" / "ifeval_test.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    items = tasks()["ifeval"].load(path)
    double = ScriptedBackend(load_tokenizer(resolve("tiny-moe").path), {r["prompt"]: _response(r, obey) for r in rows})
    run = answer(tasks()["ifeval"], items, CachedBackend(double, None))
    assert [o["value"] for o in run.outputs] == [1.0 if obey else 0.0] * len(rows)
    assert all(p.startswith("<|im_start|>user\nTell me about") for p in double.seen)  # the chat template was applied
    assert {r["instruction_id_list"][0] for r in rows} == {
        "punctuation:no_comma",
        "keywords:existence",
        "keywords:forbidden_words",
        "length_constraints:number_words",
        "startend:end_checker",
    }


def test_malformed_rows_name_file_line_and_field(tmp_path):
    bad = tmp_path / "ifeval.jsonl"
    bad.write_text(
        json.dumps({"key": 1, "prompt": "Say hi.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": []})
        + "\n"
    )
    with pytest.raises(DataFormatError, match=r"ifeval.jsonl.*line 1.*kwargs"):
        ifeval.load(bad)
    skipped: list[str] = []
    assert ifeval.load(bad, skipped=skipped) == [] and len(skipped) == 1


def test_embedded_model_skips_ifeval_with_a_reason():
    assert "never trained" in get_spec("tiny-moe").skip_tasks["ifeval"]
