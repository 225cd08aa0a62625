#!/usr/bin/env bash
# Creates .venv-demo with PyAirbyte from the lock (requirements-demo.txt), once, for the demo's DuckDB landing.
# PyAirbyte brings ~180 packages (warehouse clients, pandas, pyarrow, duckdb), so it lives apart from .venv.
# Exits non-zero, saying why, where it cannot be installed (PyAirbyte needs Python 3.10 to 3.12).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] < (3, 13))'; then
  echo "PyAirbyte needs Python 3.10 to 3.12; $("$python" --version 2>&1) is not one of them"
  exit 1
fi
if [ ! -x .venv-demo/bin/python ] || [ requirements-demo.txt -nt .venv-demo/.installed ] \
    || ! .venv-demo/bin/python -c 'import airbyte' >/dev/null 2>&1; then
  echo "installing PyAirbyte and its ~180 locked dependencies into .venv-demo (a few minutes, once; log: .venv-demo/install.log)"
  "$python" -m venv .venv-demo
  if ! { .venv-demo/bin/python -m pip install pip==26.3 \
      && .venv-demo/bin/python -m pip install --require-hashes -r requirements-demo.txt; } 2>&1 \
      | tee .venv-demo/install.log | scripts/pip-progress.sh; then
    tail -n 20 .venv-demo/install.log
    echo "PyAirbyte could not be installed (log: .venv-demo/install.log)"
    exit 1
  fi
  touch .venv-demo/.installed
fi
