import copy
from datetime import UTC, datetime

import pytest
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import InMemoryMessageRepository
from airbyte_cdk.sources.streams.concurrent.state_converters.datetime_stream_state_converter import (
    IsoMillisConcurrentStreamStateConverter,
)
from airbyte_cdk.sources.types import Record, StreamSlice

from source_sfmc.auth import SfmcAuthenticator
from source_sfmc.config import parse_config
from source_sfmc.rest import Assets, JourneyHistory
from source_sfmc.state import IsoStateConverter, window_cursor
from source_sfmc.stream_base import WINDOW_END, WINDOW_START, SyncContext, as_window

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


class _Partition:
    def __init__(self, window):
        self.window = window

    def to_slice(self):
        return self.window


def a_cursor(stream_class=JourneyHistory, **settings):
    config = parse_config(
        {"client_id": "i", "client_secret": "s", "subdomain": "mc563885gzs27c5t9-63k636ttgm", **settings}
    )
    stream = stream_class(SyncContext(config=config, authenticator=SfmcAuthenticator(config)))
    return window_cursor(stream, ConnectorStateManager([]), InMemoryMessageRepository())


@pytest.mark.parametrize("lookback_hours", [1, 24, 720])
def test_a_first_sync_without_a_start_date_reads_everything_in_one_window_despite_the_lookback(lookback_hours):
    # With no start date and no state the cursor starts at year 1; the lookback must not take it before that.
    (window,) = a_cursor(Assets, lookback_hours=lookback_hours).stream_slices()

    assert OURS.parse_timestamp(window[WINDOW_START]).year == 1
    assert OURS.parse_timestamp(window[WINDOW_END]) <= datetime.now(UTC)


def test_a_record_dated_after_its_window_moves_the_state_no_further_than_the_window_end():
    # A server clock ahead of ours, or an end bound it treats as inclusive, can date an entry after the window
    # that asked for it, even after now; the state then claims the window, not the entry's future date.
    cursor = a_cursor()
    window = as_window(next(iter(cursor.stream_slices())))
    end = window[WINDOW_END]
    cursor.observe(Record({"transactionTime": "2099-01-01T00:00:00.000000+00:00"}, "journey_history", window))
    cursor.close_partition(_Partition(window))

    assert OURS.parse_timestamp(cursor.state["transactionTime"]) <= OURS.parse_timestamp(end)
    assert OURS.parse_timestamp(cursor.state["transactionTime"]) <= datetime.now(UTC)
