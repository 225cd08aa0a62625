#!/usr/bin/env bash
# Creates .venv with the connector and its test tools, once; later runs only check it is there.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ ! -x .venv/bin/source-sfmc ] || [ pyproject.toml -nt .venv/.installed ]; then
  "$python" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  touch .venv/.installed
fi
