#!/usr/bin/env bash
# The main job: install if needed, then spec/check/discover and land every stream in a local DuckDB file through
# PyAirbyte (JSON lines where PyAirbyte cannot be installed), against the bundled sandbox unless --config points
# at a real account's config.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if scripts/setup-demo.sh; then
  exec .venv/bin/python scripts/demo.py --pyairbyte .venv-demo/bin/python "$@"
fi
exec .venv/bin/python scripts/demo.py "$@"
