#!/usr/bin/env bash
# Lint, format check and type check (CI runs it before the tests): ruff's rule set and mypy's settings are in
# pyproject.toml. `bash scripts/lint.sh --fix` applies ruff's safe fixes and formatting instead of checking.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "${1:-}" = "--fix" ]; then
    .venv/bin/ruff check --fix .
    .venv/bin/ruff format .
else
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
fi
.venv/bin/python -m mypy
