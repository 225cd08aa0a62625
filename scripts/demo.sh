#!/usr/bin/env bash
# The main job: install if needed, then spec/check/discover/read every stream (against the bundled sandbox
# unless --config points at a real account's config).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"
