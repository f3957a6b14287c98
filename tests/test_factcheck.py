"""Deterministic fact checks: the paper's table-3 failures, clean cases, text statistics, CLI."""

import json
import re
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.data.prompts.summarization import RCT_INSTRUCTION
from harness.metrics import factcheck as fc

SOURCE = "We randomized 179 patients. Serum levels reached 3.8 ng/ml after 12 weeks (p=0.02); 1,200 mg daily."


def kinds(summary, **kw):
    return [(f.kind, f.span) for f in fc.check(summary, SOURCE, **kw).findings]


def test_unit_swap_is_a_unit_mismatch():
    assert kinds("Levels reached 3.8 mg/ml.") == [("unit_mismatch", "3.8 mg/ml")]


def test_altered_patient_count():
    assert kinds("In 70-9 randomized patients.") == [("number_not_in_source", "70"), ("number_not_in_source", "9")]


def test_p_value_with_a_leading_dot():
    """ ".0366" was invisible to the number check (a Random-75% summary wrote "p=.0366" for the source's
    p=0.03); ".02" is the source's 0.02 written the short way, and the tail of "1.2.3" is no number.
    A number glued to the end of a sentence is one (another summary of that variant wrote "placebo.01.0)")."""
    assert kinds("Levels fell (p=.0366).") == [("number_not_in_source", ".0366")]
    assert kinds("Levels fell (p=.02) at 12 weeks.") == []
    assert kinds("Protocol 179.3.8 was used.") == [("number_not_in_source", "179.3")]  # not also ".8"
    assert kinds("Levels fell versus placebo.01.0) and CD950014.") == [("number_not_in_source", "01.0")]


def test_a_number_glued_to_the_word_before_it_is_checked():
    """Random-75% summaries wrote "The519 patients" and "The98.0 ng/ml for 15 weeks": the numbers escaped
    the check because digits inside a word were all taken for identifiers ("CD950014"). Digits after a
    lower-case letter are a number; after a capital, or followed by a letter, they stay an identifier."""
    assert kinds("The519 patients.") == [("number_not_in_source", "519")]
    assert kinds("The98.0 ng/ml dose.") == [("number_not_in_source", "98.0 ng/ml")]
    assert kinds("The3.8 mg/ml dose.") == [("unit_mismatch", "3.8 mg/ml")]
    assert kinds("The179 patients, trial CD950014 and HbA1c.") == []


def test_template_leakage_with_offsets():
    summary = "Summary: " + RCT_INSTRUCTION
    result = fc.check(summary, SOURCE, instructions=[RCT_INSTRUCTION])
    leak = [f for f in result.findings if f.kind == "instruction_leakage"]
    assert len(leak) == 1 and leak[0].start == len("Summary: ") and summary[leak[0].start : leak[0].end] == leak[0].span


def test_faithful_summary_has_no_findings():
    assert (
        kinds("179 patients reached 3.8 ng/ml at 12 weeks (p = 0.02) on 1200 mg.", instructions=[RCT_INSTRUCTION]) == []
    )


def test_words_shared_with_source_are_not_leakage():
    instruction = "please write a short and careful summary of this trial for clinicians"
    leaked = kinds("Here: write a short and careful summary of this trial for clinicians.", instructions=[instruction])
    assert leaked == [("instruction_leakage", "write a short and careful summary of this trial for clinicians")]
    text = "We randomized 179 patients. Serum levels reached 3.8 ng/ml after 12 weeks"
    assert kinds(text, instructions=[SOURCE]) == []  # copying the source is not leakage


def test_length_ratio_against_baseline():
    r = fc.check("179 patients.", SOURCE, baseline="In 179 patients levels reached 3.8 ng/ml.")
    assert (r.words, r.baseline_words) == (2, 7) and r.length_ratio == pytest.approx(2 / 7)


@given(st.lists(st.sampled_from(["alpha", "beta", "gamma", "delta", "mg", "patients"]), min_size=1, max_size=30))
def test_ttr_in_unit_interval_and_repetition_of_doubled_text(tokens):
    text = " ".join(tokens)
    assert 0.0 < fc.type_token_ratio(text) <= 1.0
    doubled = fc.repetition_rate(text + " " + text)
    assert doubled >= fc.repetition_rate(text)
    n = len(tokens)
    if n >= 3 and len(set(zip(tokens, tokens[1:], tokens[2:]))) == n - 2:
        # distinct trigrams: no repetition; doubled, at least the n-2 copied trigrams repeat
        assert fc.repetition_rate(text) == 0.0
        assert doubled >= (n - 2) / (2 * n - 2) - 1e-12


