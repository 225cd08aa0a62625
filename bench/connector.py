"""`source-sfmc read` as a child process writing to a file, measured from outside (wall, CPU, peak RSS)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SOURCE = Path(sys.executable).parent / "source-sfmc"


@dataclass
class ReadRun:
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    exit_code: int
    output: Path


@dataclass
class StreamOutput:
    """What one stream emitted, in order: cursor values of its records and the states between them."""

    records: int = 0
    cursor_values: list[str] = field(default_factory=list)
    # (records emitted before this state, the state's stream_state)
    states: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


def configured_catalog(streams: list[str], *, incremental: bool, cursor: str = "EventDate") -> dict[str, Any]:
    """A catalog for the given streams; the connector fills in the schema itself, so a minimal one is enough."""
    mode = "incremental" if incremental else "full_refresh"
    return {
        "streams": [
            {
                "stream": {
                    "name": name,
                    "json_schema": {"type": "object"},
                    "supported_sync_modes": ["full_refresh", "incremental"],
                    "source_defined_cursor": True,
                    "default_cursor_field": [cursor],
                    "source_defined_primary_key": [["entity_id"]],
                },
                "sync_mode": mode,
                "destination_sync_mode": "append_dedup" if incremental else "overwrite",
                "cursor_field": [cursor],
                "primary_key": [["entity_id"]],
            }
            for name in streams
        ]
    }


def run_read(config: dict[str, Any], catalog: dict[str, Any], workdir: Path, label: str) -> ReadRun:
    config_path, catalog_path = workdir / f"{label}.config.json", workdir / f"{label}.catalog.json"
    config_path.write_text(json.dumps(config))
    catalog_path.write_text(json.dumps(catalog))
    output = workdir / f"{label}.jsonl"
    with output.open("wb") as out, (workdir / f"{label}.stderr").open("wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(SOURCE), "read", "--config", str(config_path), "--catalog", str(catalog_path)],
            stdout=out,
            stderr=err,
        )
        # wait4 gives the usage of exactly this child, not of every child this process ever waited for.
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return ReadRun(
        wall_seconds=wall,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
        exit_code=process.returncode,
        output=output,
    )


def scan_output(path: Path, cursor: str = "EventDate") -> tuple[dict[str, StreamOutput], list[str]]:
    """Per-stream records and states of a read's output, and the messages of any error traces."""
    streams: dict[str, StreamOutput] = defaultdict(StreamOutput)
    errors: list[str] = []
    with path.open("rb") as lines:
        for line in lines:
            if not line.startswith(b"{"):
                continue
            message = json.loads(line)
            kind = message.get("type")
            if kind == "RECORD":
                record = message["record"]
                stream = streams[record["stream"]]
                stream.records += 1
                value = record["data"].get(cursor)
                if value is not None:
                    stream.cursor_values.append(value)
            elif kind == "STATE":
                state = message["state"].get("stream") or {}
                name = state.get("stream_descriptor", {}).get("name")
                if name is not None:
                    stream = streams[name]
                    stream.states.append((stream.records, state.get("stream_state") or {}))
            elif kind == "TRACE" and message["trace"].get("type") == "ERROR":
                errors.append(message["trace"]["error"].get("message", ""))
    return dict(streams), errors
