"""vLLM's distributed serving options: the exact server command lines, combinations refused before any
work, pass-through flags, and one GPU set per xdist worker (no GPU or vLLM needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.generate.options import add_backend_options, backend_options
from harness.generate.vllm_server import VLLMServer, VLLMSettings
from harness.pytest_gate import gpu_set

ROOT = Path(__file__).resolve().parents[1]


def _command(**kw) -> list[str]:
    server = VLLMServer(Path("/ckpt/deepseek-v3-reap-r0.50"), "a" * 64, VLLMSettings(python=Path("/venv/python"), **kw))
    cmd = server.command()
    assert cmd[:3] == ["/venv/python", "-m", "vllm.entrypoints.openai.api_server"]
    return cmd[cmd.index("--port") + 2 :]


def test_exact_server_command_lines():
    assert _command() == ["--tensor-parallel-size", "1", "--dtype", "auto"]
    assert _command(tensor_parallel_size=8, enable_expert_parallel=True) == [
        "--tensor-parallel-size",
        "8",
        "--dtype",
        "auto",
        "--enable-expert-parallel",
    ]
    assert _command(
        tensor_parallel_size=8,
        pipeline_parallel_size=2,
        distributed_executor_backend="ray",
        extra_args=["--max-num-seqs=64"],
    ) == [
        "--tensor-parallel-size",
        "8",
        "--dtype",
        "auto",
        "--pipeline-parallel-size",
        "2",
        "--distributed-executor-backend",
        "ray",
        "--max-num-seqs=64",
    ]
    assert _command(tensor_parallel_size=2, data_parallel_size=4, enable_expert_parallel=True, max_model_len=8192) == [
        "--tensor-parallel-size",
        "2",
        "--dtype",
        "auto",
        "--data-parallel-size",
        "4",
        "--enable-expert-parallel",
        "--max-model-len",
        "8192",
    ]
    assert VLLMSettings(tensor_parallel_size=2, pipeline_parallel_size=2, data_parallel_size=2).gpus == 8


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"enable_expert_parallel": True}, "needs --tensor-parallel-size or --data-parallel-size > 1"),
        ({"tensor_parallel_size": 0}, "--tensor-parallel-size must be at least 1"),
        (
            {"data_parallel_size": 2, "pipeline_parallel_size": 2, "distributed_executor_backend": "mp"},
            "need --distributed-executor-backend ray",
        ),
        ({"extra_args": ["--port=9000"]}, "--port is set by moegate"),
        ({"extra_args": ["--tensor-parallel-size", "4"]}, "--tensor-parallel-size is set by moegate"),
    ],
)
def test_unsupported_combinations_are_refused_with_the_reason(kw, message):
    with pytest.raises(ValueError, match=message):
        VLLMSettings(**kw)


def test_cli_options_build_the_settings():
    import argparse

    parser = argparse.ArgumentParser()
    add_backend_options(parser.add_argument)
    args = parser.parse_args(
        [
            "--backend",
            "vllm",
            "--tensor-parallel-size",
            "4",
            "--data-parallel-size",
            "2",
            "--enable-expert-parallel",
            "--distributed-executor-backend",
            "ray",
            "--vllm-arg=--max-num-seqs=64",
            "--vllm-arg=--gpu-memory-utilization 0.85",
        ]
    )
    vllm = backend_options(vars(args).get).vllm
    assert (vllm.gpus, vllm.enable_expert_parallel, vllm.distributed_executor_backend) == (8, True, "ray")
    assert vllm.extra_args == ["--max-num-seqs=64", "--gpu-memory-utilization", "0.85"]


def test_each_xdist_worker_gets_its_own_gpu_set():
    assert [gpu_set(f"gw{n}", 4, 8) for n in range(3)] == [[0, 1, 2, 3], [4, 5, 6, 7], [0, 1, 2, 3]]
    assert gpu_set("gw5", 1, 8) == [5]
    with pytest.raises(pytest.UsageError, match="needs 16 GPUs; this machine has 8"):
        gpu_set("gw0", 16, 8)


def test_the_plugin_refuses_before_collecting_variants():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "--backend",
            "vllm",
            "--enable-expert-parallel",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 4 and "needs --tensor-parallel-size or --data-parallel-size > 1" in proc.stderr
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "--backend",
            "vllm",
            "--skip-beta",
            "0.5",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 4 and "transformers backend only" in proc.stderr
