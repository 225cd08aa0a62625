import copy

import pytest
from airbyte_cdk.sources.streams.concurrent.state_converters.datetime_stream_state_converter import (
    IsoMillisConcurrentStreamStateConverter,
)
from airbyte_cdk.sources.types import StreamSlice

from source_sfmc.state import IsoStateConverter
from source_sfmc.stream_base import WINDOW_END, WINDOW_START, as_window

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
