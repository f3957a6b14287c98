#!/usr/bin/env bash
# Install the Allure 3 report CLI (npm `allure`, no Java needed) into .tools/. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
ALLURE_VERSION=3.18.0
if [ -x .tools/node_modules/.bin/allure ] && grep -q "\"version\": \"$ALLURE_VERSION\"" .tools/node_modules/allure/package.json 2>/dev/null; then
    exit 0
fi
mkdir -p .tools
npm install --prefix .tools --silent --no-audit --no-fund "allure@$ALLURE_VERSION" 2>&1 | grep -v "Unknown user config" || true
.tools/node_modules/.bin/allure --version >/dev/null
