"""Gating outputs generated elsewhere: the JSONL rows, their errors (file, line, field), --lenient, and
the gate's checks on them without any model."""

from __future__ import annotations

import json

import pytest

from harness.gate.outputs import output_rows, read_outputs
from harness.gate.session import GateConfig, GateSession

SOURCE = "We randomized 179 patients; 3.8 ng/ml at 12 weeks."


def _row(variant="v1", item="a", base="179 patients reached 3.8 ng/ml.", out="179 patients reached 3.8 ng/ml.", **kw):
    return {
        "task": "rct",
        "item_id": item,
        "variant": variant,
        "baseline_output": base,
        "variant_output": out,
        "source": SOURCE,
        "reference": "179 patients.",
        "parameters": {"method": "reap", "ratio": "0.5"},
        **kw,
    }


def _write(tmp_path, rows, name="outputs.jsonl"):
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_rows_become_paired_runs_and_round_trip(tmp_path):
    rows = [_row(item=str(i)) for i in range(3)] + [
        {
            "task": "medqa",
            "item_id": "q1",
            "variant": "v1",
            "baseline_output": "B",
            "variant_output": "C",
            "reference": "B",
            "choices": ["A", "B", "C", "D"],
            "parameters": {"method": "reap", "ratio": "0.5"},
        }
    ]
    outputs = read_outputs(_write(tmp_path, rows))
    [variant] = outputs.variants
    assert variant.id == "v1" and variant.parameters() == {"model": "external", "method": "reap", "ratio": "0.5"}
    base, run = outputs.pair("v1", "medqa")
    assert (base.outputs, run.outputs, run.items[0].answer) == ([1], [2], 1)
    again = output_rows(variant, *outputs.pair("v1", "rct")) + output_rows(variant, base, run)
    rewritten = read_outputs(_write(tmp_path, again, "again.jsonl"))
    assert rewritten.pair("v1", "rct")[1].outputs == outputs.pair("v1", "rct")[1].outputs
    assert rewritten.pair("v1", "medqa")[1].outputs == [2]


@pytest.mark.parametrize(
    "row, message",
    [
        ("{not json", r"outputs.jsonl:1: invalid JSON"),
        ({**_row(), "task": "summaries"}, r"outputs.jsonl:1: field 'task': unknown task 'summaries'"),
        ({**_row(), "task": "gsm8k"}, r"field 'task': gsm8k is scored by lm-eval"),
        ({k: v for k, v in _row().items() if k != "source"}, r"outputs.jsonl:1: field 'source': missing"),
        ({**_row(), "variant_output": 3}, r"field 'variant_output': expected a string, got int"),
        (
            {
                "task": "medqa",
                "item_id": "q",
                "variant": "v",
                "baseline_output": "B",
                "variant_output": "E",
                "reference": "B",
                "choices": ["A", "B"],
            },
            r"field 'variant_output': 'E' is not one of the choices",
        ),
    ],
)
def test_a_malformed_row_names_file_line_and_field(tmp_path, row, message):
    with pytest.raises(ValueError, match=message):
        read_outputs(_write(tmp_path, [row]))


def test_conflicting_baselines_and_repeats_are_refused_and_lenient_counts(tmp_path):
    path = _write(tmp_path, [_row(), _row(variant="v2", base="another baseline"), _row(), "{bad"])
    with pytest.raises(
        ValueError,
        match=r"outputs.jsonl:2: field 'baseline_output': item 'a' of rct has another "
        r"baseline output at .*outputs.jsonl:1",
    ):
        read_outputs(path)
    lenient = read_outputs(path, lenient=True)
    assert len(lenient.skipped) == 3 and "repeats" in lenient.skipped[1]
    assert [v.id for v in lenient.variants] == ["v1"]


def test_the_gate_checks_outputs_without_a_model(tmp_path):
    good = "179 patients reached 3.8 ng/ml at 12 weeks."
    bad = "180 patients reached 3.8 mg/ml."
    rows = [_row(item=str(i), base=good, out=bad if i < 8 else good) for i in range(10)]
    config = GateConfig(outputs=read_outputs(_write(tmp_path, rows)))
    session = GateSession(config, {"rct.number_fidelity", "rct.rouge_l", "gsm8k.exact_match"})
    [spec] = config.specs()
    verdict = session.check(spec, "rct.number_fidelity")
    assert not verdict.passed and (verdict.baseline, verdict.value, verdict.n) == (1.0, 0.2, 10)
    assert verdict.parameters == {"model": "external", "method": "reap", "ratio": "0.5"}
    assert "lm-eval" in session.skip_reason(spec.model, "gsm8k.exact_match", spec.id)
    assert "no medqa rows" in session.skip_reason(spec.model, "medqa.accuracy", spec.id)
    assert session.skip_reason(spec.model, "rct.rouge_l", spec.id) is None
