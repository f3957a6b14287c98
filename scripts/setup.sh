#!/usr/bin/env bash
# Create or update the project virtual environment (.venv). Idempotent: when pyproject.toml and
# constraints.txt are unchanged since the last successful install, it does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${MOEGATE_EXTRAS:-test,eval,quant,lint}"
PY="${PYTHON:-python3}"
stamp_input="$(cat pyproject.toml constraints.txt; echo "$EXTRAS")"
stamp="$(printf '%s' "$stamp_input" | sha256sum | cut -c1-16)"
if [ -f .venv/.moegate-stamp ] && [ "$(cat .venv/.moegate-stamp)" = "$stamp" ]; then
    exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
export PIP_DISABLE_PIP_VERSION_CHECK=1
# torch first, pinned, so nothing can pull a CUDA build; then the project with its pinned extras.
.venv/bin/python -m pip install -q -c constraints.txt torch==2.13.0 2>&1 | grep -v "is ignored" || true
.venv/bin/python -m pip install -q -c constraints.txt -e ".[${EXTRAS}]" 2>&1 | grep -v "is ignored" || true
.venv/bin/python -c "import torch, transformers, harness" # fail loudly if the install did not work
echo "$stamp" > .venv/.moegate-stamp
