"""Incremental state: the CDK's ConcurrentCursor, with windows of `window_days` and a lookback.

The cursor checkpoints after every window whose records were all emitted, whatever order windows finish in, and
emits the state as `{cursor_field: <newest record cursor of the completed windows>}`. Two things here exist only
for speed, because the cursor looks at every record: parsing its cursor value and hashing its window.

Every incremental stream's cursor is built here (`window_cursor`), so two rules hold for all of them, data
extension rows included (README, "Reliability"):
- No cursor is later than now. A record dated after the upper bound of the window it was read in (at most the
  sync's "now") is emitted, with one warning per stream naming the field and the value, but it moves the state
  only to that bound. An input state later than now is reported and not trusted: the stream restarts from
  `start_date`.
- Input state never crashes a sync. A stream whose input state cannot be read (not an object, a cursor value
  that is not a date, a date-range state whose slices have bad bounds) restarts from `start_date` with a
  warning naming the stream and what is wrong; other streams read normally. (What cannot be tied to one
  stream, a state file that is not JSON, is a config_error: see `read_input_state`.)
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

from airbyte_cdk.models import AirbyteMessage, AirbyteStateMessage, AirbyteStateMessageSerializer, FailureType, Level
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import LogMessage, MessageRepository
from airbyte_cdk.sources.streams.concurrent.cursor import ConcurrentCursor, Cursor, CursorField
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition
from airbyte_cdk.sources.streams.concurrent.state_converters.datetime_stream_state_converter import (
    IsoMillisConcurrentStreamStateConverter,
)
from airbyte_cdk.sources.types import Record, StreamSlice
from airbyte_cdk.utils.datetime_helpers import AirbyteDateTime
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_sfmc.business_units import MID, current_mid
from source_sfmc.masking import mask
from source_sfmc.stream_base import WINDOW_END, WINDOW_START, SfmcStream, parse_window_bound, utc_now

logger = logging.getLogger("airbyte")


class IsoStateConverter(IsoMillisConcurrentStreamStateConverter):
    """The CDK's ISO converter, reading the ISO 8601 values our records carry with `fromisoformat`.

    The CDK's general parser (dateutil) takes about 40 µs a value, more than everything else a record costs;
    `fromisoformat` takes well under one. Anything it cannot read still goes to the general parser.

    Every value comes out in UTC, whatever offset it was written with: the CDK's `output_format` writes a
    datetime's wall clock followed by `Z` without converting it, so a cursor kept at `+05:00` would be written
    five hours in the future (and every comparison and window bound would start from that local wall clock).
    A value without an offset is UTC, as the CDK's parser takes it.
    """

    def parse_timestamp(self, timestamp: Any) -> datetime:
        if isinstance(timestamp, str):
            try:
                parsed = datetime.fromisoformat(timestamp)
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                return _in_utc(parsed)
        return _in_utc(super().parse_timestamp(timestamp))


def _in_utc(value: datetime) -> AirbyteDateTime:
    """The same instant with a UTC offset (a naive value is taken as UTC)."""
    if value.tzinfo is None:
        return AirbyteDateTime.from_datetime(value.replace(tzinfo=UTC))
    if value.tzinfo is UTC and isinstance(value, AirbyteDateTime):
        return value
    return AirbyteDateTime.from_datetime(value.astimezone(UTC))


class WindowCursor(ConcurrentCursor):
    """The CDK's ConcurrentCursor, except that a record's cursor never carries the state past its window's end."""

    _future_warned = False
    input_state: dict[str, Any] = {}  # the input state the cursor started from, once checked

    def _calculate_lower_boundary_of_last_slice(self, lower_boundary: Any) -> Any:
        # A first sync without a start date starts at year 1, where the lookback cannot go back further (the
        # CDK's subtraction overflows): it then starts at year 1 itself.
        try:
            return super()._calculate_lower_boundary_of_last_slice(lower_boundary)
        except OverflowError:
            return lower_boundary

    def observe(self, record: Record) -> None:
        try:
            cursor_value = self._extract_cursor_value(record)
        except ValueError:
            super().observe(record)  # the CDK logs a record without a cursor value
            return
        window = record.associated_slice
        upper = _window_end(window)
        if upper is not None and cursor_value > upper:
            if not self._future_warned:
                self._future_warned = True
                logger.warning(
                    f"Stream '{self._stream_name}': field '{self.cursor_field.cursor_field_key}' of a record is "
                    f"{_shown(self.cursor_field.extract_value(record))}, later than the end of the window read "
                    f"({window[WINDOW_END]}). The record is emitted, but the stream's state does not move past "
                    "that end. Further such values are not logged."
                )
            cursor_value = upper
        most_recent = self._most_recent_cursor_value_per_partition.get(window)
        if most_recent is None or most_recent < cursor_value:
            self._most_recent_cursor_value_per_partition[window] = cursor_value
        elif most_recent > cursor_value:
            self._is_ascending_order = False


