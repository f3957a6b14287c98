"""BERTScore with a local encoder directory (a tiny random BERT written here; nothing from the hub)."""

from __future__ import annotations

import pytest
import torch

from harness.metrics.bertscore import bertscore_f1


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    from transformers import BertConfig, BertModel

    from harness.models.loading import load_tokenizer, resolve

    out = tmp_path_factory.mktemp("enc")
    tok = load_tokenizer(resolve("tiny-moe").path)
    tok.model_max_length = 512
    torch.manual_seed(0)
    BertModel(
        BertConfig(
            vocab_size=len(tok),
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=128,
            max_position_embeddings=512,
            pad_token_id=tok.pad_token_id,
        )
    ).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_identical_text_scores_one_and_edits_score_less(encoder):
    same, edited = bertscore_f1(
        ["The dose was 3.8 ng/ml.", "The dose was 3.8 mg/ml in 70 patients."],
        ["The dose was 3.8 ng/ml.", "The dose was 3.8 ng/ml."],
        encoder,
    )
    assert same == pytest.approx(1.0, abs=1e-5) and edited < same


def test_encoder_must_be_a_local_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        bertscore_f1(["a"], ["b"], tmp_path / "roberta-large")


def test_gate_bertscore_check(encoder, tmp_path):
    from harness.gate.session import GateConfig, GateSession
    from harness.generate.backends import BackendOptions

    config = GateConfig(
        methods=["reap"],
        ratios=[0.125],
        limit=3,
        variants_dir=tmp_path / "v",
        baseline_dir=tmp_path / "b",
        backend=BackendOptions(cache_dir=tmp_path / "c"),
        bertscore_encoder=encoder,
    )
    verdict = GateSession(config, {"rct.bertscore"}).check(config.specs()[0], "rct.bertscore")
    assert verdict.n == 3 and 0.0 < verdict.baseline <= 1.0 + 1e-6 and 0.0 < verdict.value <= 1.0 + 1e-6  # fp32 cosine
