#!/usr/bin/env bash
# Creates .venv with the connector and its test tools, once; later runs only check it is up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ ! -x .venv/bin/source-sfmc ] || [ pyproject.toml -nt .venv/.installed ]; then
  echo "installing the connector into .venv (log: .venv/install.log)"
  "$python" -m venv .venv
  if ! { .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -e '.[dev]'; } \
      >.venv/install.log 2>&1; then
    tail -n 40 .venv/install.log
    exit 1
  fi
  touch .venv/.installed
fi
