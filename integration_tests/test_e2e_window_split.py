"""Windows that shrink, end to end: against a sandbox that times out on retrieves matching more than N records
(as SFMC does on dense windows), `source-sfmc read` splits windows in halves, keeps the smaller span for the rest
of the stream, checkpoints as usual and yields exactly the records of a clean sync; a window that times out even
at an hour fails the stream with a message saying so."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from integration_tests import harness
from integration_tests.sandbox import Sandbox, start_sandbox
from integration_tests.sandbox.server import DEFAULT_START_DATE
from source_sfmc.window_split import span_text

SCALE = 0.1
WINDOW_DAYS = 30
STREAM = "sent_events"


def catalog() -> dict[str, Any]:
    return {
        "streams": [
            {
                "stream": {
                    "name": STREAM,
                    "json_schema": {"type": "object"},
                    "supported_sync_modes": ["full_refresh", "incremental"],
                    "source_defined_cursor": True,
                    "default_cursor_field": ["EventDate"],
                    "source_defined_primary_key": [["entity_id"]],
                },
                "sync_mode": "incremental",
                "destination_sync_mode": "append_dedup",
                "cursor_field": ["EventDate"],
                "primary_key": [["entity_id"]],
            }
        ]
    }


def console_read(sandbox: Sandbox, **config: Any) -> tuple[int, list[dict[str, Any]], str]:
    settings = {"window_days": WINDOW_DAYS, "num_workers": 1, **config}
    return harness.run_console(
        "read",
        "--config",
        "{config}",
        "--catalog",
        "{catalog}",
        files={"config": sandbox.config(**settings), "catalog": catalog()},
    )


def records(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [message["record"]["data"] for message in messages if message["type"] == "RECORD"]


def states(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        harness.only_unit(message["state"]["stream"]["stream_state"])
        for message in messages
        if message["type"] == "STATE"
    ]


def logged(messages: list[dict[str, Any]], text: str) -> list[str]:
    return [m["log"]["message"] for m in messages if m["type"] == "LOG" and text in m["log"]["message"]]


@pytest.fixture(scope="module")
def clean() -> Iterator[list[dict[str, Any]]]:
    with start_sandbox(port=0, scale=SCALE) as sandbox:
        code, messages, printed = console_read(sandbox)
    assert code == 0, printed[-2000:]
    yield messages


@pytest.fixture(scope="module")
def densest_window(clean: list[dict[str, Any]]) -> int:
    by_window: dict[int, int] = {}
    start = harness.parse_datetime(DEFAULT_START_DATE)
    for record in records(clean):
        window = (harness.parse_datetime(record["EventDate"]) - start).days // WINDOW_DAYS
        by_window[window] = by_window.get(window, 0) + 1
    return max(by_window.values())


@pytest.fixture(scope="module")
def split(densest_window: int) -> Iterator[tuple[int, list[dict[str, Any]], str]]:
    """A read against a sandbox that times out on a quarter of the densest window: it must split twice or more."""
    with start_sandbox(port=0, scale=SCALE, timeout_above=densest_window // 4) as sandbox:
        yield console_read(sandbox)


def test_a_read_whose_windows_time_out_succeeds(split):
    code, messages, printed = split
    assert code == 0, printed[-2000:]
    assert not [m for m in messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]


def test_it_yields_exactly_the_records_of_a_clean_read(split, clean):
    assert sorted(r["entity_id"] for r in records(split[1])) == sorted(r["entity_id"] for r in records(clean))


def test_windows_were_split(split):
    assert logged(split[1], "reading it in two halves")


def test_the_smaller_span_is_kept_for_the_next_windows(split):
    spans = [
        harness.parse_datetime(upper) - harness.parse_datetime(lower)
        for lower, upper in (
            re.search(r"timed out on (\S+) to (\S+);", line).groups() for line in logged(split[1], "timed out on")
        )
    ]
    # Every 30-day window is dense, but only the first one is ever asked for whole: the others start in pieces.
    assert spans.count(timedelta(days=WINDOW_DAYS)) == 1
    assert len(spans) > 1


def test_it_checkpoints_after_every_window_as_a_clean_read_does(split, clean):
    assert states(split[1]) == states(clean)


@pytest.fixture(scope="module")
def too_dense() -> Iterator[tuple[int, list[dict[str, Any]], str]]:
    """A sandbox that times out on every retrieve that matches any record."""
    with start_sandbox(port=0, scale=SCALE, timeout_above=0) as sandbox:
        yield console_read(sandbox)


def test_a_window_timing_out_even_at_an_hour_fails_the_stream_with_a_clear_message(too_dense):
    code, messages, _ = too_dense
    assert code != 0
    errors = [m["trace"]["error"] for m in messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]
    failure = next(error for error in errors if "timed out" in error["message"])
    assert failure["message"].startswith(f"Stream '{STREAM}', window ")
    assert "Marketing Cloud timed out 3 times retrieving SentEvent between" in failure["message"]
    between = re.search(r"between (\S+) and (\S+) \(a piece of ([^;]+);", failure["message"])
    assert between, failure["message"]
    span = harness.parse_datetime(between[2]) - harness.parse_datetime(between[1])
    assert span <= timedelta(hours=1) and between[3] == span_text(span)  # what was really read, not the floor
    assert failure["failure_type"] == "transient_error"
    assert "Traceback" not in json.dumps(failure["message"])


def test_no_state_passes_the_window_that_failed(too_dense):
    _, messages, _ = too_dense
    failure = next(
        m["trace"]["error"]["message"]
        for m in messages
        if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR" and "timed out" in m["trace"]["error"]["message"]
    )
    window_start = harness.parse_datetime(re.search(r"window (\S+) to ", failure).group(1))
    assert all(harness.parse_datetime(state["EventDate"]) <= window_start for state in states(messages))


def test_the_closing_error_names_the_stream_once_however_many_windows_timed_out(too_dense):
    _, messages, _ = too_dense
    errors = [m["trace"]["error"] for m in messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]
    windows_failed = sum(1 for error in errors if "timed out" in error["message"] and error.get("stream_descriptor"))
    final = errors[-1]
    assert final.get("stream_descriptor") is None and windows_failed > 1
    # Each window's timeout names its own piece's dates and span; they are one reason, not one line per window.
    assert final["message"].count(STREAM) == 1, final["message"]
    assert f"{STREAM} ({windows_failed} windows" in final["message"]
    assert final["message"].count("timed out") == 1 and len(final["message"]) < 800
