"""Judge plumbing over real HTTP against a scripted test double: retries, caching, parsing, position
swap, DeepEval normalisation, and no API key anywhere in outputs. Agreement statistics vs references."""

from __future__ import annotations

import json

import pytest

from harness.generate.cache import GenerationCache
from harness.judges import agreement
from harness.judges.absolute import hallucination_rate
from harness.judges.cached import CachedJudge
from harness.judges.clients import AnthropicClient, GeminiClient, JudgeError, RetryPolicy, make_client
from harness.judges.pairwise import judge_pair, parse_answer, preference_rates
from tests.judge_double import JudgeDouble

SECRET = "sk-test-SECRET-do-not-leak"
FAST = RetryPolicy(attempts=3, base_delay_s=0.0, max_delay_s=0.0, timeout_s=0.5)
ANSWER = {"q1_hallucinations_more": "B", "q2_omission_more": "B", "q3_repetition_more": "A", "q4_alignment_more": "A"}


@pytest.fixture
def double():
    d = JudgeDouble()
    yield d
    d.close()


def _judge(double, tmp_path, name="judge-m"):
    client = make_client(f"openai-compatible:{name}@{double.url}/v1", FAST)
    return client, CachedJudge(client, GenerationCache(tmp_path / "judge.sqlite"))


