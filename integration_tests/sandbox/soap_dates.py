"""SFMC server time: how dates render in SOAP and data extension rows, and how filter date literals parse.

SFMC's server clock is CST, UTC-6 all year (no daylight saving). A date literal without an offset is taken
as server time, ``Z`` as UTC, and explicit offsets convert; responses render server time without offset.
Dates are ``int`` milliseconds since the Unix epoch (UTC) everywhere else in the sandbox.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime

SECOND_MS = 1000
HOUR_MS = 3600 * SECOND_MS
DAY_MS = 24 * HOUR_MS
SERVER_OFFSET_MS = -6 * HOUR_MS  # SFMC server time: CST, UTC-6 all year, no daylight saving
MIN_DATE_MS = -62135596800000  # 0001-01-01T00:00:00, what SFMC puts in CreatedDate of tracking events


def utc_ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) * SECOND_MS


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_iso_day_prefix: dict[int, str] = {}
_us_day_prefix: dict[int, str] = {}


def civil_day(day_number: int) -> date:
    return date.fromordinal(_EPOCH_ORDINAL + day_number)


def server_iso(ms_utc: int) -> str:
    """SOAP dateTime as SFMC renders it: server time, no offset, milliseconds only when not zero."""
    if ms_utc == MIN_DATE_MS:
        return "0001-01-01T00:00:00"
    day, rem = divmod(ms_utc + SERVER_OFFSET_MS, DAY_MS)
    prefix = _iso_day_prefix.get(day)
    if prefix is None:
        prefix = _iso_day_prefix.setdefault(day, civil_day(day).isoformat() + "T")
    secs, millis = divmod(rem, 1000)
    hour, secs = divmod(secs, 3600)
    minute, secs = divmod(secs, 60)
    if millis:
        # .NET writes the fraction with trailing zeros trimmed: .927, .92, .9
        return f"{prefix}{hour:02d}:{minute:02d}:{secs:02d}.{millis:03d}".rstrip("0")
    return f"{prefix}{hour:02d}:{minute:02d}:{secs:02d}"


def server_us(ms_utc: int) -> str:
    """Data extension date as SFMC renders it: ``6/23/2024 12:00:00 AM`` in server time."""
    day, rem = divmod(ms_utc + SERVER_OFFSET_MS, DAY_MS)
    prefix = _us_day_prefix.get(day)
    if prefix is None:
        d = civil_day(day)
        prefix = _us_day_prefix.setdefault(day, f"{d.month}/{d.day}/{d.year} ")
    secs = rem // 1000
    hour, secs = divmod(secs, 3600)
    minute, secs = divmod(secs, 60)
    half = "AM" if hour < 12 else "PM"
    return f"{prefix}{(hour % 12) or 12}:{minute:02d}:{secs:02d} {half}"


_ISO_RE = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?\s*$",
    re.IGNORECASE,
)
_US_RE = re.compile(
    r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*([AP]M)?)?\s*$",
    re.IGNORECASE,
)


def parse_sfmc_datetime(text: str) -> int:
    """Date literal of a filter -> ms UTC. No offset means server time (UTC-6); ``Z`` is UTC; offsets convert.

    Accepts ISO 8601 (date only, ``T`` or space, fraction, offset) and the US form data extensions use
    (``6/23/2024 12:00:00 AM``). Raises ValueError otherwise.
    """
    m = _ISO_RE.match(text)
    if m:
        year, month, day, hour, minute, sec, frac, zone = m.groups()
        ampm = None
    else:
        m = _US_RE.match(text)
        if not m:
            raise ValueError(f"not a date: {text!r}")
        month, day, year, hour, minute, sec, frac, ampm = m.groups()
        zone = None
    h = int(hour or 0)
    if ampm:
        if not 1 <= h <= 12:
            raise ValueError(f"not a date: {text!r}")
        h = h % 12 + (12 if ampm.upper() == "PM" else 0)
    try:
        dt = datetime(int(year), int(month), int(day), h, int(minute or 0), int(sec or 0))
    except ValueError as exc:
        raise ValueError(f"not a date: {text!r}") from exc
    millis = int((frac or "0")[:3].ljust(3, "0"))
    local = calendar.timegm(dt.timetuple()) * SECOND_MS + millis
    if zone is None:
        return local - SERVER_OFFSET_MS
    if zone.upper() == "Z":
        return local
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    offset = sign * (int(digits[:2]) * HOUR_MS + int(digits[2:]) * 60 * SECOND_MS)
    return local - offset


def to_utc_ms(moment: datetime) -> int:
    """A datetime -> ms UTC; a naive datetime is taken as UTC (helpers for tests speak UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
