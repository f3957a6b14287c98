"""Official-format loaders on the real samples in ../shared (when present) and on bad input."""

from pathlib import Path

import pytest

from harness.data import mcq, medhalt, rct
from harness.data.records import DataFormatError

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
    path.write_text(
        "id,dataset,question,options,correct_answer,correct_index,split_type\n"
        "a,x,Q1?,\"{'0': 'A', '1': 'None of the above'}\",None of the above,1,test\n"
        "b,x,Q2?,\"{'0': 'A', '1':}\",None of the above,1,test\n"
    )
    with pytest.raises(DataFormatError, match=r"reasoning_nota\.csv: row 2: field 'options'"):
        medhalt.load("nota", path)


def test_medhalt_index_must_point_at_answer(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(
        "id,question,options,correct_answer,correct_index,split_type\na,Q?,\"{'0': 'A', '1': 'B'}\",B,0,test\n"
    )
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


def test_multi_news_skips_empty_clusters_and_counts_them(tmp_path):
    import json

    from harness.data import multi_news

    folder = tmp_path / "cleansed_data"
    folder.mkdir()
    rows = [
        {"idx": 1, "document_num": 2, "summary": "s", "split": "test", "cleansed_document": ["a", ""]},
        {"idx": 2, "document_num": 0, "summary": "s", "split": "test", "cleansed_document": []},
        {"idx": 3, "document_num": 1, "summary": "s", "split": "val", "cleansed_document": ["b"]},
    ]
    (folder / "cleansed_data_cot_0_3.json").write_text(json.dumps(rows, indent=4))
    report = multi_news.load(folder)
    assert [c.idx for c in report.clusters] == [1] and report.skipped_empty == 1
    assert report.clusters[0].documents == ("a",)
    assert len(multi_news.load(folder, keep_empty=True).clusters) == 2
    with pytest.raises(ValueError, match="called 'val'"):
        multi_news.load(folder, split="validation")
    rows[0]["split"] = "dev"
    (folder / "cleansed_data_cot_0_3.json").write_text(json.dumps(rows))
    with pytest.raises(DataFormatError, match="record 0: field 'split'"):
        multi_news.load(folder)


@needs_samples
def test_real_multi_news_and_pubmedqa_samples():
    from harness.data import multi_news, pubmedqa

    report = multi_news.load(SAMPLES / "multi_news_plus" / "cleansed_data")
    assert report.clusters and all(c.documents for c in report.clusters)
    items = pubmedqa.load(SAMPLES / "pubmedqa")
    assert items and {i.label for i in items} <= {"yes", "no", "maybe"}


def test_multi_xscience_gz_and_medinst_records(tmp_path):
    import gzip
    import json

    from harness.data import medinst, multi_xscience

    path = tmp_path / "test.json.gz"
    with gzip.open(path, "wt") as fh:
        json.dump(
            [
                {
                    "aid": "1",
                    "mid": "m",
                    "abstract": "A.",
                    "related_work": "R.",
                    "ref_abstract": {
                        "@cite_1": {"mid": "x", "abstract": "B."},
                        "@cite_2": {"mid": "y", "abstract": ""},
                    },
                }
            ],
            fh,
        )
    rec = multi_xscience.load(path)[0]
    assert rec.to_medinst_input() == "Abstract: A.\nReferences: @cite_1: B. @cite_2: "
    bad = tmp_path / "m.jsonl"
    bad.write_text(
        '{"instruction": "i", "input": "x", "output": "o"}\n{"instruction": "i", "input": 5, "output": "o"}\n'
    )
    with pytest.raises(DataFormatError, match="line 2: field 'input'"):
        medinst.load(bad)


def test_data_cli_check_and_missing_dataset(tmp_path, capsys):
    from harness.cli.main import main

    assert main(["data", "list", "--data-dir", str(tmp_path)]) == 0
    assert "medhalt-fct" in capsys.readouterr().out
    missing = tmp_path / "nothing.csv"
    assert main(["data", "check", "medhalt-fake", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "github:medhalt/medhalt@3dfe1e4" in err and "openlifescienceai/Med-HALT" in err and "MOEGATE_DATA_DIR" in err
    bad = tmp_path / "reasoning_fake.csv"
    bad.write_text("id,question,options,split_type\nx,Q?,not-a-dict,train\n")
    assert main(["data", "check", "medhalt-fake", str(bad)]) == 2
    assert "row 1: field 'options'" in capsys.readouterr().err


def test_lenient_mode_skips_and_counts_malformed_rows(tmp_path, capsys):
    from harness.cli.main import main

    path = tmp_path / "reasoning_fake.csv"
    path.write_text(
        "id,question,options,split_type\n"
        "a,Q1?,\"{'0': 'x', '1': 'I do not know'}\",train\n"
        "b,Q2?,broken,train\n"
        "c,,\"{'0': 'x'}\",train\n"
        "d,Q4?,\"{'0': 'y'}\",train\n"
    )
    skipped: list[str] = []
    records = medhalt.load("fake", path, skipped)
    assert [r.id for r in records] == ["a", "d"]
    assert len(skipped) == 2 and "row 2: field 'options'" in skipped[0] and "row 3: field 'question'" in skipped[1]
    assert main(["data", "check", "medhalt-fake", str(path), "--lenient"]) == 0
    assert "2 records" in capsys.readouterr().out
    assert main(["data", "check", "medhalt-fake", str(path)]) == 2


def test_mmlu_rows_split_into_multimedqa_medical_and_general_tasks():
    """MultiMedQA's six MMLU subjects are a biomedical task; the general MMLU check gets every other subject."""
    from harness.benchmarks import tasks
    from harness.measure.tasks import load_items
    from harness.models.registry import FIXTURES_DIR

    data = FIXTURES_DIR / "tiny-moe" / "data"
    rows = mcq.load_mmlu(data / "general" / "mmlu_test.jsonl")
    medical, general = (load_items(tasks()[t], data) for t in ("mmlu_medical", "mmlu"))
    assert tasks()["mmlu_medical"].domain == "biomedical" and tasks()["mmlu"].domain == "general"
    assert len(medical) == sum(r.subject in mcq.MEDICAL_SUBJECTS for r in rows) > 0
    assert len(general) + len(medical) == len(rows)
    assert {it.prompt.split(".")[0].rsplit("about ", 1)[1] for it in medical} == {
        s.replace("_", " ") for s in mcq.MEDICAL_SUBJECTS
    }
    assert not {it.id for it in medical} & {it.id for it in general}