def window_cursor(
    stream: SfmcStream, state_manager: ConnectorStateManager, message_repository: MessageRepository
) -> WindowCursor:
    config = stream.config
    start = stream.cursor_start
    # Without a start date, a stream that allows it reads everything in one window rather than walking window by
    # window from year 1.
    slice_range: timedelta | None = config.window if start else None
    converter = IsoStateConverter()
    stream_state = trusted_stream_state(
        stream.name,
        stream.cursor_field_name or "",
        state_manager.get_stream_state(stream.name, stream.namespace),
        converter,
        utc_now(),
    )
    cursor = WindowCursor(
        stream_name=stream.name,
        stream_namespace=stream.namespace,
        stream_state=stream_state,
        message_repository=message_repository,
        connector_state_manager=state_manager,
        connector_state_converter=converter,
        cursor_field=CursorField(
            stream.cursor_field_name or "", supports_catalog_defined_cursor_field=not stream.source_defined_cursor
        ),
        slice_boundary_fields=(WINDOW_START, WINDOW_END),
        start=start,
        end_provider=utc_now,
        lookback_window=stream.lookback,
        slice_range=slice_range,
    )
    cursor.input_state = stream_state
    return cursor


def trusted_stream_state(
    stream_name: str, cursor_field: str, state: Any, converter: IsoStateConverter, now: datetime
) -> dict[str, Any]:
    """The stream's input state if it can be trusted, else {} (the stream restarts from start_date) and a warning."""
    if not state:
        return {}
    problem = _state_problem(state, cursor_field, converter, now)
    if problem is None:
        return dict(state)
    logger.warning(f"Stream '{stream_name}': its input state {problem}. The stream restarts from start_date.")
    return {}


def _state_problem(state: Any, cursor_field: str, converter: IsoStateConverter, now: datetime) -> str | None:
    if not isinstance(state, Mapping):
        return f"is not a JSON object but {_shown(state)}"
    if converter.is_state_message_compatible(state):  # the CDK's date-range form, with slices
        slices = state.get("slices")
        if not isinstance(slices, list) or not slices:
            return "is a date-range state without slices"
        for stream_slice in slices:
            if not isinstance(stream_slice, Mapping):
                return f"has a slice that is not an object: {_shown(stream_slice)}"
            bounds = {}
            for key in (converter.START_KEY, converter.END_KEY, converter.MOST_RECENT_RECORD_KEY):
                if key == converter.MOST_RECENT_RECORD_KEY and stream_slice.get(key) is None:
                    continue
                bounds[key] = _as_date(stream_slice.get(key), converter)
                if bounds[key] is None:
                    return f"has a slice whose '{key}' is not a date: {_shown(stream_slice.get(key))}"
                if bounds[key] > now:
                    return f"has a slice whose '{key}' ({_shown(stream_slice.get(key))}) is later than now"
            if bounds[converter.START_KEY] > bounds[converter.END_KEY]:
                return "has a slice whose start is after its end"
        return None
    if cursor_field not in state:
        return f"has no '{cursor_field}' cursor (keys: {_shown(sorted(map(str, state))[:5])})"
    value = state[cursor_field]
    parsed = _as_date(value, converter)
    if parsed is None:
        return f"has a '{cursor_field}' cursor that is not a date: {_shown(value)}"
    if parsed > now:
        return f"has a '{cursor_field}' cursor later than now: {_shown(value)}"
    return None