def test_cli_exit_codes(tmp_path):
    (tmp_path / "src.txt").write_text(SOURCE)
    (tmp_path / "bad.txt").write_text("Levels reached 3.8 mg/ml in 180 patients.")
    (tmp_path / "good.txt").write_text("Levels reached 3.8 ng/ml in 179 patients.")
    (tmp_path / "empty.txt").write_text("  ")
    run = lambda *a: subprocess.run([sys.executable, "-m", "harness", "factcheck", *a], capture_output=True, text=True)  # noqa: E731
    bad = run(
        "--source",
        str(tmp_path / "src.txt"),
        "--summary",
        str(tmp_path / "bad.txt"),
        "--baseline",
        str(tmp_path / "good.txt"),
    )
    assert bad.returncode == 1
    report = json.loads(bad.stdout)
    assert {f["kind"] for f in report["findings"]} == {"unit_mismatch", "number_not_in_source"}
    assert report["length_ratio"] == pytest.approx(1.0)
    assert run("--source", str(tmp_path / "src.txt"), "--summary", str(tmp_path / "good.txt")).returncode == 0
    empty = run("--source", str(tmp_path / "src.txt"), "--summary", str(tmp_path / "empty.txt"))
    assert empty.returncode == 2 and "empty" in empty.stderr
    assert run("--source", str(tmp_path / "nope.txt"), "--summary", str(tmp_path / "good.txt")).returncode == 2


def test_fact_checks_on_the_embedded_models_real_summaries(tmp_path):
    """Real summaries (7b7d6b1:fixtures/tiny-moe/README.md): the shipped model copies the trial's numbers (all
    of these 16 summaries are number-faithful, 40 of all 40; format 21); heavily pruned (Random 75%) it
    invents numbers in most (14 of these 16, 36 of all 40; format 17: 14 and 31), and the checks must flag them
    with spans that point at the summary text, numbers glued to a word ("The519 patients") included."""
    from pathlib import Path

    from harness.data import rct
    from harness.data.prompts import summarization
    from harness.gate.variants import default_calibration
    from harness.generate.backends import BackendOptions, open_backend
    from harness.metrics.factcheck import check
    from harness.models.loading import resolve
    from harness.prune.sweep import SweepRequest, run_sweep

    reviews = rct.load(Path(__file__).resolve().parents[1] / "fixtures" / "tiny-moe" / "data" / "rct")[:16]
    sources = [summarization.rct_source_block(r.review_id, r.articles) for r in reviews]
    model = resolve("tiny-moe")
    [pruned] = run_sweep(
        model,
        SweepRequest(["random"], [0.75], [0], default_calibration("tiny-moe")),
        tmp_path / "variants",
        tmp_path / "cache",
        show_progress=False,
        log=lambda _m: None,
    )

    def summarize(path):
        with open_backend(path, options=BackendOptions(use_cache=False)) as backend:
            return backend.generate([summarization.rct_prompt(s) for s in sources], 96)

    def number_findings(summaries):
        return [
            (f, s)
            for s, src in zip(summaries, sources)
            for f in check(s, src).findings
            if f.kind == "number_not_in_source"
        ]

    def unfaithful(summaries):
        return len({s for _, s in number_findings(summaries)})

    base, summaries = summarize(model.path), summarize(pruned.path)
    assert unfaithful(base) <= 1 and unfaithful(summaries) >= 4  # measured 0 and 14 of 16
    for f, summary in number_findings(base) + number_findings(summaries):
        assert summary[f.start : f.end] == f.span
    derived = []
    for summary, src in zip(base + summaries, sources + sources):
        # every number accepted is in the source, or a rule says how it derived it
        result = check(summary, src)
        explained = [n.span for n in result.numbers] + [f.span for f in result.findings]
        for number in re.findall(r"\d+(?:\.\d+)?", summary):
            assert number in src or any(number in span for span in explained)
        derived += [n.rule for n in result.numbers if n.rule in ("sum", "difference", "percentage", "ratio")]
    assert len(derived) <= 8, derived  # the synthetic trials state every number: derivations stay rare
