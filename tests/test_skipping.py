"""Dynamic expert skipping (NAEE): beta = 0 changes no token, the skipped share grows with beta, weights
are renormalised as the family does, vLLM is refused, and variant ids carry the beta."""

from __future__ import annotations

import pytest
import torch

from harness.generate.backends import BackendOptions, open_backend
from harness.generate.skipping import ExpertSkipping, read_counts, stats_path
from harness.models.adapters import adapter_for
from tests.families import tiny_model, tokens


def test_beta_zero_generates_token_for_token_what_the_model_does(tmp_path):
    from harness.data import rct
    from harness.data.prompts import summarization
    from harness.models.loading import resolve

    path = resolve("tiny-moe").path
    reviews = rct.load(path.parent / "data" / "rct")[:6]
    prompts = [summarization.rct_prompt(summarization.rct_source_block(r.review_id, r.articles)) for r in reviews]

    def run(beta):
        options = BackendOptions(use_cache=False, skip_beta=beta, cache_dir=tmp_path)
        with open_backend(path, options=options) as backend:
            return backend.generate(prompts, 48)

    plain, zero = run(None), run(0.0)
    assert zero == plain
    run(0.9)  # the embedded model was trained with expert dropout: its greedy summaries barely move here
    from harness.models.fingerprint import checkpoint_fingerprint

    skipped, total = read_counts(stats_path(tmp_path, checkpoint_fingerprint(path), 0.9))
    assert total > 0 and 0 < skipped < total / 2  # top-1 is never skipped: at most 1 of top-2 slots
    assert read_counts(stats_path(tmp_path, checkpoint_fingerprint(path), 0.0))[0] == 0


@pytest.mark.parametrize(
    "family, renorm", [("qwen3_moe", True), ("qwen3_moe", False), ("olmoe", False), ("mixtral", True)]
)
def test_skipped_share_grows_with_beta_and_weights_renormalise_as_the_family(family, renorm):
    kwargs = {} if family == "mixtral" else {"norm_topk_prob": renorm}
    model = tiny_model(family, seed=3, top_k=4, **kwargs)
    adapter = adapter_for(model.config)
    ids, mask = tokens(seed=1, length=16)
    shares = []
    for beta in (0.0, 0.3, 0.6, 0.9):
        with ExpertSkipping(model, adapter, beta) as skip, torch.no_grad():
            model(input_ids=ids, attention_mask=mask)
        shares.append(skip.skipped / skip.total)
    assert shares[0] == 0.0 and shares == sorted(shares) and shares[-1] > 0.2
    weights = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    skip = ExpertSkipping(model, adapter, 0.5)
    out = skip.reweight(weights)
    assert out[0, 2:].tolist() == [0.0, 0.0]
    if renorm:
        assert float(out.sum()) == pytest.approx(1.0) and out[0, 0] / out[0, 1] == pytest.approx(0.5 / 0.3)
    else:
        assert out[0, :2].tolist() == pytest.approx([0.5, 0.3])


def test_vllm_and_bad_betas_are_refused_and_ids_carry_the_beta():
    from harness.gate.variants import VariantSpec

    with pytest.raises(ValueError, match="transformers backend only"):
        BackendOptions(kind="vllm", skip_beta=0.5)
    with pytest.raises(ValueError, match=r"skip beta must be in \[0, 1\)"):
        ExpertSkipping(tiny_model("qwen3_moe"), adapter_for(tiny_model("qwen3_moe").config), 1.0)
    spec = VariantSpec("tiny-moe", "reap", 0.5).with_skip(0.5)
    assert spec.id == "tiny-moe-reap-r0.50-s0-skip0.5" and spec.parameters()["skip_beta"] == "0.5"
    assert VariantSpec("tiny-moe", "reap", 0.5).parameters() == {
        k: v for k, v in spec.parameters().items() if k != "skip_beta"
    }