def _as_date(value: Any, converter: IsoStateConverter) -> datetime | None:
    """A state value as an aware datetime, or None when it is not one (never raises)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = converter.parse_timestamp(value)
    except Exception:  # the CDK's parser raises several types for text that is not a date
        return None
    if not isinstance(parsed, datetime):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _window_end(window: Any) -> datetime | None:
    end = window.get(WINDOW_END) if isinstance(window, Mapping) else None
    try:
        return AirbyteDateTime.from_datetime(parse_window_bound(end)) if isinstance(end, str) else None
    except ValueError:
        return None


def _shown(value: Any) -> str:
    # Secrets are masked before the text is cut: a secret cut in two is no longer masked by the log's filter.
    text = mask(repr(value))
    return text if len(text) <= 60 else text[:57] + "..."


def read_input_state(state_path: str) -> list[AirbyteStateMessage]:
    """The input state file as per-stream state messages, keeping every stream whose state can be read.

    The CDK's reader stops the whole sync with a traceback on the first thing it cannot take. Here a stream whose
    state cannot be read (a stream_state that is not an object, a GLOBAL or legacy state, which this connector never
    writes) is left out with a warning naming it, so it restarts from start_date while the others resume. A file that
    is not JSON at all names no stream: it is a config_error.
    """
    if not state_path:
        return []
    try:
        # utf-8-sig: a byte order mark, which Windows editors write, is skipped (RFC 8259 section 8.1 lets a
        # parser ignore it); json.loads refuses it as "not valid JSON (line 1, column 1)".
        with open(state_path, encoding="utf-8-sig") as file:
            raw = json.load(file)
    except (OSError, ValueError, RecursionError) as error:
        # RecursionError: JSON nested deeper than Python's parser goes (valid JSON, but no state this connector wrote).
        problem = "it is nested too deeply" if isinstance(error, RecursionError) else "it is not a JSON file"
        raise AirbyteTracedException(
            message=f"The input state could not be read: {problem} ({type(error).__name__}). Reset the "
            "connection's state (or pass no state) to read every stream from start_date.",
            failure_type=FailureType.config_error,
        ) from None
    if raw is None:
        return []
    if isinstance(raw, Mapping):  # the legacy form, one object keyed by stream name
        _restart_warning(sorted(map(str, raw)), "is in the legacy state format, which this connector does not read")
        return []
    if not isinstance(raw, list):
        _restart_warning([], f"is {_shown(raw)}, not a list of state messages")
        return []
    messages: list[AirbyteStateMessage] = []
    for item in raw:
        names = _stream_names_in(item)
        kind = item.get("type") if isinstance(item, Mapping) else None
        if kind != "STREAM":
            _restart_warning(names, f"is a {kind or 'malformed'} state message; this connector reads STREAM states")
            continue
        try:
            messages.append(AirbyteStateMessageSerializer.load(_within_depth(item, names)))
        except Exception:  # the serializer raises several types; none names more than "the state is malformed"
            _restart_warning(names, "is not a JSON object of cursor values")
    return messages


# No state this connector writes is nested deeper than a handful of levels ({"business_units": {MID: {"slices":
# [{...}]}}}); the CDK's state manager deep-copies each stream's state, which needs two stack frames a level and
# ran out of stack (RecursionError, the whole sync stopped) for valid JSON a few hundred levels deep.
MAX_STATE_DEPTH = 32


def _within_depth(item: Any, names: list[str]) -> Any:
    """The STREAM state message `item` with what is nested deeper than MAX_STATE_DEPTH dropped, with a warning: a
    business unit's entry under `business_units` (that unit restarts from start_date), else the stream's whole
    state (the stream restarts)."""
    stream = item.get("stream")
    state = stream.get("stream_state") if isinstance(stream, Mapping) else None
    if not _deeper_than(state, MAX_STATE_DEPTH):
        return item
    who = ", ".join(f"'{name}'" for name in names) or "(no stream named)"
    by_unit = state.get(UNITS_KEY) if isinstance(state, Mapping) else None
    siblings = {k: v for k, v in state.items() if k != UNITS_KEY} if isinstance(state, Mapping) else {}
    if isinstance(by_unit, Mapping) and not _deeper_than(siblings, MAX_STATE_DEPTH):
        kept = {key: value for key, value in by_unit.items() if not _deeper_than(value, MAX_STATE_DEPTH - 2)}
        _warn_dropped(
            [
                f"Stream {who}: its input state for business unit {_shown(key)} is nested deeper than any state "
                "this connector writes. It is dropped: that unit restarts from start_date when it is read."
                for key in by_unit
                if key not in kept
            ],
            lambda more: (
                f"Stream {who}: {more} more business units of its input state are nested too deeply and "
                "dropped; they are not listed."
            ),
        )
        return {**item, "stream": {**stream, "stream_state": {**state, UNITS_KEY: kept}}}
    _restart_warning(names, f"is nested deeper than any state this connector writes (over {MAX_STATE_DEPTH} levels)")
    return {**item, "stream": {**stream, "stream_state": {}}}


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether JSON `value` nests objects and lists more than `limit` levels deep (iterative: any depth is safe)."""
    pending = [(value, 1)]
    while pending:
        current, depth = pending.pop()
        if isinstance(current, Mapping):
            children: Iterable[Any] = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def _stream_names_in(item: Any) -> list[str]:
    if not isinstance(item, Mapping):
        return []
    descriptors: list[Any] = []
    stream = item.get("stream")
    if isinstance(stream, Mapping):
        descriptors.append(stream.get("stream_descriptor"))
    global_state = item.get("global")
    if isinstance(global_state, Mapping) and isinstance(global_state.get("stream_states"), list):
        descriptors += [
            entry.get("stream_descriptor") for entry in global_state["stream_states"] if isinstance(entry, Mapping)
        ]
    if isinstance(item.get("data"), Mapping):
        return sorted(map(str, item["data"]))
    return [str(d["name"]) for d in descriptors if isinstance(d, Mapping) and isinstance(d.get("name"), str)]


