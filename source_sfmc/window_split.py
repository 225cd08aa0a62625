"""Windows that shrink: a window SFMC times out on is read as two halves, down to a floor.

SFMC times out server-side on dense windows (a busy account's day can hold millions of events), either as a
request that gets no answer within `request_timeout_seconds` or as a SOAP fault saying "Timeout expired". The
error policy (`errors.py`) tells those apart as `SPLIT_REQUEST_WINDOW`; the stream then reads the window as two
halves, each of which may split again, down to MIN_WINDOW. The smallest span that was needed is remembered for
the stream's later windows in the same sync, so they are read in pieces of that span from the start instead of
timing out first. A piece that held no records at all doubles the span again: a dense week must not make the
quiet months after it cost a request every few hours. The checkpoint is still the window's: state advances once
all of its pieces were read.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

# Below this a window is not split further: a window that still times out is retried a few times, then fails.
MIN_WINDOW = timedelta(hours=1)
ATTEMPTS_AT_MIN_WINDOW = 3


# Longer than any window: year 1 to year 9999 is some 3,652,000 days.
LONGEST_SPAN = timedelta(days=4_000_000)


class WindowSpan:
    """The largest window span one stream may read in one request, as learned in this sync (None: any).

    Shared by the stream's worker threads, which may each be reading a window of it."""

    def __init__(self) -> None:
        self._span: timedelta | None = None
        self._lock = threading.Lock()

    @property
    def span(self) -> timedelta | None:
        return self._span

    def shrink_to(self, span: timedelta) -> None:
        with self._lock:
            if self._span is None or span < self._span:
                self._span = span

    def widen(self) -> None:
        """After an empty piece: twice the span, up to `LONGEST_SPAN` (pieces never outgrow their window; the bound
        only keeps the doubling, after as many empty pieces as an every-unit sync reads, inside a timedelta)."""
        with self._lock:
            if self._span is not None:
                self._span = min(self._span * 2, LONGEST_SPAN)


def halves(lower: datetime, upper: datetime) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """[lower, upper) as two adjacent half-open windows, split at a whole millisecond (window bounds are sent to
    SFMC with millisecond precision)."""
    middle = lower + (upper - lower) / 2
    middle = middle.replace(microsecond=middle.microsecond // 1000 * 1000)
    if not lower < middle < upper:
        raise ValueError(f"[{lower}, {upper}) is too short to split")
    return (lower, middle), (middle, upper)


def can_split(lower: datetime, upper: datetime) -> bool:
    return upper - lower > MIN_WINDOW


def span_text(span: timedelta) -> str:
    """A span as people say it, to the second: "1 hour", "45 minutes", "42 minutes 11 seconds", "3 days 18 hours"."""
    seconds = max(0, round(span.total_seconds()))
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3_600)
    minutes, seconds = divmod(seconds, 60)
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute"), (seconds, "second")]
    words = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n]
    return " ".join(words) or "0 seconds"
