"""The main job: spec, check, discover through the `source-sfmc` command, then every stream landed locally.

Without `--config`, it starts the bundled SFMC sandbox on a free loopback port and reads from it. With
`--config secrets/config.json` it runs against a real Marketing Cloud account.

With `--pyairbyte PYTHON` (a venv's python that has PyAirbyte, see scripts/setup-demo.sh) the records land in
PyAirbyte's default DuckDB cache (scripts/land_duckdb.py); without it, or if PyAirbyte fails, in JSON lines,
one file per stream under demo-output/. Either way it prints per-stream counts.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SANDBOX_CONFIG = ROOT / "integration_tests" / "sandbox_config.json"
JSON_LINES_DIR = ROOT / "demo-output"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, help="a connector config for a real account (default: sandbox)")
    parser.add_argument("--streams", help="comma-separated stream names to read (default: all)")
    parser.add_argument("--pyairbyte", type=Path, help="python of a venv with PyAirbyte: land in DuckDB")
    parser.add_argument(
        "--json-lines-dir", type=Path, default=JSON_LINES_DIR, help="where JSON lines land without PyAirbyte"
    )
    args = parser.parse_args()

    sandbox = None
    with tempfile.TemporaryDirectory() as workdir:
        work = Path(workdir)
        if args.config:
            config_path = args.config
        else:
            sandbox, base_url, activity_from = start_sandbox()
            config = json.loads(SANDBOX_CONFIG.read_text())
            config["subdomain"] = base_url
            # The sandbox's activity lies in the six months before today: read from its first day.
            config["start_date"] = activity_from or config["start_date"]
            config_path = work / "config.json"
            config_path.write_text(json.dumps(config))
        try:
            return run_connector(config_path, work, args.streams, args.pyairbyte, args.json_lines_dir)
        finally:
            if sandbox is not None:
                sandbox.terminate()
                sandbox.wait(timeout=10)


def start_sandbox() -> tuple[subprocess.Popen, str, str | None]:
    process = subprocess.Popen(
        [sys.executable, "-m", "integration_tests.sandbox", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline().strip() if process.stdout else ""
    if "http://" not in line:
        process.kill()
        raise SystemExit(f"the sandbox did not start: {line!r}")
    base_url = line[line.index("http://") :].split()[0]
    found = re.search(r"activity from (\d{4}-\d{2}-\d{2})", line)
    print(f"sandbox: {base_url}" + (f", activity from {found.group(1)}" if found else ""))
    return process, base_url, f"{found.group(1)}T00:00:00Z" if found else None


def connector(*args: str) -> list[dict]:
    command = [str(Path(sys.executable).parent / "source-sfmc"), *args]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    messages = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    for message in messages:
        if message["type"] == "TRACE" and message["trace"].get("type") == "ERROR":
            print(f"  error: {message['trace']['error']['message']}")
    if completed.returncode != 0 and not messages:
        print(completed.stderr[-2000:])
    return messages


def run_connector(
    config_path: Path, work: Path, stream_filter: str | None, pyairbyte: Path | None, json_lines_dir: Path
) -> int:
    started = time.monotonic()
    spec = [m for m in connector("spec") if m["type"] == "SPEC"]
    print(f"spec: {'ok' if spec else 'FAILED'}")

    status = [
        m["connectionStatus"]
        for m in connector("check", "--config", str(config_path))
        if m["type"] == "CONNECTION_STATUS"
    ]
    print(f"check: {status[0]['status'] if status else 'no status'} {status[0].get('message') or '' if status else ''}")
    if not status or status[0]["status"] != "SUCCEEDED":
        return 1

    catalogs = [m["catalog"] for m in connector("discover", "--config", str(config_path)) if m["type"] == "CATALOG"]
    if not catalogs:
        print("discover: FAILED")
        return 1
    streams = catalogs[0]["streams"]
    wanted = set(stream_filter.split(",")) if stream_filter else None
    streams = [s for s in streams if wanted is None or s["name"] in wanted]
    print(f"discover: {len(streams)} streams")

    if pyairbyte is not None:
        if land_in_duckdb(pyairbyte, config_path, stream_filter) == 0:
            print(f"\nread and landed in {time.monotonic() - started:.1f} s")
            return 0
        print("\nPyAirbyte did not finish (see above): landing JSON lines instead")
    else:
        print("\nPyAirbyte is not installed here: landing JSON lines instead of DuckDB")
    return land_json_lines(config_path, work, streams, started, json_lines_dir)


def land_in_duckdb(pyairbyte: Path, config_path: Path, stream_filter: str | None) -> int:
    """PyAirbyte reads every stream with this venv's source-sfmc into its DuckDB cache; its output is shown."""
    print("\nreading every stream into DuckDB through PyAirbyte")
    command = [str(pyairbyte), str(ROOT / "scripts" / "land_duckdb.py"), "--config", str(config_path)]
    command += ["--executable", str(Path(sys.executable).parent / "source-sfmc")]
    if stream_filter:
        command += ["--streams", stream_filter]
    return subprocess.run(command, cwd=ROOT).returncode


def land_json_lines(config_path: Path, work: Path, streams: list[dict], started: float, json_lines_dir: Path) -> int:
    """`source-sfmc read` of every stream; each stream's records in <json_lines_dir>/<stream>.jsonl."""
    configured = {
        "streams": [
            {
                "stream": stream,
                "sync_mode": "incremental" if "incremental" in stream["supported_sync_modes"] else "full_refresh",
                "destination_sync_mode": "append_dedup"
                if "incremental" in stream["supported_sync_modes"]
                else "overwrite",
                **({"cursor_field": stream["default_cursor_field"]} if stream.get("default_cursor_field") else {}),
                "primary_key": stream.get("source_defined_primary_key") or [],
            }
            for stream in streams
        ]
    }
    catalog_path = work / "catalog.json"
    catalog_path.write_text(json.dumps(configured))
    messages = connector("read", "--config", str(config_path), "--catalog", str(catalog_path))
    records = Counter(m["record"]["stream"] for m in messages if m["type"] == "RECORD")
    states = Counter(m["state"]["stream"]["stream_descriptor"]["name"] for m in messages if m["type"] == "STATE")
    errors = [m for m in messages if m["type"] == "TRACE" and m["trace"].get("type") == "ERROR"]
    json_lines_dir.mkdir(parents=True, exist_ok=True)
    for stream in streams:
        lines = [
            json.dumps(m["record"]["data"]) + "\n"
            for m in messages
            if m["type"] == "RECORD" and m["record"]["stream"] == stream["name"]
        ]
        (json_lines_dir / f"{stream['name']}.jsonl").write_text("".join(lines))

    print(f"\n{'stream':<32}{'records':>10}{'states':>8}")
    for stream in streams:
        print(f"{stream['name']:<32}{records[stream['name']]:>10}{states[stream['name']]:>8}")
    print(f"{'total':<32}{sum(records.values()):>10}{sum(states.values()):>8}")
    unchanged = [
        c["stream"]["name"]
        for c in configured["streams"]
        if c["sync_mode"] == "incremental" and not records[c["stream"]["name"]]
    ]
    if unchanged:
        print(f"(read incrementally from start_date: nothing in {', '.join(unchanged)} changed since then)")
    print(f"\nread: {'FAILED' if errors else 'ok'} in {time.monotonic() - started:.1f} s")
    print(f"records: one JSON-lines file per stream in {json_lines_dir}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
