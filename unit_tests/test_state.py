import copy
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import InMemoryMessageRepository
from airbyte_cdk.sources.streams.concurrent.cursor import CursorField
from airbyte_cdk.sources.streams.concurrent.state_converters.datetime_stream_state_converter import (
    IsoMillisConcurrentStreamStateConverter,
)
from airbyte_cdk.sources.types import Record, StreamSlice
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from hypothesis import given, settings
from hypothesis import strategies as st

from source_sfmc.state import IsoStateConverter, WindowCursor, read_input_state, trusted_stream_state
from source_sfmc.stream_base import WINDOW_END, WINDOW_START, as_window, parse_window_bound

CDK = IsoMillisConcurrentStreamStateConverter()
OURS = IsoStateConverter()


@pytest.mark.parametrize(
    "value",
    [
        "2025-01-03T14:15:27.123000+00:00",
        "2025-01-03T14:15:27+00:00",
        "2025-01-03T08:15:27.123-06:00",
        "2025-01-03T14:15:27.123Z",
        "2025-01-03",
        "2025-01-03T14:15:27",
    ],
)
def test_cursor_values_parse_to_the_same_instant_as_the_cdk_parser(value):
    assert OURS.parse_timestamp(value) == CDK.parse_timestamp(value)


def test_state_is_written_in_the_cdk_format():
    value = OURS.parse_timestamp("2025-01-03T14:15:27.123000+00:00")
    assert OURS.output_format(value) == "2025-01-03T14:15:27.123Z"


# -- a cursor written with any UTC offset is the same instant in UTC --------------------------------------------
def test_a_cursor_with_a_utc_offset_is_written_back_as_the_same_instant_in_utc():
    # 23:11:38 at +05:00 is 18:11:38 UTC; written as-is with a `Z` it would be five hours in the future.
    value = OURS.parse_timestamp("2026-11-29T23:11:38+05:00")
    assert OURS.output_format(value) == "2026-11-29T18:11:38.000Z"


def test_a_cursor_with_a_utc_offset_starts_the_next_window_at_that_instant():
    cursor = _cursor({"ModifiedDate": "2026-11-22T23:11:38+05:00"}, lookback=timedelta(0))
    first = next(iter(cursor.stream_slices()))
    assert parse_window_bound(first[WINDOW_START]) == datetime(2026, 11, 22, 18, 11, 38, tzinfo=UTC)


OFFSETS = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
PAST_INSTANTS = st.datetimes(
    min_value=datetime(1753, 1, 2), max_value=datetime(2026, 11, 22), timezones=st.just(UTC)
).map(lambda instant: instant.replace(microsecond=instant.microsecond // 1000 * 1000))


@settings(max_examples=300, deadline=None)
@given(instant=PAST_INSTANTS, offset=OFFSETS, written_as=st.sampled_from(["isoformat", "dateutil"]))
def test_any_past_cursor_in_any_offset_round_trips_to_the_same_instant_never_after_now(instant, offset, written_as):
    local = instant.astimezone(offset)
    # Both parsers: `fromisoformat` for ISO text, the CDK's general parser for what it cannot read.
    text = local.isoformat() if written_as == "isoformat" else local.strftime("%Y-%m-%d %H:%M:%S.%f %z")
    parsed = OURS.parse_timestamp(text)
    written = OURS.output_format(parsed)
    assert parsed == instant
    assert OURS.parse_timestamp(written) == instant
    assert OURS.parse_timestamp(written) <= NOW


def a_window():
    return StreamSlice(
        partition={}, cursor_slice={WINDOW_START: "2025-01-01T00:00:00.000Z", WINDOW_END: "2025-01-31T00:00:00.000Z"}
    )


def test_window_hashes_and_compares_like_the_cdk_slice():
    window = as_window(a_window())
    assert hash(window) == hash(a_window())
    assert window == a_window()


def test_window_survives_the_deep_copy_the_cdk_makes_of_each_partition():
    window = as_window(a_window())
    hash(window)
    copied = copy.deepcopy(window)
    assert hash(copied) == hash(window)
    assert {window: 1}[copied] == 1


# -- input state is checked, never trusted blindly ---------------------------------------------------------------
NOW = datetime(2026, 11, 23, tzinfo=UTC)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3),
    max_leaves=8,
)
STATE_LIKE = st.fixed_dictionaries(
    {"state_type": st.sampled_from(["date-range", "other"]), "slices": JSON_VALUES}
) | st.dictionaries(st.sampled_from(["ModifiedDate", "other"]), JSON_VALUES, max_size=2)
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


