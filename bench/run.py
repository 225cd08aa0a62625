"""Benchmark of `source-sfmc read` against the local sandbox: `.venv/bin/python -m bench.run`.

Three scenarios, each with its own sandbox process:

- throughput: each stream read alone at `--scale` with no latency, output to a file; records, wall and CPU
  seconds, peak RSS and requests per stream, next to the floor (lxml iterparse of the same pages).
- memory: `sent_events` read at two scales (about 100,000 and 1,000,000 events); peak RSS should not grow.
- latency: several event streams over 12 windows with `--latency-ms` per request, incremental, with
  `num_workers` 4 and 1; wall time against pages x latency / workers, and every checkpoint checked against the
  records emitted before it.

Results go to a JSON file and a short table on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.connector import StreamOutput, configured_catalog, run_read, scan_output
from bench.floor import run_floor
from bench.sandbox import RequestClock, SandboxProcess
from source_sfmc.soap.streams import SOAP_OBJECTS

PAGE_SIZE = 2500  # records per SOAP page when no BatchSize is asked for
START_DATE = "2025-01-01T00:00:00Z"
LATENCY_STREAMS = ("sent_events", "open_events", "click_events", "bounce_events")
LATENCY_WINDOWS = 12
SENT_EVENTS_PER_SCALE = 13_640  # measured at seed 42; the memory scenario aims at 1e5 and 1e6 events with it


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=40, help="sandbox scale of the throughput scenario")
    parser.add_argument("--streams", default="sent_events", help="comma-separated streams to read one by one")
    parser.add_argument("--num-workers", default="1,4", help="comma-separated num_workers of the throughput reads")
    parser.add_argument("--latency-ms", type=float, default=500, help="per-request delay of the latency scenario")
    parser.add_argument("--latency-scale", type=float, default=1, help="sandbox scale of the latency scenario")
    parser.add_argument("--memory-events", default="100000,1000000", help="sent events of the two memory reads")
    parser.add_argument("--scenarios", default="throughput,memory,latency", help="any of throughput, memory, latency")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "results.json")
    args = parser.parse_args(argv)

    scenarios = {name.strip() for name in args.scenarios.split(",") if name.strip()}
    results: dict[str, Any] = {"machine": machine(), "started_at": datetime.now(UTC).isoformat(timespec="seconds")}
    with tempfile.TemporaryDirectory(prefix="sfmc-bench-") as workdir:
        work = Path(workdir)
        if "throughput" in scenarios:
            streams = [name.strip() for name in args.streams.split(",") if name.strip()]
            worker_counts = [int(n) for n in args.num_workers.split(",") if n.strip()]
            results["throughput"] = throughput(work, args.scale, streams, worker_counts)
        if "memory" in scenarios:
            events = [int(float(n)) for n in args.memory_events.split(",")]
            results["memory"] = memory(work, events)
        if "latency" in scenarios:
            results["latency"] = latency(work, args.latency_scale, args.latency_ms)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"\nresults: {args.out}")
    return 0


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line), "?")
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem_kb = next((int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal")), 0)
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
    }


# -- throughput -----------------------------------------------------------------------------------------------
def throughput(work: Path, scale: float, streams: list[str], worker_counts: list[int]) -> dict[str, Any]:
    """Each stream read once per worker count, between two runs of the floor (the machine's load changes from
    minute to minute, so the floor is measured before and after the reads and the connector compared to their
    mean)."""
    print(f"== throughput: scale {scale}, no latency, one read per stream and num_workers {worker_counts}")
    rows = []
    with SandboxProcess(scale, 0) as sandbox:
        for name in streams:
            floors = [floor_of(sandbox.config(start_date=START_DATE), name, work)]
            for workers in worker_counts:
                rows.append(read_throughput(sandbox, name, workers, work))
            floors.append(floor_of(sandbox.config(start_date=START_DATE), name, work))
            floor = {
                key: round(sum(f[key] for f in floors) / len(floors), 1) if "per_" in key else floors[0][key]
                for key in floors[0]
            }
            floor["runs"] = floors
            for row in rows:
                if row["stream"] == name:
                    row["floor"] = floor
                    row["ratio_to_floor"] = round(
                        row["records_per_second"] / floor["fetch_parse_write_records_per_second"], 2
                    )
                    row["ratio_to_parse_floor"] = round(
                        row["records_per_second"] / floor["parse_write_records_per_second"], 2
                    )
                    # The same comparison in CPU per record, which the machine's load moves far less than wall time.
                    row["cpu_ratio_to_floor"] = round(floor["cpu_us_per_record"] / row["cpu_us_per_record"], 2)
    print_table(
        rows,
        [
            ("stream", "stream", 16),
            ("workers", "num_workers", 8),
            ("records", "records", 9),
            ("wall s", "wall_seconds", 7),
            ("rec/s", "records_per_second", 7),
            ("cpu s", "cpu_seconds", 7),
            ("us/rec", "cpu_us_per_record", 7),
            ("rss MB", "peak_rss_mb", 7),
            ("requests", "requests", 9),
            ("expected", "expected_requests", 9),
            ("tokens", "token_requests", 7),
            ("x floor", "ratio_to_floor", 8),
        ],
    )
    for row in rows:
        floor = row["floor"]
        runs = ", ".join(str(run["fetch_parse_write_records_per_second"]) for run in floor["runs"])
        print(
            f"floor {row['stream']}: {floor['records']} records, fetch+parse+write "
            f"{floor['fetch_parse_write_records_per_second']} rec/s (runs: {runs}), parse+write alone "
            f"{floor['parse_write_records_per_second']} rec/s; connector with "
            f"{row['num_workers']} workers = {row['ratio_to_floor']:.0%} of the fetching floor, "
            f"{row['ratio_to_parse_floor']:.0%} of the parse-only floor; in CPU per record, the floor's "
            f"{floor['cpu_us_per_record']} µs against the connector's {row['cpu_us_per_record']} µs "
            f"({row['cpu_ratio_to_floor']:.0%})"
        )
    return {"scale": scale, "worker_counts": worker_counts, "streams": rows}


def read_throughput(sandbox: SandboxProcess, name: str, workers: int, work: Path) -> dict[str, Any]:
    config = sandbox.config(start_date=START_DATE, num_workers=workers)
    sandbox.reset_stats()
    run = run_read(config, configured_catalog([name], incremental=False), work, name)
    stats = sandbox.stats()
    outputs, errors = scan_output(run.output)
    output = outputs.get(name, StreamOutput())
    run.output.unlink()
    return {
        "stream": name,
        "num_workers": workers,
        "records": output.records,
        "wall_seconds": round(run.wall_seconds, 2),
        "records_per_second": round(output.records / run.wall_seconds),
        "cpu_seconds": round(run.cpu_seconds, 2),
        "cpu_us_per_record": round(run.cpu_seconds / output.records * 1e6, 1) if output.records else None,
        "peak_rss_mb": round(run.peak_rss_mb, 1),
        **requests_made(stats, name, output, config),
        "errors": errors,
        "exit_code": run.exit_code,
    }


def floor_of(config: dict[str, Any], name: str, work: Path) -> dict[str, Any]:
    floor_run = run_floor(config, name, work / f"{name}.floor.jsonl")
    (work / f"{name}.floor.jsonl").unlink()
    return {
        "records": floor_run.records,
        "pages": floor_run.pages,
        "fetch_parse_write_seconds": round(floor_run.wall_seconds, 2),
        "fetch_parse_write_records_per_second": round(floor_run.records_per_second),
        "parse_write_seconds": round(floor_run.parse_write_seconds, 2),
        "parse_write_records_per_second": round(floor_run.parse_write_records_per_second),
        "cpu_us_per_record": round(floor_run.cpu_seconds / floor_run.records * 1e6, 1) if floor_run.records else None,
    }


def requests_made(stats: dict[str, Any], stream: str, output: StreamOutput, config: dict[str, Any]) -> dict[str, Any]:
    """Requests the sandbox counted for the stream's object, the fewest that could read the records seen (one
    per page), and every other request of the sync by what it asked for."""
    object_type = object_type_of(stream)
    soap = dict(stats["requests"]["soap"])
    return {
        "requests": soap.pop(object_type, 0),
        "expected_requests": expected_pages(output.cursor_values, config),
        "other_requests": {**soap, **stats["requests"]["rest"]},
        "token_requests": stats["requests"]["token"],
        "tokens_issued": stats["tokens_issued"],
    }


def object_type_of(stream: str) -> str:
    return next(spec.object_type for spec in SOAP_OBJECTS if spec.stream_name == stream)


def expected_pages(cursor_values: list[str], config: dict[str, Any]) -> int:
    """One page per PAGE_SIZE records of each window, and one (empty) page for a window without records."""
    start = parse_instant(config["start_date"])
    step = timedelta(days=config.get("window_days", 30))
    windows = math.ceil((datetime.now(UTC) - start) / step)
    per_window = [0] * windows
    for value in cursor_values:
        index = int((parse_instant(value) - start) / step)
        if 0 <= index < windows:
            per_window[index] += 1
    return sum(max(1, math.ceil(count / PAGE_SIZE)) for count in per_window)


def parse_instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# -- memory ---------------------------------------------------------------------------------------------------
def memory(work: Path, event_counts: list[int]) -> dict[str, Any]:
    print(f"\n== memory: sent_events at {', '.join(f'{n:,}' for n in event_counts)} events")
    rows = []
    for events in event_counts:
        scale = round(events / SENT_EVENTS_PER_SCALE, 2)
        with SandboxProcess(scale, 0) as sandbox:
            config = sandbox.config(start_date=START_DATE)
            run = run_read(config, configured_catalog(["sent_events"], incremental=False), work, f"memory{events}")
            outputs, errors = scan_output(run.output)
            run.output.unlink()
            records = outputs.get("sent_events", StreamOutput()).records
            rows.append(
                {
                    "scale": scale,
                    "records": records,
                    "wall_seconds": round(run.wall_seconds, 2),
                    "records_per_second": round(records / run.wall_seconds),
                    "cpu_seconds": round(run.cpu_seconds, 2),
                    "peak_rss_mb": round(run.peak_rss_mb, 1),
                    "errors": errors,
                }
            )
    print_table(
        rows,
        [
            ("scale", "scale", 7),
            ("records", "records", 9),
            ("wall s", "wall_seconds", 7),
            ("rec/s", "records_per_second", 7),
            ("rss MB", "peak_rss_mb", 7),
        ],
    )
    growth = rows[-1]["peak_rss_mb"] / rows[0]["peak_rss_mb"] - 1 if len(rows) > 1 else 0.0
    print(f"peak RSS growth from the smallest to the largest read: {growth:+.0%}")
    return {"reads": rows, "rss_growth": round(growth, 3)}


# -- latency --------------------------------------------------------------------------------------------------
def latency(work: Path, scale: float, latency_ms: float) -> dict[str, Any]:
    start = parse_instant(START_DATE)
    window_days = min(90, math.ceil((datetime.now(UTC) - start).days / LATENCY_WINDOWS + 1))
    windows = math.ceil((datetime.now(UTC) - start) / timedelta(days=window_days))
    print(
        f"\n== latency: {latency_ms:g} ms per request, scale {scale}, {', '.join(LATENCY_STREAMS)}, "
        f"{windows} windows of {window_days} days, incremental"
    )
    rows = []
    with SandboxProcess(scale, latency_ms) as sandbox:
        for workers in (4, 1):
            config = sandbox.config(start_date=START_DATE, window_days=window_days, num_workers=workers)
            sandbox.reset_stats()
            with RequestClock(sandbox) as clock:
                run = run_read(
                    config, configured_catalog(list(LATENCY_STREAMS), incremental=True), work, f"latency{workers}"
                )
            stats = sandbox.stats()
            outputs, errors = scan_output(run.output)
            run.output.unlink()
            soap = dict(stats["requests"]["soap"])
            pages = sum(soap.pop(object_type_of(name), 0) for name in LATENCY_STREAMS)
            ideal = pages * latency_ms / 1000 / workers
            expected = sum(
                expected_pages(outputs.get(s, StreamOutput()).cursor_values, config) for s in LATENCY_STREAMS
            )
            rows.append(
                {
                    "num_workers": workers,
                    "records": sum(o.records for o in outputs.values()),
                    "pages": pages,
                    "expected_pages": expected,
                    "other_requests": {**soap, **stats["requests"]["rest"]},
                    "token_requests": stats["requests"]["token"],
                    "wall_seconds": round(run.wall_seconds, 2),
                    "ideal_seconds": round(ideal, 2),
                    "ratio_to_ideal": round(run.wall_seconds / ideal, 2) if ideal else None,
                    # Process start-up (imports) before the first request, and the span the requests took.
                    "first_request_at": round(clock.first_request_at or 0, 2),
                    "request_span_seconds": round(run.wall_seconds - (clock.first_request_at or 0), 2),
                    "span_ratio_to_ideal": (
                        round((run.wall_seconds - (clock.first_request_at or 0)) / ideal, 2) if ideal else None
                    ),
                    "cpu_seconds": round(run.cpu_seconds, 2),
                    "states": sum(len(o.states) for o in outputs.values()),
                    "checkpoint_violations": sum(checkpoint_violations(o) for o in outputs.values()),
                    "per_stream": {
                        name: {"records": o.records, "states": len(o.states)} for name, o in outputs.items()
                    },
                    "errors": errors,
                }
            )
        # The sequential reference: the same pages fetched one after another by the floor reader.
        config = sandbox.config(start_date=START_DATE, window_days=window_days)
        floors = [run_floor(config, name, work / f"{name}.sequential.jsonl") for name in LATENCY_STREAMS]
        sequential = sum(floor.wall_seconds for floor in floors)
    for row in rows:
        row["sequential_seconds"] = round(sequential, 2)
        row["span_ratio_to_sequential"] = round(row["request_span_seconds"] / sequential, 2)
    print_table(
        rows,
        [
            ("workers", "num_workers", 8),
            ("records", "records", 9),
            ("pages", "pages", 6),
            ("expected", "expected_pages", 9),
            ("tokens", "token_requests", 7),
            ("wall s", "wall_seconds", 7),
            ("ideal s", "ideal_seconds", 8),
            ("x ideal", "ratio_to_ideal", 8),
            ("startup", "first_request_at", 8),
            ("span x", "span_ratio_to_ideal", 7),
            ("x seq", "span_ratio_to_sequential", 6),
            ("states", "states", 7),
            ("bad ckpt", "checkpoint_violations", 9),
        ],
    )
    print(
        f"sequential fetch of the same {sum(f.pages for f in floors)} pages: {sequential:.2f} s; other requests: "
        f"{rows[0]['other_requests']}"
    )
    return {"latency_ms": latency_ms, "scale": scale, "window_days": window_days, "windows": windows, "reads": rows}


def checkpoint_violations(output: StreamOutput) -> int:
    """Records emitted after a state whose slices already covered their cursor value (should be none)."""
    instants = [parse_instant(value) for value in output.cursor_values]
    violations = 0
    for emitted_before, state in output.states:
        covered = [
            (parse_instant(piece["start"]), parse_instant(piece["end"]))
            for piece in state.get("slices", [])
            if "start" in piece and "end" in piece
        ]
        violations += sum(1 for at in instants[emitted_before:] if any(lo <= at < hi for lo, hi in covered))
    return violations


def print_table(rows: list[dict[str, Any]], columns: list[tuple[str, str, int]]) -> None:
    print("  ".join(f"{title:>{width}}" for title, _, width in columns))
    for row in rows:
        print("  ".join(f"{_cell(row.get(key)):>{width}}" for _, key, width in columns))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return "-" if value is None else str(value)


if __name__ == "__main__":
    sys.exit(main())
