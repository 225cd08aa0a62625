from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from source_sfmc.datetimes import to_filter_value
from source_sfmc.stream_base import date_windows, format_window_bound, parse_window_bound

START = datetime(2025, 1, 1, tzinfo=UTC)


def test_windows_are_contiguous_half_open_and_oldest_first():
    windows = list(date_windows(START, START + timedelta(days=75), timedelta(days=30)))
    assert [(a.day, a.month, b.day, b.month) for a, b in windows] == [(1, 1, 31, 1), (31, 1, 2, 3), (2, 3, 17, 3)]
    assert all(previous[1] == current[0] for previous, current in pairwise(windows))


def test_no_window_when_start_is_not_before_end():
    assert list(date_windows(START, START, timedelta(days=30))) == []


def test_window_bounds_are_utc_milliseconds():
    bound = datetime(2025, 1, 1, 6, 30, 15, 123456, tzinfo=UTC)
    assert format_window_bound(bound) == "2025-01-01T06:30:15.123Z"
    assert parse_window_bound("2025-01-01T06:30:15.123Z") == datetime(2025, 1, 1, 6, 30, 15, 123000, tzinfo=UTC)


@pytest.mark.parametrize("year", [1, 99, 999, 2025])
def test_window_bounds_and_filter_dates_write_four_digit_years(year):
    # A sync without a start date begins at year 1, which strftime's %Y writes as '1' and SFMC cannot convert.
    moment = datetime(year, 1, 1, tzinfo=UTC)
    assert format_window_bound(moment) == f"{year:04d}-01-01T00:00:00.000Z"
    assert to_filter_value(moment) == f"{year:04d}-01-01T00:00:00.000Z"
