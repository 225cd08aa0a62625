#!/usr/bin/env bash
# Turns the output of `pip install -r FILE` on stdin into a short progress report: a line per ten packages
# fetched, then one when pip installs them. Usage: pip install -r FILE 2>&1 | scripts/pip-progress.sh
exec awk '
  /^(Collecting|Processing) .*\(from -r / { fetched++; if (fetched % 10 == 0) { printf "  %d packages fetched\n", fetched; fflush() } }
  /^Installing collected packages/ && fetched { printf "  installing %d packages\n", fetched; fflush() }
'
