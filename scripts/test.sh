#!/usr/bin/env bash
# Every test: install if needed, lint, then the whole pytest suite (unit, sandbox, end-to-end, CDK standard suite).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/pytest "$@"
