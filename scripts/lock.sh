#!/usr/bin/env bash
# Re-locks every dependency after pyproject.toml changes (a new dependency, a merge): uv.lock, then its exports,
# each package pinned with its hashes, which pip installs on machines that have only Python:
#   requirements.txt       the connector's runtime dependencies (the Docker image)
#   requirements-dev.txt   the same plus the `dev` extra (scripts/setup.sh, so the tests and CI)
#   requirements-demo.txt  the runtime plus the `demo` extra, PyAirbyte (scripts/demo.sh's .venv-demo)
# Versions already in uv.lock are kept wherever pyproject.toml still allows them; `scripts/lock.sh --upgrade`
# moves every dependency to its newest allowed version. uv runs from its own venv (.lock-tools/).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
tools=.lock-tools
if [ ! -x "$tools/bin/uv" ]; then
  echo "installing uv into $tools"
  "$python" -m venv "$tools"
  "$tools/bin/python" -m pip install --quiet uv==0.13.9
fi
uv() { UV_SYSTEM_CERTS=1 "$tools/bin/uv" "$@"; }
upgrade=()
if [ "${1:-}" = "--upgrade" ]; then
  upgrade=(--upgrade)
fi
uv lock "${upgrade[@]}"
export_to() { uv export --frozen --no-emit-project --format requirements-txt --quiet "$@"; }
export_to --output-file requirements.txt
export_to --extra dev --output-file requirements-dev.txt
export_to --extra demo --output-file requirements-demo.txt
for file in requirements.txt requirements-dev.txt requirements-demo.txt; do
  echo "$file: $(grep -c '^[a-z0-9]' "$file") packages"
done
