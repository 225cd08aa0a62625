"""Rows of one data extension read in full: `.venv/bin/python -m bench.data_extension [--rows 100000]`.

The sandbox's `CUSTOMERS_MASTER` data extension holds 2,500 rows per unit of scale (ten fields: text, e-mail,
locale, phone, dates, a boolean and a number); the read is a full refresh of its stream, output to a file.
Prints records, wall seconds, rows per second, CPU seconds and the peak RSS of the `source-sfmc read` process.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench.connector import configured_catalog, run_read, scan_output
from bench.sandbox import SandboxProcess

STREAM = "data_extension__customers_master"
ROWS_PER_SCALE = 2_500


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.data_extension", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the data extension (a multiple of 2,500)")
    parser.add_argument("--repeat", type=int, default=1, help="reads in a row (the best and worst are printed)")
    args = parser.parse_args(argv)
    runs = []
    with (
        tempfile.TemporaryDirectory(prefix="sfmc-bench-de-") as workdir,
        SandboxProcess(args.rows / ROWS_PER_SCALE, 0) as sandbox,
    ):
        config = sandbox.config()
        catalog = configured_catalog([STREAM], incremental=False)
        for attempt in range(args.repeat):
            run = run_read(config, catalog, Path(workdir), f"de{attempt}")
            outputs, errors = scan_output(run.output)
            records = outputs[STREAM].records if STREAM in outputs else 0
            runs.append(
                {
                    "records": records,
                    "wall_seconds": round(run.wall_seconds, 2),
                    "rows_per_second": round(records / run.wall_seconds),
                    "cpu_seconds": round(run.cpu_seconds, 2),
                    "peak_rss_mb": round(run.peak_rss_mb, 1),
                    "exit_code": run.exit_code,
                    "errors": errors,
                }
            )
            print(json.dumps(runs[-1]))
    return 0 if all(run["exit_code"] == 0 and run["records"] == args.rows for run in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
