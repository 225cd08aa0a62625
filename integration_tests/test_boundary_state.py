"""Input state never crashes a sync, and no cursor, read or written, is later than now.

A stream whose input state cannot be read or lies in the future restarts from start_date with a warning naming it;
the other streams resume from theirs. A record dated in the future is emitted but does not carry the state past now.
"""

from __future__ import annotations

import json
import re
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from airbyte_cdk.models import (
    AirbyteStateMessage,
    AirbyteStateMessageSerializer,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteCatalogSerializer,
    Level,
)
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, _run_command, make_file, read
from airbyte_cdk.test.models.outcome import ExpectedOutcome

from integration_tests.harness import (
    configured_catalog,
    discovered,
    error_failure_types,
    error_messages,
    final_states,
    once,
    only_unit,
    records_by_stream,
    run_discover,
    stream_state,
)
from integration_tests.sandbox import Sandbox
from integration_tests.standins import Answer, Received, is_token_request, soap_answer, stand_in, token_answer
from source_sfmc.source import SourceSfmc

RESTARTED = "emails"  # the stream whose state each case spoils
RESUMED = "sends"  # a stream with a good state, which must resume from it
GOOD_STATE = {"ModifiedDate": "2025-06-01T00:00:00.000Z"}


def _read_with_state_file(sandbox: Sandbox, state_text: str | None, streams=(RESTARTED, RESUMED)) -> EntrypointOutput:
    catalog = configured_catalog(discovered(sandbox), list(streams))
    with tempfile.TemporaryDirectory() as directory:
        args = [
            "read",
            "--config",
            make_file(Path(directory) / "config.json", sandbox.config()),
            "--catalog",
            make_file(Path(directory) / "catalog.json", ConfiguredAirbyteCatalogSerializer.dump(catalog)),
        ]
        if state_text is not None:
            state_file = Path(directory) / "state.json"
            state_file.write_text(state_text)
            args += ["--state", str(state_file)]
        return _run_command(SourceSfmc(), args, expected_outcome=ExpectedOutcome.EXPECT_EXCEPTION)


def _stream_message(name: str, stream_state_value: Any) -> dict[str, Any]:
    return {"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": stream_state_value}}


def _state_file(restarted_state: Any) -> str:
    return json.dumps([_stream_message(RESTARTED, restarted_state), _stream_message(RESUMED, GOOD_STATE)])


def _warnings(output: EntrypointOutput) -> list[str]:
    return [message.log.message for message in output.logs if message.log.level == Level.WARN]


def _baseline(sandbox: Sandbox) -> dict[str, list[dict[str, Any]]]:
    """Records of a read without state (RESTARTED) and with the good state (RESUMED)."""

    def run() -> dict[str, list[dict[str, Any]]]:
        output = _read_with_state_file(sandbox, json.dumps([_stream_message(RESUMED, GOOD_STATE)]))
        assert error_messages(output) == []
        return records_by_stream(output.records)

    return once(sandbox, "state baseline", run)


def _nested(depth: int) -> dict[str, Any]:
    """{"x": {"x": ... {}}}, `depth` objects deep: valid JSON that Python reads, and copies only with a deep stack."""
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"x": value}
    return value


STREAM_STATE_CASES = {
    "a unit's state with a value nested 900 objects deep": {
        "business_units": {"7281234": {**GOOD_STATE, "junk": _nested(900)}}
    },
    "a state with a value nested 900 objects deep": {**GOOD_STATE, "junk": _nested(900)},
    "a cursor that is not a date": {"ModifiedDate": "not a date"},
    "a null cursor": {"ModifiedDate": None},
    "a list cursor": {"ModifiedDate": [1, 2]},
    "a cursor later than now": {"ModifiedDate": "2099-01-01T00:00:00.000Z"},
    # Valid ISO 8601 whose UTC instant no datetime holds: before year 1, after year 9999.
    "a cursor before year 1 in UTC": {"ModifiedDate": "0001-01-01T00:00:00+05:00"},
    "a cursor after year 9999 in UTC": {"ModifiedDate": "9999-12-31T23:00:00-05:00"},
    "slices with a bound that is not a date": {
        "state_type": "date-range",
        "slices": [{"start": "x", "end": "2025-06-01T00:00:00.000Z"}],
    },
    "slices whose start is after their end": {
        "state_type": "date-range",
        "slices": [{"start": "2025-06-01T00:00:00.000Z", "end": "2025-01-01T00:00:00.000Z"}],
    },
    "slices ending after now": {
        "state_type": "date-range",
        "slices": [{"start": "2025-01-01T00:00:00.000Z", "end": "2099-01-01T00:00:00.000Z"}],
    },
    "slices that are not a list": {"state_type": "date-range", "slices": "all of them"},
    "stream_state as a string": "2025-06-01",
    "stream_state as a list": [1, 2],
}


