"""Calibration sources: validation with file and line, rendering rules, seeded sampling."""

import json

import pytest

from harness.data.calibration import CalibrationSource, parse_record, read_records, render, sample_records
from harness.data.records import DataFormatError


class _Tok:
    """Minimal tokenizer double: records what it was asked to do."""

    def __init__(self):
        self.calls = []

    def __call__(self, text, add_special_tokens=True):
        self.calls.append((text, add_special_tokens))
        return {"input_ids": [ord(c) for c in text]}

    def apply_chat_template(self, messages, tokenize, add_generation_prompt, **kwargs):
        assert tokenize is False and add_generation_prompt is False
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + str(sorted(kwargs.items()))


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "cal.jsonl"
    path.write_text('{"text": "ok"}\n\n{"instruction": "x", "output": 3}\n')
    with pytest.raises(DataFormatError, match=r"cal\.jsonl: line 3: field 'output' must be a string"):
        read_records(path)
    path.write_text('{"text": "ok"}\n{"text": "broken"\n')
    with pytest.raises(DataFormatError, match=r"line 2: invalid JSON"):
        read_records(path)
    path.write_text('{"prompt": "?"}\n')
    with pytest.raises(DataFormatError, match="expected one of the fields"):
        read_records(path)


def test_instruction_records_follow_the_study_template():
    rec = parse_record({"instruction": "Summarize.", "input": "Abstract text", "output": "Short."}, "x")
    assert rec.messages() == [
        {"role": "user", "content": "Summarize.\n\nInput: Abstract text"},
        {"role": "assistant", "content": "Short."},
    ]
    no_input = parse_record({"instruction": "Say hi.", "input": "", "output": "Hi."}, "x")
    assert no_input.messages()[0]["content"] == "Say hi."
    with_history = parse_record({"instruction": "Q", "output": "A", "history": [["q0", "a0"]]}, "x")
    assert [m["role"] for m in with_history.messages()] == ["user", "assistant", "user", "assistant"]


def test_text_records_get_no_template_and_no_special_tokens():
    tok = _Tok()
    ids = render(parse_record({"text": "plain words"}, "x"), tok, {"enable_thinking": False}, max_length=5)
    assert ids == [ord(c) for c in "plain"]
    assert tok.calls == [("plain words", False)]


def test_chat_kwargs_reach_the_template():
    tok = _Tok()
    render(parse_record({"messages": [{"role": "user", "content": "q"}]}, "x"), tok, {"enable_thinking": False}, 100)
    assert "enable_thinking" in tok.calls[0][0]


def test_sampling_is_seeded_and_without_replacement(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps([{"text": str(i)} for i in range(50)]))
    records = read_records(path)
    a, b = sample_records(records, 10, seed=1), sample_records(records, 10, seed=1)
    assert a == b and len({r.payload for r in a}) == 10
    assert a != sample_records(records, 10, seed=2)
    assert len(sample_records(records, 500, seed=0)) == 50


def test_missing_file_message_names_the_default_source(tmp_path):
    with pytest.raises(FileNotFoundError, match="aialt/MedINST32"):
        CalibrationSource.parse(str(tmp_path / "nope.jsonl"))
    path = tmp_path / "bio.jsonl"
    path.write_text('{"text": "x"}\n')
    assert CalibrationSource.parse(f"medical={path}").domain == "medical"
    assert CalibrationSource.parse(str(path)).domain == "bio"
