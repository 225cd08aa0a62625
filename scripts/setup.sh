#!/usr/bin/env bash
# Creates .venv with the connector and its test tools from the lock (requirements-dev.txt, every package pinned
# with its hashes), once; later runs reinstall only when the lock or pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ ! -x .venv/bin/source-sfmc ] || [ requirements-dev.txt -nt .venv/.installed ] \
    || [ pyproject.toml -nt .venv/.installed ]; then
  echo "installing the connector and its locked dependencies into .venv (a minute or two; log: .venv/install.log)"
  "$python" -m venv .venv
  # pip's own output goes to the log; the terminal gets a count of packages fetched.
  if ! { .venv/bin/python -m pip install pip==26.3 \
      && .venv/bin/python -m pip install --require-hashes -r requirements-dev.txt \
      && .venv/bin/python -m pip install --no-deps -e .; } 2>&1 | tee .venv/install.log \
      | scripts/pip-progress.sh; then
    tail -n 40 .venv/install.log
    exit 1
  fi
  touch .venv/.installed
fi
