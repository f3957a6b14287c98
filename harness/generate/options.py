"""Backend command-line options, declared once for the CLI (argparse) and the pytest plugin (addoption).
Light on purpose: the pytest entry point imports it in every pytest run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from harness.generate.backends import BackendOptions

Backend = Literal["transformers", "vllm"]
BACKENDS: tuple[str, ...] = get_args(Backend)


def add_backend_options(add: Callable[..., Any]) -> None:
    """Declare the options with ``add`` = ``parser.add_argument`` or pytest's ``group.addoption``."""
    add(
        "--backend",
        choices=BACKENDS,
        default="transformers",
        help="transformers: in-process (CUDA when present, else CPU); vllm: an OpenAI-compatible vLLM server",
    )
    add("--device", default=None, help="transformers backend device (default: cuda if available, else cpu)")
    add("--batch-size", type=int, default=16, help="prompts per forward batch (default 16)")
    add("--vllm-url", default=None, help="use this running vLLM server instead of starting one")
    add(
        "--vllm-python",
        type=Path,
        default=None,
        help="interpreter of the vLLM environment (default $MOEGATE_VLLM_PYTHON or .venv-vllm/bin/python)",
    )
    add("--tensor-parallel-size", type=int, default=1, help="vLLM tensor-parallel size (default 1)")
    add("--pipeline-parallel-size", type=int, default=1, help="vLLM pipeline-parallel size (default 1)")
    add("--data-parallel-size", type=int, default=1, help="vLLM data-parallel size (default 1)")
    add(
        "--enable-expert-parallel",
        action="store_true",
        help="vLLM expert parallelism: shard MoE layers over tensor x data parallel GPUs",
    )
    add(
        "--distributed-executor-backend",
        choices=("mp", "ray"),
        default=None,
        help="vLLM executor: mp (one node) or ray (several nodes; the Ray cluster must be running)",
    )
    add(
        "--vllm-arg",
        action="append",
        default=[],
        metavar="=--FLAG[=VALUE]",
        help="pass any other vLLM server flag through, repeatable: --vllm-arg=--max-num-seqs=64",
    )
    add(
        "--cache-dir",
        type=Path,
        default=None,
        help="generation cache directory (default $MOEGATE_CACHE_DIR or ~/.cache/moegate)",
    )
    add("--no-cache", action="store_true", help="neither read nor write the generation cache")
    add("--refresh", action="store_true", help="regenerate every item and overwrite its cache entry")


def backend_options(get: Callable[[str], Any], show_progress: bool = True) -> BackendOptions:
    """Build options from parsed values; ``get("backend")`` etc. (argparse: ``vars(args).get``)."""
    from harness.generate.backends import BackendOptions
    from harness.generate.vllm_server import VLLMSettings

    vllm = VLLMSettings(
        tensor_parallel_size=get("tensor_parallel_size"),
        pipeline_parallel_size=get("pipeline_parallel_size"),
        data_parallel_size=get("data_parallel_size"),
        enable_expert_parallel=bool(get("enable_expert_parallel")),
        distributed_executor_backend=get("distributed_executor_backend"),
        extra_args=[a for arg in get("vllm_arg") or [] for a in arg.split(" ", 1)],
    )
    if get("vllm_python"):
        vllm.python = get("vllm_python")
    return BackendOptions(
        kind=get("backend"),
        device=get("device"),
        batch_size=get("batch_size"),
        vllm_url=get("vllm_url"),
        vllm=vllm,
        cache_dir=get("cache_dir"),
        use_cache=not get("no_cache"),
        refresh=get("refresh"),
        show_progress=show_progress,
    )