@pytest.mark.parametrize("case", list(STREAM_STATE_CASES))
def test_a_stream_whose_state_cannot_be_trusted_restarts_from_start_date_and_the_others_resume(
    sandbox: Sandbox, case: str
) -> None:
    baseline = _baseline(sandbox)
    output = _read_with_state_file(sandbox, _state_file(STREAM_STATE_CASES[case]))
    assert error_messages(output) == []
    records = records_by_stream(output.records)
    assert len(records[RESTARTED]) == len(baseline[RESTARTED]) > 0
    assert len(records.get(RESUMED, [])) == len(baseline.get(RESUMED, []))
    assert any(f"'{RESTARTED}'" in warning and "from start_date" in warning for warning in _warnings(output))
    assert not any(f"'{RESUMED}'" in warning and "restarts" in warning for warning in _warnings(output))


@pytest.mark.parametrize(
    ("case", "text"),
    [
        ("a legacy dict state", json.dumps({RESTARTED: GOOD_STATE})),
        (
            "a GLOBAL state",
            json.dumps(
                [
                    {
                        "type": "GLOBAL",
                        "global": {
                            "shared_state": {"x": 1},
                            "stream_states": [{"stream_descriptor": {"name": RESTARTED}, "stream_state": GOOD_STATE}],
                        },
                    }
                ]
            ),
        ),
        ("a list of things that are not state messages", json.dumps([1, "two", None])),
    ],
)
def test_a_state_file_in_a_form_this_connector_does_not_write_restarts_its_streams_with_a_warning(
    sandbox: Sandbox, case: str, text: str
) -> None:
    baseline = _baseline(sandbox)
    output = _read_with_state_file(sandbox, text, streams=(RESTARTED,))
    assert error_messages(output) == []
    assert len(records_by_stream(output.records)[RESTARTED]) == len(baseline[RESTARTED])
    assert any("restart from start_date" in warning for warning in _warnings(output))


def test_a_state_file_that_is_not_json_is_a_config_error_that_says_so(sandbox: Sandbox) -> None:
    output = _read_with_state_file(sandbox, "{this is not json")
    assert error_failure_types(output) == {"config_error"}
    assert any("input state" in message and "not a JSON file" in message for message in error_messages(output))


# -- 5. no cursor written later than now ---------------------------------------------------------------------------
_EMAIL = (
    '<Results xsi:type="Email" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    "<ID>{id}</ID><Name>e{id}</Name><ModifiedDate>{modified}</ModifiedDate></Results>"
)


def test_a_record_dated_in_the_future_is_emitted_but_the_state_stays_at_or_before_now(sandbox: Sandbox) -> None:
    rows = _EMAIL.format(id=1, modified="2099-01-01T00:00:00") + _EMAIL.format(id=2, modified="2025-03-01T00:00:00")

    def script(request: Received) -> Answer:
        return token_answer(server.url) if is_token_request(request) else soap_answer(rows)

    with stand_in(script) as server:
        catalog = configured_catalog(discovered(sandbox), [RESTARTED])
        started = datetime.now(UTC)
        config = server.config(start_date="2025-01-01T00:00:00Z", window_days=90)
        output = _run_read(config, catalog)
        finished = datetime.now(UTC)
    assert error_messages(output) == []
    records = records_by_stream(output.records)[RESTARTED]
    assert any(record["ModifiedDate"].startswith("2099") for record in records)
    (state,) = final_states(output.state_messages)
    written = datetime.fromisoformat(only_unit(stream_state(state))["ModifiedDate"].replace("Z", "+00:00"))
    assert written <= finished
    assert written >= started - timedelta(seconds=1)
    future_warnings = [w for w in _warnings(output) if "ModifiedDate" in w and "2099" in w]
    assert len(future_warnings) == 1


def _run_read(
    config: dict[str, Any], catalog: ConfiguredAirbyteCatalog, state: list[AirbyteStateMessage] | None = None
) -> EntrypointOutput:
    return read(SourceSfmc(), config, catalog, state, expected_outcome=ExpectedOutcome.EXPECT_EXCEPTION)