def _restart_warning(stream_names: list[str], problem: str) -> None:
    who = ", ".join(f"'{name}'" for name in stream_names[:20]) or "(no stream named)"
    logger.warning(f"Input state for stream(s) {who} {problem}; those streams restart from start_date.")


UNITS_KEY = "business_units"
# MIDs named in the one line per stream about saved units not read this sync; the rest are counted.
MAX_LISTED_UNITS = 20


class UnitCursors(Cursor):
    """Incremental state per business unit: one window cursor per MID, under `{"business_units": {MID: state}}`.

    Each unit's cursor is the stream's ordinary window cursor, started from that unit's saved state (a unit not
    in the state starts from `start_date`, and the others' cursors are untouched). Slices carry their unit's MID
    (`mid` in the slice's partition), which routes each record and each closed slice to its unit's cursor. The
    stream's state message holds every unit's state, written whenever one of them checkpoints.

    A state saved before business units (a plain `{cursor_field: value}`) is the home unit's: it was the only
    unit read then.
    """

    def __init__(
        self,
        stream: SfmcStream,
        state_manager: ConnectorStateManager,
        message_repository: MessageRepository,
        home_mid: Callable[[], int],
    ) -> None:
        self._stream = stream
        self._state_manager = state_manager
        self._message_repository = message_repository
        saved = state_manager.get_stream_state(stream.name, stream.namespace) or {}
        if not isinstance(saved, Mapping):
            saved = {}  # read_input_state has already warned about it
        self.input_state: dict[str, Any] = dict(saved)
        by_unit = saved.get(UNITS_KEY)
        if by_unit is not None and not isinstance(by_unit, Mapping):
            logger.warning(
                f"Stream '{stream.name}': its input state's '{UNITS_KEY}' is {_shown(by_unit)}, not an object of "
                "states by MID. Every business unit of the stream restarts from start_date."
            )
            by_unit = {}
        self._saved: dict[str, Any] = usable_unit_states(stream, by_unit) if isinstance(by_unit, Mapping) else {}
        self._legacy: Mapping[str, Any] | None = saved if saved and by_unit is None else None
        self._home_mid = home_mid
        self._cursors: dict[int, ConcurrentCursor] = {}
        self._states: dict[str, Any] = dict(self._saved)
        self._lock = threading.RLock()
        self._unread_noted = False

    # -- one cursor per unit ----------------------------------------------------------------------------------
    def for_unit(self, mid: int) -> ConcurrentCursor:
        with self._lock:
            cursor = self._cursors.get(mid)
            if cursor is None:
                saved = self._saved.get(str(mid))
                if saved is None and self._legacy is not None and mid == self._home_mid():
                    saved = self._legacy
                unit_states = ConnectorStateManager()
                if saved is not None and not isinstance(saved, Mapping):
                    logger.warning(
                        f"Stream '{self._stream.name}': its input state for business unit {mid} is {_shown(saved)}, "
                        "not an object. That unit restarts from start_date."
                    )
                elif saved:
                    unit_states.update_state_for_stream(self._stream.name, self._stream.namespace, dict(saved))
                cursor = window_cursor(self._stream, unit_states, _UnitCheckpoint(self, mid))
                self._cursors[mid] = cursor
            return cursor

    def _unit_of(self, stream_slice: Mapping[str, Any] | None) -> int:
        mid = (stream_slice or {}).get(MID)
        if mid is None:
            mid = current_mid.get()
        return self._stream.state_unit(mid if mid is not None else self._home_mid())

    def checkpoint(self, mid: int) -> None:
        """Write the stream's state with unit `mid`'s new state (called when that unit's cursor checkpoints)."""
        with self._lock:
            self._states[str(mid)] = dict(self._cursors[mid].state)
            state = {UNITS_KEY: dict(self._states)}
            self._state_manager.update_state_for_stream(self._stream.name, self._stream.namespace, state)
            message = self._state_manager.create_state_message(self._stream.name, self._stream.namespace)
            self._message_repository.emit_message(message)

    # -- Cursor ---------------------------------------------------------------------------------------------
    @property
    def state(self) -> MutableMapping[str, Any]:
        with self._lock:
            return {UNITS_KEY: dict(self._states)}

    def stream_slices(self) -> Iterable[StreamSlice]:
        """The windows of the unit being sliced (`current_mid`): SfmcStream marks them with its MID."""
        self._note_units_not_read()
        return self.for_unit(self._unit_of(None)).stream_slices()

    def _note_units_not_read(self) -> None:
        """Log once per stream the saved units this sync does not read: their cursors are kept as they are, so a
        unit removed from the config and added back resumes where it stopped."""
        with self._lock:
            if self._unread_noted:
                return
            self._unread_noted = True
            read = {str(self._stream.state_unit(mid)) for mid in self._stream.units()}
            saved = dict(self._saved)
            if self._legacy is not None:
                # A state saved before business units is the home unit's: it is written back under the home unit's
                # MID (its cursor replaces it once it checkpoints), so a sync that does not read the home unit, or
                # fails in it before its first checkpoint, does not lose it.
                home = str(self._home_mid())
                problem = _state_problem(
                    self._legacy, self._stream.cursor_field_name or "", IsoStateConverter(), utc_now()
                )
                if home not in self._states and problem is None:
                    self._states[home] = saved[home] = dict(self._legacy)
            kept = sorted((key for key in saved if key not in read), key=int)
        if kept:
            listed = ", ".join(kept[:MAX_LISTED_UNITS]) + (
                f" and {len(kept) - MAX_LISTED_UNITS} more" if len(kept) > MAX_LISTED_UNITS else ""
            )
            logger.info(
                f"Stream '{self._stream.name}': the input state holds cursors of {len(kept)} business unit"
                f"{'s' if len(kept) > 1 else ''} this sync does not read ({listed}); they are kept unchanged, so each "
                "resumes where it stopped if read again."
            )

    def observe(self, record: Record) -> None:
        self.for_unit(self._unit_of(record.associated_slice)).observe(record)

    def close_partition(self, partition: Partition) -> None:
        self.for_unit(self._unit_of(partition.to_slice())).close_partition(partition)

    def ensure_at_least_one_state_emitted(self) -> None:
        with self._lock:
            cursors = list(self._cursors.items())
        if not cursors:
            state = {UNITS_KEY: dict(self._states)}
            self._state_manager.update_state_for_stream(self._stream.name, self._stream.namespace, state)
            message = self._state_manager.create_state_message(self._stream.name, self._stream.namespace)
            self._message_repository.emit_message(message)
            return
        for _, cursor in cursors:
            cursor.ensure_at_least_one_state_emitted()

    def should_be_synced(self, record: Record) -> bool:
        return self.for_unit(self._unit_of(record.associated_slice)).should_be_synced(record)


