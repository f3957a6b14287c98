"""HumanEval: official-format rows, lm-eval's humaneval_instruct task (prompt, generation prefix, stop
strings, fence handling) with moegate's offline execution metric; a scripted backend that writes the
canonical solution must pass every problem, one that writes a wrong body must pass none."""

import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.benchmarks import tasks
from harness.data import humaneval
from harness.data.records import DataFormatError
from harness.generate.cached import CachedBackend
from harness.measure import lm_eval_tasks
from harness.measure.tasks import answer
from harness.metrics import code_exec
from harness.models.loading import load_tokenizer, resolve
from harness.models.registry import FIXTURES_DIR, get_spec
from tests.generation_double import ScriptedBackend

PATH = FIXTURES_DIR / "tiny-moe" / "data" / "general" / "humaneval_test.jsonl"


@pytest.mark.parametrize("correct", [True, False])
def test_scripted_solutions_pass_exactly_when_correct(correct, monkeypatch):
    monkeypatch.setenv(code_exec.ALLOW_ENV, "1")
    rows = [json.loads(line) for line in PATH.read_text().splitlines()]
    # the response continues the task's generation prefix, which opened a ```python fence
    script = {r["prompt"]: (r["canonical_solution"] if correct else "    return None\n") + "```\nDone." for r in rows}
    double = ScriptedBackend(load_tokenizer(resolve("tiny-moe").path), script)
    run = answer(tasks()["humaneval"], tasks()["humaneval"].load(PATH), CachedBackend(double, None))
    assert [o["value"] for o in run.outputs] == [1.0 if correct else 0.0] * len(rows)
    assert all(p.startswith("<|im_start|>user\nWrite a solution to the following problem") for p in double.seen)
    assert all("<|im_start|>assistant\nHere is the completed function:\n```python\n" in p for p in double.seen)
    assert "```" not in run.outputs[0]["response"]  # the program stops at the closing fence


def test_execution_needs_explicit_permission(monkeypatch):
    monkeypatch.delenv(code_exec.ALLOW_ENV, raising=False)
    with pytest.raises(PermissionError, match=code_exec.ALLOW_ENV):
        code_exec.passes("pass")
    items = tasks()["humaneval"].load(PATH)
    with pytest.raises(PermissionError):
        answer(tasks()["humaneval"], items, CachedBackend(ScriptedBackend(None, {}), None))


@pytest.mark.parametrize(
    "program, expected",
    [
        ("assert 1 + 1 == 2", True),
        ("assert 1 + 1 == 3", False),
        ("raise SystemExit(0)", True),
        ("import os\nassert 'HF_ALLOW_CODE_EVAL' in os.environ", False),  # the environment is not inherited
        ("while True:\n    pass", False),  # killed at the timeout, not hung
        ("def f(:\n    pass", False),
    ],
)
def test_program_outcomes(program, expected, monkeypatch):
    monkeypatch.setenv(code_exec.ALLOW_ENV, "1")
    assert code_exec.passes(program, timeout=1.0) is expected


def test_programs_run_in_a_scratch_directory(monkeypatch, tmp_path):
    monkeypatch.setenv(code_exec.ALLOW_ENV, "1")
    monkeypatch.chdir(tmp_path)
    assert code_exec.passes("open('left_behind.txt', 'w').write('x')")
    assert list(tmp_path.iterdir()) == []


@given(st.lists(st.booleans(), min_size=1, max_size=8), st.data())
def test_pass_at_k_matches_enumeration_of_subsets(outcomes, data):
    """Unbiased pass@k = share of all k-subsets of the n samples that contain a passing one."""
    n, c = len(outcomes), sum(outcomes)
    k = data.draw(st.integers(1, n))
    subsets = list(itertools.combinations(outcomes, k))
    assert code_exec.estimate_pass_at_k(n, c, k) == pytest.approx(sum(any(s) for s in subsets) / len(subsets))


def test_pass_at_k_hook_scores_candidates_per_reference(monkeypatch):
    monkeypatch.setenv(code_exec.ALLOW_ENV, "1")
    test = "def check(f):\n    assert f(2) == 4\ncheck(double)"
    good, bad = "def double(x):\n    return 2 * x", "def double(x):\n    return x + 1"
    assert code_exec.pass_at_k([test, test], [[good, bad], [bad, bad]], k=[1, 2]) == {"pass@1": 0.25, "pass@2": 0.5}


def test_official_task_config_is_built_offline_with_moegate_hooks():
    cfg = lm_eval_tasks.official_config("humaneval_instruct")
    assert cfg["metric_list"][0]["metric"] is code_exec.pass_at_k
    assert cfg["filter_list"][0]["filter"][0]["filter_fn"] is code_exec.build_predictions_instruct
    assert cfg["gen_prefix"].startswith("Here is the completed function:")  # lm-eval's own definition kept
    assert cfg["generation_kwargs"]["until"] == ["\nclass", "\ndef", "\n#", "\nif", "\nprint"]


def test_an_unknown_hook_is_refused(monkeypatch):
    monkeypatch.setitem(lm_eval_tasks.OFFLINE_HOOKS, "humaneval_instruct", {"utils.pass_at_k": code_exec.pass_at_k})
    with pytest.raises(ValueError, match="build_predictions_instruct.*no offline equivalent"):
        lm_eval_tasks.official_config("humaneval_instruct")


def test_malformed_rows_name_file_line_and_field(tmp_path):
    bad = tmp_path / "humaneval.jsonl"
    row = {
        "task_id": "HumanEval/0",
        "prompt": "def f(x):\n",
        "canonical_solution": "    return x\n",
        "test": "def check(candidate):\n    assert candidate(1) == 1\n",
        "entry_point": "g",
    }
    bad.write_text(json.dumps(row) + "\n")
    with pytest.raises(DataFormatError, match=r"humaneval.jsonl.*line 1.*prompt"):
        humaneval.load(bad)
    skipped: list[str] = []
    assert humaneval.load(bad, skipped=skipped) == [] and len(skipped) == 1


def test_embedded_model_skips_humaneval_with_a_reason():
    assert "never trained on Python" in get_spec("tiny-moe").skip_tasks["humaneval"]


def test_the_gate_answers_only_tasks_it_can_check(monkeypatch, tmp_path):
    """Skipped checks cost nothing: their tasks are not generated for the baseline or the variants."""
    from harness.gate.session import GateConfig, GateSession

    session = GateSession(
        GateConfig(baseline_dir=tmp_path), {"humaneval.pass_at_1", "medhalt_nota.accuracy", "ifeval.prompt_strict"}
    )
    assert session.tasks("tiny-moe") == ["medhalt_nota"]  # the embedded model skips IFEval and HumanEval
    monkeypatch.delenv(code_exec.ALLOW_ENV, raising=False)
    assert session.tasks("/checkpoints/any-moe") == ["ifeval", "medhalt_nota"]
    assert code_exec.ALLOW_ENV in session.skip_reason("/checkpoints/any-moe", "humaneval.pass_at_1")
    monkeypatch.setenv(code_exec.ALLOW_ENV, "1")
    assert session.tasks("/checkpoints/any-moe") == ["humaneval", "ifeval", "medhalt_nota"]