def test_retries_on_429_timeout_and_then_caches(double, tmp_path, monkeypatch):
    monkeypatch.setenv("MOEGATE_JUDGE_API_KEY", SECRET)
    double.script = [("status", 429), ("sleep", 1.0, "late"), "hello"]
    client, judge = _judge(double, tmp_path)
    assert judge.complete("sys", "user") == "hello"
    assert client.calls == 3 and len(double.requests) == 3  # 429, timeout, success (the late answer is dropped)
    assert double.requests[-1]["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert double.requests[-1]["body"]["temperature"] == 0
    assert judge.complete("sys", "user") == "hello" and judge.hits == 1 and len(double.requests) == 3


def test_gives_up_after_bounded_attempts_without_leaking_the_key(double, tmp_path, monkeypatch):
    monkeypatch.setenv("MOEGATE_JUDGE_API_KEY", SECRET)
    double.script = [("status", 503)] * 3
    client, judge = _judge(double, tmp_path)
    with pytest.raises(JudgeError, match="gave up after 3 attempts") as err:
        judge.complete("s", "u")
    assert SECRET not in str(err.value) and SECRET not in repr(client)
    double.script = [("status", 401)]
    with pytest.raises(JudgeError, match="HTTP 401"):
        judge.complete("s", "other")
    assert client.calls == 4  # a 401 is not retried


def test_pairwise_asks_both_orders_maps_back_and_counts_disagreement(double, tmp_path, monkeypatch):
    monkeypatch.setenv("MOEGATE_JUDGE_API_KEY", SECRET)
    # order 1 (A=baseline): B (pruned) hallucinates more; order 2 (A=pruned): first an invalid answer,
    # then after the retry note, "B" = baseline hallucinates more -> a position-bias disagreement
    swapped = dict(ANSWER, q1_hallucinations_more="B")
    double.script = ["```json\n" + json.dumps(ANSWER) + "\n```", "I think A.", json.dumps(swapped)]
    _, judge = _judge(double, tmp_path)
    result = judge_pair(
        judge, "Dose 3.8 ng/ml in 179 patients.", "3.8 ng/ml, 179 patients.", "3.8 mg/ml, 70-9 patients."
    )
    assert result.baseline_first["q1_hallucinations_more"] == "pruned"
    assert result.pruned_first["q1_hallucinations_more"] == "baseline"
    assert "Your previous response was invalid" in double.requests[2]["body"]["messages"][1]["content"]
    prompt_1, prompt_2 = (r["body"]["messages"][1]["content"] for r in double.requests[:2])
    assert prompt_1.index("3.8 ng/ml, 179") < prompt_1.index("3.8 mg/ml") and prompt_2.index(
        "3.8 mg/ml"
    ) < prompt_2.index("3.8 ng/ml, 179")
    rates = preference_rates([result])
    assert (
        rates["q1_hallucinations_more"]["pruned_rate"] == 0.5
        and rates["q1_hallucinations_more"]["order_disagreements"] == 1
    )
    assert rates["q3_repetition_more"]["pruned_rate"] == 0.5  # A both times: pure position bias
    out = json.dumps([result.__dict__, rates])
    assert SECRET not in out


def test_unparseable_answers_are_recorded_not_guessed(double, tmp_path):
    double.default = "no json here"
    _, judge = _judge(double, tmp_path)
    result = judge_pair(judge, "doc", "a", "b", retries=1)
    assert result.baseline_first is None and result.pruned_first is None and len(double.requests) == 4
    assert preference_rates([result])["q1_hallucinations_more"] == {
        "pruned_rate": None,
        "answers": 0,
        "order_disagreements": 0,
        "pairs_with_both_orders": 0,
        "unparseable": 2,
    }
    assert parse_answer('{"q1_hallucinations_more": "tie"}') is None


@pytest.mark.parametrize("verdict,expected", [("no", 1.0), ("yes", 0.0)])
def test_deepeval_hallucination_is_normalised_higher_is_worse(double, tmp_path, verdict, expected):
    double.default = json.dumps({"verdicts": [{"verdict": verdict, "reason": "r"}]})
    _, judge = _judge(double, tmp_path)
    result = hallucination_rate(judge, "The dose was 3.8 ng/ml.", "The dose was 3.8 mg/ml.", "Summarise.")
    assert result.error is None and result.hallucination == expected
    assert "3.8 mg/ml" in double.requests[0]["body"]["messages"][1]["content"]


def test_deepeval_unusable_answer_is_an_error_not_a_score(double, tmp_path):
    double.default = "sorry"
    _, judge = _judge(double, tmp_path)
    result = hallucination_rate(judge, "src", "sum", "Summarise.")
    assert result.hallucination is None and result.error


def test_anthropic_and_gemini_request_shapes(double, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)
    double.default = "ok"
    assert AnthropicClient("claude-x", double.url, FAST).complete("sys", "hi") == "ok"
    assert GeminiClient("gem-x", double.url, FAST).complete("sys", "hi") == "ok"
    anthropic, gemini = double.requests
    assert anthropic["path"] == "/messages" and anthropic["body"]["system"] == "sys"
    assert anthropic["headers"]["x-api-key"] == SECRET
    assert gemini["path"] == "/models/gem-x:generateContent" and gemini["headers"]["x-goog-api-key"] == SECRET
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(JudgeError, match="set ANTHROPIC_API_KEY"):
        AnthropicClient("claude-x", double.url, FAST).complete("s", "u")
    with pytest.raises(ValueError, match="PROVIDER:MODEL"):
        make_client("nope")


def test_fleiss_kappa_worked_example_and_cohen_against_sklearn():
    # Fleiss (1971) style worked example (Wikipedia "Fleiss' kappa"): 10 items, 14 raters, 5 categories -> 0.210
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    ratings = [[k for k, n in enumerate(row) for _ in range(n)] for row in table]
    assert agreement.fleiss_kappa(ratings) == pytest.approx(0.210, abs=5e-4)
    a, b = ["A", "A", "B", "B", "A", "B"], ["A", "B", "B", "B", "A", "A"]
    assert agreement.cohen_kappa(a, b) == pytest.approx(1 / 3)  # po = 4/6, pe = 1/2
    assert set(agreement.pairwise_cohen({"x": a, "y": b, "z": a})) == {"x vs y", "x vs z", "y vs z"}


def test_gate_judged_checks_through_the_double(double, tmp_path):
    from harness.gate.session import GateConfig, GateSession
    from harness.generate.backends import BackendOptions

    def answer(body):
        prompt = body["messages"][1]["content"]
        if "<<<DOC" in prompt:  # pairwise: always "A" -> pure position bias, cancelled by the swap
            return json.dumps({q: "A" for q in ANSWER})
        return json.dumps({"verdicts": [{"verdict": "yes", "reason": "supported"}]})

    double.default = answer
    config = GateConfig(
        methods=["reap"],
        ratios=[0.125],
        limit=4,
        variants_dir=tmp_path / "v",
        baseline_dir=tmp_path / "b",
        backend=BackendOptions(cache_dir=tmp_path / "c"),
        judges=[f"openai-compatible:judge-m@{double.url}/v1", f"openai-compatible:judge-n@{double.url}/v1"],
    )
    session = GateSession(config, {"rct.pairwise_hallucination", "rct.hallucination"})
    spec = config.specs()[0]
    pairwise = session.check(spec, "rct.pairwise_hallucination")
    assert pairwise.passed and pairwise.n == 4 and pairwise.value == 0.5 and pairwise.baseline == 0.5
    assert pairwise.extra["per_judge_mean"] == {"openai-compatible:judge-m": 0.5, "openai-compatible:judge-n": 0.5}
    assert (
        pairwise.extra["majority_rate"] == 0.0
        and pairwise.extra["fleiss_kappa"] == 1.0
        and list(pairwise.extra["cohen_kappa"]) == ["openai-compatible:judge-m vs openai-compatible:judge-n"]
    )
    absolute = session.check(spec, "rct.hallucination")
    assert absolute.passed and absolute.value == 0.0 and absolute.n == 4
    # the judgements as records: 4 items x 2 orders (pairwise) + 4 (absolute), read back by `agreement`
    from harness.cli.agreement_cmd import agreement_table
    from harness.judges.records import load_records
    from harness.report import verdicts

    verdicts.finish([pairwise.as_dict(), absolute.as_dict()], tmp_path / "r" / "verdict.json", None)
    records = load_records(tmp_path / "r" / "judgements.jsonl")
    assert [r.kind for r in records].count("relative") == 8 and [r.kind for r in records].count("absolute") == 4
    assert {r.ratio for r in records} == {0.125} and records[0].document_id.startswith("rct:")
    pooled = next(
        r
        for r in agreement_table(records)
        if r["kind"] == "relative" and r["dataset"] == "*" and r["question"] == "*" and r["window"] == "low"
    )
    assert pooled["units"] == 32 and pooled["mean_cohen_kappa"] == 1.0  # both judges always answer "A"
    assert "## Judge agreement" in (tmp_path / "r" / "summary.md").read_text()
    assert "records" not in (tmp_path / "r" / "verdict.json").read_text()
    calls = len(double.requests)
    session.check(spec, "rct.pairwise_hallucination")  # judged again: every call comes from the judge cache
    assert len(double.requests) == calls


def test_repeated_judging_measures_noise(double, tmp_path):
    """A judge that flips between calls: repeats are separate (cached) calls; items get pass rates."""
    from harness.gate.session import GateConfig, GateSession
    from harness.generate.backends import BackendOptions

    flip = iter(range(10_000))

    def answer(body):
        verdict = "no" if next(flip) % 2 else "yes"
        return json.dumps({"verdicts": [{"verdict": verdict, "reason": "r"}]})

    double.default = answer
    config = GateConfig(
        methods=["reap"],
        ratios=[0.125],
        limit=2,
        variants_dir=tmp_path / "v",
        baseline_dir=tmp_path / "b",
        backend=BackendOptions(cache_dir=tmp_path / "c"),
        judges=[f"openai-compatible:judge-m@{double.url}/v1"],
        judge_repeats=2,
    )
    verdict = GateSession(config, {"rct.hallucination"}).check(config.specs()[0], "rct.hallucination")
    assert verdict.extra["per_item_pass_rate"] == [0.5, 0.5] and verdict.extra["unstable_items"] == 2
    assert verdict.value == 0.5


def _relative(doc, ratio, answers, dataset="RCT"):
    return {
        "document_id": doc,
        "dataset": dataset,
        "pruning_ratio": ratio,
        "judge_model_answers": {
            j: {"resolved_answers": {"q1_hallucinations_more": a, "q2_omission_more": a}} for j, a in answers.items()
        },
    }


def test_agreement_cli_pools_questions_by_ratio_window(tmp_path):
    """Records we write in the study's layout: kappa by window equals a hand computation; absolute
    records with a judge's null score drop that unit; a malformed record names the file and record."""
    from harness.cli.agreement_cmd import agreement_table
    from harness.cli.main import main
    from harness.judges.records import load_records

    rows = [
        _relative("rct:1", 0.125, {"a": "pruned", "b": "pruned"}),
        _relative("rct:2", 0.25, {"a": "vanilla", "b": "pruned"}),
        _relative("rct:3", 0.25, {"a": "vanilla", "b": "vanilla"}),
        _relative("rct:4", 0.75, {"a": "pruned", "b": "pruned"}),
        _relative("rct:5", 0.875, {"a": "vanilla", "b": "vanilla"}),
    ]
    path = tmp_path / "relative.json"
    path.write_text(json.dumps(rows))
    table = {(r["question"], r["window"]): r for r in agreement_table(load_records(path)) if r["dataset"] == "*"}
    low = table[("*", "low")]  # 3 records x 2 questions: a = P V V (twice), b = P P V (twice)
    assert low["units"] == 6 and low["mean_cohen_kappa"] == pytest.approx(
        agreement.cohen_kappa(list("PVVPVV"), list("PPVPPV"))
    )
    assert table[("*", "extreme")]["mean_cohen_kappa"] == 1.0 and ("*", "moderate") not in table
    absolute = tmp_path / "absolute.jsonl"
    absolute.write_text(
        "\n".join(
            json.dumps(
                {
                    "document_id": f"rct:{i}",
                    "dataset": "RCT",
                    "pruning_ratio": 0.5,
                    "source_model_absolute_judgement": {"a": {"score": 0.0}, "b": {"score": s}},
                    "pruned_model_absolute_judgement": {"a": {"score": 1.0}, "b": {"score": 1.0}},
                }
            )
            for i, s in enumerate([0.0, None])
        )
        + "\n"
    )
    pooled = next(r for r in agreement_table(load_records(absolute)) if r["dataset"] == "*" and r["window"] == "*")
    assert pooled["units"] == 3 and pooled["incomplete_units"] == 1 and pooled["mean_cohen_kappa"] == 1.0
    assert main(["agreement", str(path), str(absolute)]) == 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([rows[0], {"document_id": "x", "dataset": "RCT", "pruning_ratio": 2}]))
    with pytest.raises(ValueError, match=r"bad.json: record 2: field 'pruning_ratio'"):
        load_records(bad)
    assert (
        agreement.window(0.375) == "moderate"
        and agreement.window(0.625) == "extreme"
        and agreement.window(0.3) == "between"
    )