# Warnings per stream about dropped entries of `business_units`, each naming its key; the rest are counted in one
# more line. A state file with thousands of junk entries logged a line for each, in every stream.
MAX_DROPPED_WARNINGS = 10


def usable_unit_states(stream: SfmcStream, by_unit: Mapping[Any, Any]) -> dict[str, dict[str, Any]]:
    """The entries of `{"business_units": {MID: state}}` a sync can resume from, keyed by MID as text.

    Dropped, each with a warning naming the stream and the key (the first MAX_DROPPED_WARNINGS of a stream; then one
    line with how many more): a key that is not a MID as this connector writes them (digits of a positive 31-bit
    integer, no sign, no padding), and a value that is not a usable state (not an object, a cursor that is not a
    date or is later than now: the rules of `trusted_stream_state`). A dropped unit restarts from start_date when it
    is read; nothing dropped is written back."""
    converter = IsoStateConverter()
    now = utc_now()
    usable: dict[str, dict[str, Any]] = {}
    dropped: list[str] = []
    for key, value in by_unit.items():
        if not _is_mid_key(key):
            dropped.append(
                f"Stream '{stream.name}': its input state has an entry {_shown(key)} under '{UNITS_KEY}', which is "
                "not the MID of a business unit. It is dropped."
            )
            continue
        if not isinstance(value, Mapping):
            problem: str | None = f"is not a JSON object but {_shown(value)}"
        else:
            problem = _state_problem(value, stream.cursor_field_name or "", converter, now) if value else None
        if problem is not None:
            dropped.append(
                f"Stream '{stream.name}': its input state for business unit {key} {problem}. It is dropped: that "
                "unit restarts from start_date when it is read."
            )
            continue
        usable[key] = dict(value)
    _warn_dropped(
        dropped,
        lambda more: (
            f"Stream '{stream.name}': {more} more entries under '{UNITS_KEY}' of its input state are dropped "
            "for the same reasons (not a MID, or not a usable state); they are not listed."
        ),
    )
    return usable