@PROPERTY_SETTINGS
@given(state=JSON_VALUES | STATE_LIKE)
def test_any_input_state_is_either_kept_whole_or_dropped_and_never_raises(state):
    trusted = trusted_stream_state("emails", "ModifiedDate", state, IsoStateConverter(), NOW)
    assert trusted in ({}, state)


@PROPERTY_SETTINGS
@given(state=JSON_VALUES | STATE_LIKE)
def test_a_kept_input_state_builds_a_cursor_whose_windows_end_by_now(state):
    trusted = trusted_stream_state("emails", "ModifiedDate", state, IsoStateConverter(), NOW)
    cursor = _cursor(trusted)
    windows = list(cursor.stream_slices())
    assert all(parse_window_bound(window[WINDOW_END]) <= NOW for window in windows)


@pytest.mark.parametrize(
    "state",
    [
        {"ModifiedDate": "not a date"},
        {"ModifiedDate": None},
        {"ModifiedDate": [1, 2]},
        {"ModifiedDate": "2099-01-01T00:00:00.000Z"},
        {"state_type": "date-range", "slices": [{"start": "x", "end": "2025-01-01T00:00:00.000Z"}]},
        {"state_type": "date-range", "slices": []},
        "2025-01-01",
        [1, 2],
    ],
)
def test_an_input_state_that_cannot_be_trusted_is_dropped(state):
    assert trusted_stream_state("emails", "ModifiedDate", state, IsoStateConverter(), NOW) == {}


def test_a_good_input_state_is_kept():
    state = {"ModifiedDate": "2025-06-01T00:00:00.000Z"}
    assert trusted_stream_state("emails", "ModifiedDate", state, IsoStateConverter(), NOW) == state


