"""Official-format loaders on the real samples in ../shared (when present) and on bad input."""

from pathlib import Path

import pytest

from harness.data import mcq, medhalt, rct
from harness.data.calibration import DataFormatError

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-format-samples"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/data/real-format-samples not present")


@needs_samples
def test_real_medhalt_fake_rows():
    records = medhalt.load("fake", SAMPLES / "medhalt" / "reasoning_fake.csv")
    assert len(records) == 25
    assert all(r.correct_answer == "I do not know" and r.options for r in records)
    assert any(r.subject is None for r in records) or all(r.subject for r in records)


@needs_samples
@pytest.mark.parametrize("task,name", [("fct", "reasoning_FCT.csv"), ("nota", "reasoning_nota.csv")])
def test_real_medhalt_fct_and_nota(task, name):
    records = medhalt.load(task, SAMPLES / "medhalt" / "reconstructed" / name)
    assert len(records) == 16
    for r in records:
        assert r.correct_answer in r.options.values()
    if task == "fct":
        assert all("correct answer" in r.options for r in records)
    else:
        assert {r.correct_answer for r in records} == {"None of the above"}


@needs_samples
def test_real_rct_reconstructed_inputs_with_multiline_abstracts():
    reviews = rct.load(SAMPLES / "rct" / "reconstructed", single_article_only=False)
    assert reviews and all(r.target and r.articles for r in reviews)
    assert any("\n" in a[2] for r in reviews for a in r.articles)  # embedded newlines survive
    single = rct.load(SAMPLES / "rct" / "reconstructed")
    assert all(len(r.articles) == 1 for r in single) and len(single) <= len(reviews)


def test_medhalt_bad_options_names_file_row_field(tmp_path):
    path = tmp_path / "reasoning_nota.csv"
    path.write_text("id,dataset,question,options,correct_answer,correct_index,split_type\n"
                    "a,x,Q1?,\"{'0': 'A', '1': 'None of the above'}\",None of the above,1,test\n"
                    "b,x,Q2?,\"{'0': 'A', '1':}\",None of the above,1,test\n")
    with pytest.raises(DataFormatError, match=r"reasoning_nota\.csv: row 2: field 'options'"):
        medhalt.load("nota", path)


def test_medhalt_index_must_point_at_answer(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("id,question,options,correct_answer,correct_index,split_type\n"
                    "a,Q?,\"{'0': 'A', '1': 'B'}\",B,0,test\n")
    with pytest.raises(DataFormatError, match="row 1: field 'correct_index'"):
        medhalt.load("nota", path)


def test_missing_columns_are_named(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("id,question\n1,q\n")
    with pytest.raises(DataFormatError, match="lacks columns"):
        medhalt.load("fake", path)


def test_mcq_bad_label(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"sent1": "q", "ending0": "a", "ending1": "b", "ending2": "c", "ending3": "d", "label": 7}\n')
    with pytest.raises(DataFormatError, match="line 1: field 'answer'"):
        mcq.load_medqa(path)