def _warn_dropped(warnings: list[str], more: Callable[[int], str]) -> None:
    """The first MAX_DROPPED_WARNINGS warnings, then one line (`more(count)`) counting the rest."""
    for warning in warnings[:MAX_DROPPED_WARNINGS]:
        logger.warning(warning)
    if len(warnings) > MAX_DROPPED_WARNINGS:
        logger.warning(more(len(warnings) - MAX_DROPPED_WARNINGS))


def _is_mid_key(key: Any) -> bool:
    """A MID as `UnitCursors` writes it: str(mid) of a MID from 1 to 2**31 - 1."""
    return (
        isinstance(key, str)
        and 0 < len(key) <= 10
        and key.isascii()
        and key.isdigit()
        and str(int(key)) == key
        and 0 < int(key) < 2**31
    )


class _UnitCheckpoint(MessageRepository):
    """The message repository of one unit's cursor: its state messages become checkpoints of the whole stream."""

    def __init__(self, cursors: UnitCursors, mid: int) -> None:
        self._cursors, self._mid = cursors, mid

    def emit_message(self, message: AirbyteMessage) -> None:
        self._cursors.checkpoint(self._mid)

    def log_message(self, level: Level, message_provider: Callable[[], LogMessage]) -> None:
        self._cursors._message_repository.log_message(level, message_provider)

    def consume_queue(self) -> Iterable[AirbyteMessage]:
        return iter(())
