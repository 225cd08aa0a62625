"""One date-time form out of every SFMC date form in: UTC, microseconds, `+00:00`."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from source_sfmc import datetimes
from source_sfmc.datetimes import (
    SFMC_SERVER_TZ,
    data_extension_datetime,
    rest_datetime,
    soap_datetime,
    to_filter_value,
)


def test_server_time_zone_is_utc_minus_six_all_year():
    for month in (1, 7):
        assert datetime(2024, month, 1, tzinfo=SFMC_SERVER_TZ).utcoffset() == timedelta(hours=-6)


# -- SOAP ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-03T08:15:27.123", "2024-01-03T14:15:27.123000+00:00"),
        ("2024-01-03T08:15:27", "2024-01-03T14:15:27.000000+00:00"),
        ("2024-01-03T08:15:27.1234567", "2024-01-03T14:15:27.123456+00:00"),
        ("2024-07-03T08:15:27", "2024-07-03T14:15:27.000000+00:00"),
    ],
)
def test_soap_date_without_offset_is_server_time(value, expected):
    assert soap_datetime(value) == expected


def test_soap_date_late_in_the_server_day_is_the_next_utc_day():
    assert soap_datetime("2023-12-31T23:30:00") == "2024-01-01T05:30:00.000000+00:00"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-03T08:15:27Z", "2024-01-03T08:15:27.000000+00:00"),
        ("2024-01-03T08:15:27.5+02:00", "2024-01-03T06:15:27.500000+00:00"),
        ("2024-01-03T08:15:27-06:00", "2024-01-03T14:15:27.000000+00:00"),
    ],
)
def test_soap_date_with_offset_keeps_its_instant(value, expected):
    assert soap_datetime(value) == expected


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00", "0001-01-01T00:00:00.000", "0001-01-01T00:00:00Z"])
def test_soap_no_date_is_none(value):
    assert soap_datetime(value) is None


def test_soap_empty_is_none():
    assert soap_datetime("") is None


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01T00:00:00", "6/23/2024 1:05:09 PM"])
def test_soap_unparseable_date_raises(value):
    with pytest.raises(ValueError, match="not an ISO 8601 date-time"):
        soap_datetime(value)


# -- the ends of the range SFMC stores (1753-01-01 to 9999-12-31) -------------------------------------------------
LAST = "9999-12-31T23:59:59.999999+00:00"


@pytest.mark.parametrize(
    ("parse", "value"),
    [
        (data_extension_datetime, "12/31/9999 11:59:59 PM"),
        (data_extension_datetime, "12/31/9999 6:00:00 PM"),
        (soap_datetime, "9999-12-31T23:59:59.997"),
        (soap_datetime, "9999-12-31T23:00:00"),
        (rest_datetime, "9999-12-31T23:59:59.99-06:00"),
    ],
)
def test_a_date_sfmc_stores_whose_utc_instant_is_past_year_9999_is_emitted_as_the_last_instant(parse, value):
    assert parse(value) == LAST


def test_the_last_server_date_that_fits_in_utc_keeps_its_instant():
    assert data_extension_datetime("12/31/9999 5:59:59 PM") == "9999-12-31T23:59:59.000000+00:00"


def test_a_date_before_year_1_in_utc_is_emitted_as_the_first_instant():
    assert soap_datetime("0001-01-01T03:00:00+14:00") == "0001-01-01T00:00:00.000000+00:00"


def test_a_clamped_date_is_reported_once(caplog, monkeypatch):
    monkeypatch.setattr(datetimes, "_clamp_warned", False)
    for _ in range(3):
        data_extension_datetime("12/31/9999 11:59:59 PM")
    warnings = [r for r in caplog.records if "9999-12-31T23:59:59" in r.getMessage()]
    assert len(warnings) == 1 and LAST in warnings[0].getMessage()


SERVER_DATES = st.datetimes(min_value=datetime(1753, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999000))


@settings(max_examples=300, deadline=None)
@given(first=SERVER_DATES, second=SERVER_DATES)
def test_every_date_sfmc_stores_is_emitted_in_time_order_and_exact_where_utc_can_hold_it(first, second):
    for server_date in (first, second):
        us_text = f"{server_date.month}/{server_date.day}/{server_date.year} {server_date:%H:%M:%S}"
        iso_text = server_date.isoformat(timespec="milliseconds")
        emitted = {data_extension_datetime(us_text), soap_datetime(server_date.replace(microsecond=0).isoformat())}
        assert emitted == {data_extension_datetime(server_date.replace(microsecond=0).isoformat())}
        (value,) = emitted
        instant = server_date.replace(microsecond=0) + timedelta(hours=6)
        if instant <= datetime.max - timedelta(microseconds=1):
            assert value == instant.isoformat(timespec="microseconds") + "+00:00"
        else:
            assert value == LAST
        assert soap_datetime(iso_text) is not None
    # String order is time order, at the ends too (ties where both clamp).
    a, b = soap_datetime(first.isoformat()), soap_datetime(second.isoformat())
    if first <= second:
        assert a <= b
    else:
        assert a >= b


def test_output_sorts_as_time_sorts():
    values = ["2024-01-03T08:15:27.5", "2024-01-03T14:15:27Z", "2024-01-03T08:15:27", "2024-01-03T08:15:27.5+01:00"]
    normalised = [soap_datetime(v) for v in values]
    assert sorted(normalised) == [soap_datetime(v) for v in sorted(values, key=lambda v: _instant(v))]


def _instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SFMC_SERVER_TZ)


# -- REST ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021-09-13T12:14:02.32-06:00", "2021-09-13T18:14:02.320000+00:00"),
        ("2021-09-13T12:14:02.3266667-06:00", "2021-09-13T18:14:02.326666+00:00"),
        ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00.000000+00:00"),
        ("2021-09-13T12:14:02.32", "2021-09-13T18:14:02.320000+00:00"),
    ],
)
def test_rest_dates(value, expected):
    assert rest_datetime(value) == expected


def test_rest_no_date_is_none():
    assert rest_datetime("0001-01-01T00:00:00") is None


def test_rest_unparseable_date_raises():
    with pytest.raises(ValueError):
        rest_datetime("13/09/2021")


# -- data extension rows -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("6/23/2024 12:00:00 AM", "2024-06-23T06:00:00.000000+00:00"),
        ("6/23/2024 12:30:00 PM", "2024-06-23T18:30:00.000000+00:00"),
        ("6/23/2024 1:05:09 PM", "2024-06-23T19:05:09.000000+00:00"),
        ("12/31/2024 11:59:59 pm", "2025-01-01T05:59:59.000000+00:00"),
        ("06/03/2024 01:05 AM", "2024-06-03T07:05:00.000000+00:00"),
        ("6/23/2024 13:05:09", "2024-06-23T19:05:09.000000+00:00"),
        ("6/23/2024 1:05:09.25 PM", "2024-06-23T19:05:09.250000+00:00"),
        ("6/23/2024", "2024-06-23T06:00:00.000000+00:00"),
        ("2024-06-23T13:05:09", "2024-06-23T19:05:09.000000+00:00"),
        ("2024-06-23T13:05:09Z", "2024-06-23T13:05:09.000000+00:00"),
        ("  6/23/2024 1:05:09 PM ", "2024-06-23T19:05:09.000000+00:00"),
    ],
)
def test_data_extension_dates(value, expected):
    assert data_extension_datetime(value) == expected


@pytest.mark.parametrize("value", ["", "   ", "1/1/0001 12:00:00 AM"])
def test_data_extension_empty_or_no_date_is_none(value):
    assert data_extension_datetime(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "13/23/2024 1:00:00 PM",
        "2/30/2024",
        "6/23/2024 0:05:09 PM",
        "6/23/2024 13:05:09 PM",
        "soon",
        "6-23-2024",
        "6/23/2024 \u0661:00:00 PM",  # an Arabic-Indic 1: SFMC writes ASCII digits
    ],
)
def test_data_extension_unparseable_date_raises(value):
    with pytest.raises(ValueError):
        data_extension_datetime(value)


# -- filter values -------------------------------------------------------------------------------------------
def test_filter_value_is_utc_with_milliseconds_and_z():
    dt = datetime(2024, 1, 1, 6, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert to_filter_value(dt) == "2024-01-01T04:30:15.123Z"


def test_filter_value_of_a_whole_second():
    assert to_filter_value(datetime(2024, 1, 1, tzinfo=UTC)) == "2024-01-01T00:00:00.000Z"


def test_filter_value_of_a_naive_datetime_raises():
    with pytest.raises(ValueError, match="timezone-aware"):
        to_filter_value(datetime(2024, 1, 1))


def test_filter_value_round_trips_through_soap_datetime():
    dt = datetime(2024, 5, 6, 7, 8, 9, 10000, tzinfo=UTC)
    assert soap_datetime(to_filter_value(dt)) == dt.isoformat(timespec="microseconds")
