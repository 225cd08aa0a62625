"""The one date-time normaliser: every date the connector emits goes through here.

SFMC keeps its clock in US Central Standard Time without daylight saving, so a date without an offset is
UTC-6 all year. Every function returns the same form: the instant in UTC, ISO 8601 with microseconds and an
explicit offset, `2024-01-03T14:15:27.123000+00:00`. One offset and one width for every source (SOAP, REST, data
extension rows) means string order is time order, so cursors compare correctly whatever the value came from.

SFMC writes "no date" as `0001-01-01T00:00:00` (and `1/1/0001 12:00:00 AM` in data extension rows); that
becomes None.

SFMC keeps data extensions in SQL Server, whose `datetime` holds 1753-01-01 00:00:00.000 through 9999-12-31
23:59:59.997 (Microsoft, [MS-BCP] "2.1.7 DateTime"), and `12/31/9999 11:59:59 PM` is a common "never" in data
extensions. Such a
date in server time is after 9999-12-31T23:59:59.999999Z in UTC, which no datetime (nor an RFC 3339 date-time with
a four-digit year) can hold. The rule: a value whose UTC instant falls past the last representable instant is
emitted as that instant, `9999-12-31T23:59:59.999999+00:00` (and one before the first, which only an offset such as
`+14:00` on year 1 can give, as `0001-01-01T00:00:00.000000+00:00`), with one warning per sync. The value stays a
valid date-time in the same order as every other, and "the end of time" keeps its meaning; the at most six hours
lost are past any date a cursor or a destination compares it with.

These functions run once per date field per record, so they lean on `datetime.fromisoformat` (C code) and one
precompiled pattern, and nothing else.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta, timezone

SFMC_SERVER_TZ = timezone(timedelta(hours=-6), "UTC-06:00")

_NO_DATE = datetime(1, 1, 1)
_SERVER_TO_UTC = -SFMC_SERVER_TZ.utcoffset(None)
_UTC_SUFFIX = "+00:00"
_fromisoformat = datetime.fromisoformat
_LAST = datetime.max.replace(tzinfo=UTC).isoformat(timespec="microseconds")
_FIRST = datetime.min.replace(tzinfo=UTC).isoformat(timespec="microseconds")
logger = logging.getLogger("airbyte")
_clamp_warned = False

# `6/23/2024 1:05:09 PM`: month/day/year as SFMC's en-US display writes it; seconds, fraction, AM/PM optional.
# ASCII digits only (`\d` would also match other scripts' digits, which SFMC never writes).
_US_DATE_TIME = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})"
    r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?(?:\s*([AaPp])[Mm])?)?",
    re.ASCII,
)


def soap_datetime(value: str) -> str | None:
    """A SOAP response date; without an offset it is server time (UTC-6). Empty or "no date" -> None."""
    if not value:
        return None
    try:
        parsed = _fromisoformat(value)  # inlined `_from_iso`: this is the hottest date path
    except ValueError:
        raise ValueError(f"not an ISO 8601 date-time: {value!r}") from None
    return _normalised(parsed)


def rest_datetime(value: str) -> str | None:
    """A REST date: `2021-09-13T12:14:02.32-06:00`, `2024-01-01T00:00:00Z`, or `2021-09-13T12:14:02.32`.

    Without an offset it is taken as server time (UTC-6): REST endpoints that omit the offset (campaigns,
    automations) print the same server clock that endpoints with an offset label `-06:00`.
    """
    if not value:
        return None
    return _normalised(_from_iso(value))


def data_extension_datetime(value: str) -> str | None:
    """A data extension row date: `6/23/2024 12:00:00 AM`, `6/23/2024 13:05:09`, `6/23/2024`, or ISO 8601.

    Server time (UTC-6) unless an ISO value carries an offset. Empty -> None; anything else -> ValueError.
    """
    value = value.strip()
    if not value:
        return None
    match = _US_DATE_TIME.fullmatch(value)
    if match is None:
        return _normalised(_from_iso(value))
    month, day, year, hour, minute, second, fraction, half = match.groups()
    hour_of_day = int(hour or 0)
    if half is not None:
        if not 1 <= hour_of_day <= 12:
            raise ValueError(f"hour {hour_of_day} is not a 12-hour clock hour in date {value!r}")
        hour_of_day = hour_of_day % 12 + (12 if half in "Pp" else 0)
    try:
        parsed = datetime(
            int(year),
            int(month),
            int(day),
            hour_of_day,
            int(minute or 0),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
        )
    except ValueError as error:
        raise ValueError(f"invalid date {value!r}: {error}") from None
    return _normalised(parsed)


def to_filter_value(dt: datetime) -> str:
    """An aware datetime as a SOAP `DateValue`: UTC, milliseconds, `Z` (`2024-01-01T00:00:00.000Z`)."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"filter dates must be timezone-aware, got {dt!r}")
    utc = dt.astimezone(UTC)
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"  # %Y writes year 1 as '1'


def _from_iso(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date-time: {value!r}") from None


def _normalised(parsed: datetime) -> str | None:
    try:
        if parsed.tzinfo is None:
            if parsed == _NO_DATE:
                return None
            # Server time is a fixed offset, so naive arithmetic gives the UTC wall clock at a third of the cost
            # of attaching a zone and converting (this runs for every date of every record).
            return (parsed + _SERVER_TO_UTC).isoformat(timespec="microseconds") + _UTC_SUFFIX
        if parsed.replace(tzinfo=None) == _NO_DATE:
            return None
        return parsed.astimezone(UTC).isoformat(timespec="microseconds")
    except OverflowError:
        return _clamped(parsed)


def _clamped(parsed: datetime) -> str:
    """The last (or first) representable UTC instant for a date whose UTC instant lies beyond it (module docstring)."""
    global _clamp_warned
    # Past the top only from the last hours of 9999; below the bottom only from the first hours of year 1.
    limit = _LAST if parsed.year == datetime.max.year else _FIRST
    if not _clamp_warned:
        _clamp_warned = True  # a race here at worst logs twice
        logger.warning(
            f"The date {parsed.isoformat()} is beyond the last date-time that can be written in UTC; it is emitted "
            f"as {limit}. Further such dates are emitted the same way without a warning."
        )
    return limit
