#!/usr/bin/env bash
# The main job on the embedded default model: calibrate once, then write and verify every
# pruned variant (6 methods at the given ratios; default 0.25 and 0.5). Extra arguments go to
# `python -m harness prune`, e.g. `bash scripts/main.sh --ratio 0.75 --method reap`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if [ "$#" -eq 0 ]; then set -- --ratio 0.25 --ratio 0.5; fi
exec .venv/bin/python -m harness prune --model tiny-moe "$@"