def _data_extension_script(server_url: str, rows: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
    """A stand-in with one data extension, 'orders' (OrderID primary key, ModifiedDate), holding `rows`."""
    de = (
        '<Results xsi:type="DataExtension" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<ObjectID>de-1</ObjectID><CustomerKey>orders</CustomerKey><Name>Orders</Name></Results>"
    )
    field = (
        '<Results xsi:type="DataExtensionField" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<ObjectID>f-{n}</ObjectID><Name>{name}</Name><FieldType>{type}</FieldType><IsPrimaryKey>{pk}</IsPrimaryKey>"
        "<Ordinal>{n}</Ordinal><DataExtension><CustomerKey>orders</CustomerKey></DataExtension></Results>"
    )
    fields = field.format(n=0, name="OrderID", type="Text", pk="true") + field.format(
        n=1, name="ModifiedDate", type="Date", pk="false"
    )
    row = (
        '<Results xsi:type="DataExtensionObject" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><Properties>'
        "<Property><Name>OrderID</Name><Value>{id}</Value></Property>"
        "<Property><Name>ModifiedDate</Name><Value>{modified}</Value></Property></Properties></Results>"
    )
    row_results = "".join(row.format(id=order_id, modified=modified) for order_id, modified in rows)

    def script(request: Received) -> Answer:
        if is_token_request(request):
            return token_answer(server_url)
        object_type = re.search(rb"<ObjectType>([^<]+)</ObjectType>", request.body)
        kind = object_type.group(1).decode() if object_type else ""
        if kind == "DataExtension":
            return soap_answer(de)
        if kind == "DataExtensionField":
            return soap_answer(fields)
        if kind.startswith("DataExtensionObject"):
            return soap_answer(row_results)
        return soap_answer("")

    return script


def test_a_data_extension_row_dated_2099_does_not_move_the_state_past_now(sandbox: Sandbox) -> None:
    rows = [("A-1", "1/1/2099 12:00:00 AM"), ("A-2", "3/1/2025 12:00:00 AM")]
    holder: dict[str, Any] = {}
    with stand_in(lambda request: holder["script"](request)) as server:
        holder["script"] = _data_extension_script(server.url, rows)
        config = server.config(start_date="2025-01-01T00:00:00Z")
        catalog = run_discover(config)
        (name,) = [stream.name for stream in catalog.streams if stream.name.startswith("data_extension__")]
        configured = configured_catalog(catalog, [name])
        configured.streams[0].cursor_field = ["ModifiedDate"]
        output = _run_read(config, configured)
        finished = datetime.now(UTC)
        assert error_messages(output) == []
        assert len(records_by_stream(output.records)[name]) == 2
        (state,) = final_states(output.state_messages)
        written = datetime.fromisoformat(only_unit(stream_state(state))["ModifiedDate"].replace("Z", "+00:00"))
        assert written <= finished
        assert sum("2099" in warning for warning in _warnings(output)) == 1

        # The next sync still retrieves rows: the state did not jump to 2099.
        before = len(server.received)
        second = _run_read(config, configured, [state])
        assert error_messages(second) == []
        assert any(b"DataExtensionObject" in request.body for request in server.received[before:])


@pytest.mark.parametrize("offset_hours", [5, 14, -11])
def test_a_cursor_written_with_a_utc_offset_resumes_from_that_instant_and_writes_it_back_in_utc(
    sandbox: Sandbox, offset_hours: int
) -> None:
    # Three hours ago, written at another offset: a past instant, which must neither read from nor write a future one.
    instant = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0)
    cursor = instant.astimezone(timezone(timedelta(hours=offset_hours))).isoformat()
    sent: list[bytes] = []

    def script(request: Received) -> Answer:
        if is_token_request(request):
            return token_answer(server.url)
        sent.extend(re.findall(rb"<DateValue>([^<]+)</DateValue>", request.body)[:1])
        return soap_answer("")

    with stand_in(script) as server:
        catalog = configured_catalog(discovered(sandbox), [RESTARTED])
        config = server.config(start_date="2025-01-01T00:00:00Z", lookback_hours=0)
        state = [AirbyteStateMessageSerializer.load(_stream_message(RESTARTED, {"ModifiedDate": cursor}))]
        output = _run_read(config, catalog, state)
    assert error_messages(output) == []
    utc_text = instant.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert sent[0].decode() == utc_text
    (final,) = final_states(output.state_messages)
    assert only_unit(stream_state(final)) == {"ModifiedDate": utc_text}
