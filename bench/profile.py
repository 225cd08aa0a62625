"""Where a `sent_events` record's CPU goes: `.venv/bin/python -m bench.profile`.

Fetches a few real pages from a sandbox process, then times each stage of the connector's per-record path on
them, single-threaded, in microseconds per record: parsing the body, typing and the entity_id, the CDK's
per-record wrapping in the worker (`StreamPartition.read`: copy, transform, `Record`), the hand-off through the
record queue, the record message the main thread builds, and its serialisation to a line. The stages add up to
what one record costs without threads; a read's measured CPU per record minus this sum is the cost of the
threads themselves (GIL hand-offs, lock waits).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from queue import Queue
from typing import Any

import requests
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.sources.types import Record
from airbyte_cdk.sources.utils.record_helper import stream_data_to_airbyte_message
from airbyte_cdk.sources.utils.transform import TransformConfig, TypeTransformer

from bench.sandbox import SandboxProcess
from source_sfmc.config import parse_config
from source_sfmc.errors import parsed_body
from source_sfmc.soap.envelope import SOAP_ACTION_HEADERS
from source_sfmc.soap.parse import parse_retrieve
from source_sfmc.source import SourceSfmc

STREAM = "sent_events"


def fetch_pages(config: dict[str, Any], pages: int) -> tuple[Any, list[bytes]]:
    """The stream object and the bodies of its first `pages` pages, fetched as the connector fetches them."""
    source = SourceSfmc()
    stream = next(s for s in source.streams(config) if s.name == STREAM)._legacy_stream
    bodies: list[bytes] = []
    for window in stream.stream_slices(sync_mode=None):
        request_id = None
        while len(bodies) < pages:
            response = requests.post(
                stream.url_base, data=stream.envelope(window, request_id), headers=SOAP_ACTION_HEADERS, timeout=60
            )
            page = parse_retrieve(response.content)
            if page.results:
                bodies.append(response.content)
            if page.overall_status != "MoreDataAvailable":
                break
            request_id = page.request_id
        if len(bodies) >= pages:
            break
    return stream, bodies


def per_record(label: str, records: int, run: Callable[[], Any], repeat: int = 3) -> float:
    best = min(_timed(run) for _ in range(repeat))
    micros = best / records * 1e6
    print(f"{label:<58} {micros:6.2f} µs/record")
    return micros


def _timed(run: Callable[[], Any]) -> float:
    started = time.process_time()
    run()
    return time.process_time() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=4)
    args = parser.parse_args(argv)
    with SandboxProcess(scale=2, latency_ms=0) as sandbox:
        config = sandbox.config(start_date="2025-01-01T00:00:00Z")
        parse_config(config)
        stream, bodies = fetch_pages(config, args.pages)
    pages = [_page_of(stream, body) for body in bodies]
    records = [record for page in pages for record in stream.records_of(page.results)]
    n = len(records)
    print(f"{STREAM}: {len(bodies)} pages, {n} records, {sum(map(len, bodies)) / n:.0f} bytes a record")
    total = 0.0
    total += per_record("parse (bytes -> page of records)", n, lambda: [_page_of(stream, b) for b in bodies])
    total += per_record(
        "typing and entity_id (records_of)",
        n,
        lambda: [r for p in pages for r in stream.records_of(p.results)],
    )
    transformer = TypeTransformer(TransformConfig.NoTransform)
    schema = stream.get_json_schema()

    def wrap() -> list[Record]:
        out = []
        for record in records:
            data = dict(record)
            transformer.transform(data, schema)
            out.append(Record(data=data, stream_name=STREAM, associated_slice=None))
        return out

    total += per_record("CDK worker: copy, transform, Record (StreamPartition.read)", n, wrap)
    wrapped = wrap()

    def hand_off() -> None:
        queue: Queue[Any] = Queue(maxsize=10_000)
        for chunk in range(0, n, 5000):
            for record in wrapped[chunk : chunk + 5000]:
                queue.put(record)
            while not queue.empty():
                queue.get()

    total += per_record("record queue put + get (no contention)", n, hand_off)

    def messages() -> list[Any]:
        return [stream_data_to_airbyte_message(STREAM, r.data) for r in wrapped]

    total += per_record("CDK main: record message (on_record)", n, messages)
    built = messages()
    total += per_record(
        "serialise (airbyte_message_to_string)",
        n,
        lambda: [AirbyteEntrypoint.airbyte_message_to_string(m) for m in built],
    )
    print(f"{'sum of the stages':<58} {total:6.2f} µs/record")
    return 0


def _page_of(stream: Any, body: bytes) -> Any:
    response = requests.Response()
    response._content = body
    response.status_code = 200
    # The request the page answers: it says which object was retrieved (so the parser types its results).
    response.request = requests.Request(
        "POST", stream.url_base, data=stream.envelope({}), headers=SOAP_ACTION_HEADERS
    ).prepare()
    resolution = stream.get_error_handler().interpret_response(response)
    assert resolution.response_action.name == "SUCCESS", resolution
    return parsed_body(response)


if __name__ == "__main__":
    sys.exit(main())
