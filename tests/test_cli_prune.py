"""``python -m harness prune`` end to end on a tiny checkpoint: variants, manifest, reuse, errors."""

import json
import subprocess
import sys

import pytest

from harness.cli.main import main
from tests.families import save_tiny_checkpoint


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    model = save_tiny_checkpoint(root / "tiny")
    cal = root / "bio.jsonl"
    cal.write_text(
        "".join(
            json.dumps(
                {
                    "instruction": f"Summarize trial {i}.",
                    "input": f"{i} patients got {i}.5 mg/ml",
                    "output": f"Dose {i}.5 mg/ml.",
                }
            )
            + "\n"
            for i in range(20)
        )
    )
    return root, model, cal


def _args(root, model, cal, *extra):
    return [
        "prune",
        "--model",
        str(model),
        "--calibration",
        f"bio={cal}",
        "--samples",
        "8",
        "--quiet",
        "--out",
        str(root / "out"),
        "--cache-dir",
        str(root / "cache"),
        *extra,
    ]


def test_sweep_writes_verified_variants_then_reuses_them(setup, capsys):
    root, model, cal = setup
    args = _args(
        root,
        model,
        cal,
        "--method",
        "reap",
        "--method",
        "easy-ep",
        "--method",
        "random",
        "--ratio",
        "0.25",
        "--ratio",
        "0.5",
    )
    assert main(args) == 0
    dirs = sorted(p.name for p in (root / "out").iterdir())
    assert dirs == sorted(f"tiny-{m}-r{r}-s0-bio" for m in ("reap", "easy_ep", "random") for r in ("0.25", "0.50"))
    assert len(list((root / "cache" / "calibration").glob("*.safetensors"))) == 1  # one pass for all six variants
    manifest = json.loads((root / "out" / "tiny-reap-r0.25-s0-bio" / "pruning.json").read_text())
    assert manifest["method"] == "reap" and manifest["ratio"] == 0.25 and manifest["experts_kept"] == 6
    assert all(len(ids) == 6 for ids in manifest["kept_experts"].values())
    assert all(len(s) == 8 for s in manifest["scores"].values())  # original indexing, all experts
    assert manifest["verification"]["ok"] and manifest["verification"]["loaded_cleanly"]
    assert manifest["surgery"]["expert_bytes_after"] * 4 == manifest["surgery"]["expert_bytes_before"] * 3
    assert manifest["calibration"]["sources"]["bio"]["samples"] == 8
    assert {"torch", "transformers"} <= set(manifest["libraries"])
    config = json.loads((root / "out" / "tiny-random-r0.50-s0-bio" / "config.json").read_text())
    assert config["num_local_experts"] == 4
    capsys.readouterr()
    mtimes = {p.name: (p / "pruning.json").stat().st_mtime for p in (root / "out").iterdir()}
    assert main(args) == 0
    assert capsys.readouterr().out.count("reuse ") == 6
    assert mtimes == {p.name: (p / "pruning.json").stat().st_mtime for p in (root / "out").iterdir()}


def test_ratio_leaving_fewer_than_top_k_fails_before_any_work(setup, capsys):
    root, model, cal = setup
    args = _args(root, model, cal, "--ratio", "0.875", "--out", str(root / "refused"))
    assert main(args) == 2
    assert "top_k=2" in capsys.readouterr().err
    assert not (root / "refused").exists()


def test_malformed_calibration_row_is_reported(setup, capsys):
    root, model, _ = setup
    bad = root / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"instruction": "no output"}\n')
    assert main(_args(root, model, bad, "--method", "gate", "--out", str(root / "bad-out"))) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl: line 2" in err and "'output'" in err


def test_output_directory_not_writable(setup, capsys):
    root, model, cal = setup
    blocker = root / "a-file"
    blocker.write_text("")
    assert main(_args(root, model, cal, "--method", "random", "--out", str(blocker / "out"))) == 2
    assert "not writable" in capsys.readouterr().err


def test_unknown_model_and_method(setup, capsys):
    root, _, cal = setup
    assert main(["prune", "--model", "no-such-model", "--quiet"]) == 2
    assert "tiny-moe" in capsys.readouterr().err  # lists the registry
    assert main(_args(root, root / "tiny", cal, "--method", "magnitude")) == 2
    assert "choose from random, frequency, gate, ean, reap, easy_ep" in capsys.readouterr().err


def test_help_documents_every_option():
    out = subprocess.run(
        [sys.executable, "-m", "harness", "prune", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for flag in ("--model", "--method", "--ratio", "--seed", "--calibration", "--out", "--no-verify", "easy_ep"):
        assert flag in out
