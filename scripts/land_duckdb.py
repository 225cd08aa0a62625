"""Reads every stream of source-sfmc into a local DuckDB file through PyAirbyte, then shows what landed.

Runs in the demo's own venv (.venv-demo, PyAirbyte and its ~180 packages), not the connector's: PyAirbyte runs
the connector from its own venv as a local executable (`get_source(..., local_executable=...)`).

    .venv-demo/bin/python scripts/land_duckdb.py --config CONFIG --executable .venv/bin/source-sfmc \
        [--streams a,b] [--summary FILE]

The cache is PyAirbyte's default DuckDB cache, `.cache/default_cache/default_cache.duckdb` under the current
directory. Every read is a full refresh, so a second run replaces the tables rather than adding to them.
`--summary FILE` also writes what landed as JSON: {"duckdb": path, "rows": {table: count}, "left_out": {stream:
reason}}. A stream is left out when PyAirbyte cannot name its table or a column: its cache names keep ASCII
letters and digits only, so a data extension field named wholly in another script (顧客ID) has no column name.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

# PyAirbyte looks connectors up in Airbyte's registry and reports usage unless told not to; the demo runs where
# neither is reachable, and a local executable needs neither.
os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
# Google's client libraries (PyAirbyte's BigQuery cache) warn about Python versions at import; not the demo's news.
warnings.filterwarnings("ignore", category=FutureWarning)

import airbyte as ab  # noqa: E402  (after the environment and warning filter it reads at import)
from airbyte.exceptions import PyAirbyteNameNormalizationError  # noqa: E402

try:  # the rule PyAirbyte's caches name tables and columns by (not exported; without it, nothing is left out)
    from airbyte._util.name_normalizers import LowerCaseNormalizer
except ImportError:  # pragma: no cover
    LowerCaseNormalizer = None

# Two tables worth a look, and the columns that say what a row is.
SHOWN_TABLES = {
    "campaigns": ["id", "name", "campaignCode", "modifiedDate"],
    "sent_events": ["SendID", "SubscriberKey", "EventDate", "entity_id"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True, help="a source-sfmc config file")
    parser.add_argument("--executable", type=Path, required=True, help="the source-sfmc command to run")
    parser.add_argument("--streams", help="comma-separated stream names (default: every stream)")
    parser.add_argument("--summary", type=Path, help="write the DuckDB path and rows per table here, as JSON")
    args = parser.parse_args()

    source = ab.get_source(
        "source-sfmc",
        config=json.loads(args.config.read_text()),
        local_executable=args.executable,
    )
    wanted = [
        name.strip() for name in (args.streams or "").split(",") if name.strip()
    ] or source.get_available_streams()
    left_out = unnameable_in_cache(source.discovered_catalog, wanted)
    source.select_streams([name for name in wanted if name not in left_out])
    cache = ab.get_default_cache()
    result = source.read(cache=cache, force_full_refresh=True)

    rows = {name: len(dataset) for name, dataset in sorted(result.streams.items())}
    print(f"\n{'table':<44}{'rows':>10}")
    for name, count in rows.items():
        print(f"{name:<44}{count:>10}")
    print(f"{'total':<44}{sum(rows.values()):>10}")
    for name, reason in left_out.items():
        print(f"left out of DuckDB: {name}: {reason}")

    for table, columns in SHOWN_TABLES.items():
        if rows.get(table):
            frame = result[table].to_pandas()
            by_lower_name = {str(column).lower(): column for column in frame.columns}  # PyAirbyte lower-cases names
            shown = [by_lower_name[c.lower()] for c in columns if c.lower() in by_lower_name] or list(frame.columns[:4])
            print(f"\n{table} (first 3 of {rows[table]} rows):")
            print(frame[shown].head(3).to_string(index=False))

    path = Path(cache.db_path).resolve()
    print(f"\nDuckDB file: {path}")
    opener = f"import duckdb; db = duckdb.connect('{path}'); db.sql('SHOW TABLES').show(max_rows=50)"
    print(f'open it:     {sys.executable} -c "{opener}"')
    print("             (or any DuckDB client; the tables are named after the streams)")
    if args.summary:
        args.summary.write_text(json.dumps({"duckdb": str(path), "rows": rows, "left_out": left_out}))
    return 0


def unnameable_in_cache(catalog: Any, streams: list[str]) -> dict[str, str]:
    """{stream: why} for the streams whose table or column names PyAirbyte's cache cannot form."""
    if LowerCaseNormalizer is None:
        return {}
    left_out: dict[str, str] = {}
    for stream in catalog.streams:
        if stream.name not in streams:
            continue
        for name in [stream.name, *stream.json_schema.get("properties", {})]:
            try:
                LowerCaseNormalizer.normalize(name)
            except PyAirbyteNameNormalizationError:
                left_out[stream.name] = f"PyAirbyte cannot form a table or column name from {name!r} (ASCII only)"
                break
    return left_out


if __name__ == "__main__":
    sys.exit(main())
