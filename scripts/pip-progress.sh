#!/usr/bin/env bash
# Turns pip's output on stdin into a short progress report: "fetched 40/102 packages", then "installing".
# Usage: pip install ... 2>&1 | scripts/pip-progress.sh TOTAL
exec awk -v total="${1:-?}" '
  /^Collecting .*\(from -r/ { fetched++; if (fetched % 10 == 0 || fetched == total) { printf "  fetched %d/%s packages\n", fetched, total; fflush() } }
  /^Installing collected packages/ && !installing { installing = 1; print "  installing them"; fflush() }
  /^Successfully installed/ { done_lines++ }
  END { if (done_lines) { print "  done"; fflush() } }
'