@PROPERTY_SETTINGS
@given(content=JSON_VALUES.map(json.dumps) | st.text(max_size=40))
def test_any_state_file_is_read_or_is_a_config_error(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("state") / "state.json"
    path.write_text(content)
    try:
        messages = read_input_state(str(path))
    except AirbyteTracedException as error:
        assert error.failure_type == FailureType.config_error
        assert "input state" in error.message
    else:
        assert all(message.stream is not None for message in messages)


def test_a_state_file_nested_deeper_than_python_can_read_is_a_config_error(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(AirbyteTracedException) as raised:
        read_input_state(str(path))
    assert raised.value.failure_type == FailureType.config_error
    assert "nested too deeply" in raised.value.message


# -- a record dated past its window moves the cursor only to the window's end -------------------------------------
def _cursor(state, lookback=timedelta(hours=24)):
    return WindowCursor(
        stream_name="rows",
        stream_namespace=None,
        stream_state=state,
        message_repository=InMemoryMessageRepository(),
        connector_state_manager=ConnectorStateManager(),
        connector_state_converter=IsoStateConverter(),
        cursor_field=CursorField("ModifiedDate"),
        slice_boundary_fields=(WINDOW_START, WINDOW_END),
        start=datetime(2025, 1, 1, tzinfo=UTC),
        end_provider=lambda: NOW,
        lookback_window=lookback,
        slice_range=timedelta(days=90),
    )


def test_a_record_dated_after_its_window_moves_the_state_only_to_the_window_end(caplog):
    cursor = _cursor({})
    window = as_window(
        StreamSlice(
            partition={},
            cursor_slice={WINDOW_START: "2025-01-01T00:00:00.000Z", WINDOW_END: "2026-11-23T00:00:00.000Z"},
        )
    )
    for modified in ("2099-01-01T00:00:00Z", "2030-05-05T00:00:00Z", "2025-02-01T00:00:00Z"):
        cursor.observe(Record({"ModifiedDate": modified}, stream_name="rows", associated_slice=window))
    cursor.close_partition(_Partition(window))
    assert cursor.state == {"ModifiedDate": "2026-11-23T00:00:00.000Z"}
    future = [r for r in caplog.records if "2099" in r.getMessage()]
    assert len(future) == 1 and "ModifiedDate" in future[0].getMessage()


class _Partition:
    def __init__(self, window):
        self._window = window

    def to_slice(self):
        return self._window


@pytest.mark.parametrize("lookback_hours", [1, 24, 720])
def test_a_first_sync_without_a_start_date_reads_everything_in_one_window_despite_the_lookback(lookback_hours):
    # With no start date and no state the cursor starts at year 1; the lookback must not take it before that.
    from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
    from airbyte_cdk.sources.message import InMemoryMessageRepository

    from source_sfmc.auth import SfmcAuthenticator
    from source_sfmc.config import parse_config
    from source_sfmc.rest import Assets
    from source_sfmc.state import window_cursor
    from source_sfmc.stream_base import WINDOW_END, WINDOW_START, SyncContext

    config = parse_config(
        {
            "client_id": "a-client-id-long-enough",
            "client_secret": "a-client-secret-long-enough",
            "subdomain": "mc563885gzs27c5t9-63k636ttgm",
            "lookback_hours": lookback_hours,
        }
    )
    stream = Assets(SyncContext(config=config, authenticator=SfmcAuthenticator(config)))
    cursor = window_cursor(stream, ConnectorStateManager([]), InMemoryMessageRepository())

    (window,) = cursor.stream_slices()

    assert window[WINDOW_START].startswith("0001-01-01")
    assert window[WINDOW_END] <= datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "Z"


def _nested(depth):
    value = {}
    for _ in range(depth):
        value = {"x": value}
    return value


def _state_file_of(tmp_path, stream_states):
    path = tmp_path / "state.json"
    path.write_text(
        json.dumps(
            [
                {"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": state}}
                for name, state in stream_states.items()
            ]
        )
    )
    return str(path)


def test_a_unit_state_nested_deeper_than_any_state_written_is_dropped_naming_stream_and_unit(tmp_path, caplog):
    # Valid JSON that Python reads, but the CDK's state manager deep-copies each stream's state, which ran out of
    # stack at a few hundred levels and stopped the whole sync with a RecursionError.
    good = {"ModifiedDate": "2025-06-01T00:00:00.000Z"}
    path = _state_file_of(
        tmp_path,
        {"emails": {"business_units": {"7281234": {**good, "junk": _nested(900)}, "7294501": good}}, "sends": good},
    )
    with caplog.at_level("WARNING", logger="airbyte"):
        messages = read_input_state(path)
    states = {message.stream.stream_descriptor.name: message.stream.stream_state for message in messages}
    manager = ConnectorStateManager(messages)
    assert manager.get_stream_state("emails", None) == {"business_units": {"7294501": good}}
    assert manager.get_stream_state("sends", None) == good
    assert set(states) == {"emails", "sends"}
    warned = [r.getMessage() for r in caplog.records]
    assert any("'emails'" in w and "7281234" in w and "nested" in w for w in warned), warned


def test_a_stream_state_nested_deeper_than_any_state_written_restarts_that_stream_only(tmp_path, caplog):
    good = {"ModifiedDate": "2025-06-01T00:00:00.000Z"}
    path = _state_file_of(tmp_path, {"emails": {**good, "junk": [_nested(900)]}, "sends": good})
    with caplog.at_level("WARNING", logger="airbyte"):
        messages = read_input_state(path)
    manager = ConnectorStateManager(messages)
    assert manager.get_stream_state("emails", None) == {}
    assert manager.get_stream_state("sends", None) == good
    assert any("'emails'" in r.getMessage() and "start_date" in r.getMessage() for r in caplog.records)


def test_a_state_file_saved_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "state.json"
    state = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "emails"}, "stream_state": {"a": 1}}}]
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(state).encode())
    (message,) = read_input_state(str(path))
    assert message.stream.stream_descriptor.name == "emails"


def _nested_mixed(depth, leaf):
    value = leaf
    for level in range(depth):
        value = {"x": value} if level % 2 else [value]
    return value


@settings(max_examples=40, deadline=None)
@given(depth=st.integers(min_value=0, max_value=1500), in_unit=st.booleans())
def test_any_nesting_depth_in_a_state_file_is_read_and_handed_to_the_cdk_without_raising(
    tmp_path_factory, depth, in_unit
):
    good = {"ModifiedDate": "2025-06-01T00:00:00.000Z"}
    junk = {**good, "junk": _nested_mixed(depth, 1)}
    state = {"business_units": {"7281234": junk, "7294501": good}} if in_unit else junk
    path = _state_file_of(tmp_path_factory.mktemp("state"), {"emails": state, "sends": good})
    messages = read_input_state(path)
    manager = ConnectorStateManager(messages)
    assert manager.get_stream_state("sends", None) == good
    kept = manager.get_stream_state("emails", None)  # the CDK's deep copy: must not run out of stack
    if in_unit:
        assert kept["business_units"]["7294501"] == good
