#!/usr/bin/env bash
# The main job on the embedded default model: prune it with all six methods at one ratio (default
# 0.5; written and verified once, reused afterwards), gate every variant against the unpruned
# baseline with the suites, and render the reports:
#   reports/verdict.json   machine-readable verdict (per variant and check)
#   reports/summary.md     checks x variants table, plus reports/plot-*.png
#   reports/allure/        Allure HTML report (history kept across runs)
# Exit code: 0 when every variant passes every check, 1 when the gate blocks a variant.
# Extra arguments go to pytest, e.g. `bash scripts/main.sh --ratio 0.5 --method reap`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup-report.sh || echo "warning: Allure CLI not installed; the HTML report will be skipped" >&2
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if [ "$#" -eq 0 ]; then set -- --ratio 0.5; fi
rm -rf allure-results
status=0
.venv/bin/python -m pytest suites -p no:cacheprovider -q --alluredir allure-results "$@" || status=$?
if [ -x .tools/node_modules/.bin/allure ]; then
    .venv/bin/python -m harness report --results allure-results --out reports/allure
fi
exit "$status"
