"""Incremental state: the CDK's ConcurrentCursor, with windows of `window_days` and a lookback.

The cursor checkpoints after every window whose records were all emitted, whatever order windows finish in, and
emits the state as `{cursor_field: <newest record cursor of the completed windows>}`. Two things here exist only
for speed, because the cursor looks at every record: parsing its cursor value and hashing its window.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from datetime import datetime, timedelta
from typing import Any

from airbyte_cdk.models import AirbyteMessage, Level
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import LogMessage, MessageRepository
from airbyte_cdk.sources.streams.concurrent.cursor import ConcurrentCursor, Cursor, CursorField
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition
from airbyte_cdk.sources.streams.concurrent.state_converters.datetime_stream_state_converter import (
    IsoMillisConcurrentStreamStateConverter,
)
from airbyte_cdk.sources.types import Record, StreamSlice
from airbyte_cdk.utils.datetime_helpers import AirbyteDateTime

from source_sfmc.business_units import MID, current_mid
from source_sfmc.stream_base import WINDOW_END, WINDOW_START, SfmcStream, utc_now


class IsoStateConverter(IsoMillisConcurrentStreamStateConverter):
    """The CDK's ISO converter, reading the ISO 8601 values our records carry with `fromisoformat`.

    The CDK's general parser (dateutil) takes about 40 µs a value, more than everything else a record costs;
    `fromisoformat` takes well under one. Anything it cannot read still goes to the general parser.
    """

    def parse_timestamp(self, timestamp: Any) -> datetime:
        if isinstance(timestamp, str):
            try:
                parsed = datetime.fromisoformat(timestamp)
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                return AirbyteDateTime.from_datetime(parsed)
        return super().parse_timestamp(timestamp)


def window_cursor(
    stream: SfmcStream, state_manager: ConnectorStateManager, message_repository: MessageRepository
) -> ConcurrentCursor:
    config = stream.config
    start = stream.cursor_start
    # Without a start date, a stream that allows it reads everything in one window rather than walking window by
    # window from year 1.
    slice_range: timedelta | None = config.window if start else None
    return ConcurrentCursor(
        stream_name=stream.name,
        stream_namespace=stream.namespace,
        stream_state=state_manager.get_stream_state(stream.name, stream.namespace),
        message_repository=message_repository,
        connector_state_manager=state_manager,
        connector_state_converter=IsoStateConverter(),
        cursor_field=CursorField(
            stream.cursor_field_name or "", supports_catalog_defined_cursor_field=not stream.source_defined_cursor
        ),
        slice_boundary_fields=(WINDOW_START, WINDOW_END),
        start=start,
        end_provider=utc_now,
        lookback_window=stream.lookback,
        slice_range=slice_range,
    )


UNITS_KEY = "business_units"


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
        by_unit = saved.get(UNITS_KEY) if isinstance(saved, Mapping) else None
        self._saved: dict[str, Any] = dict(by_unit) if isinstance(by_unit, Mapping) else {}
        self._legacy: Mapping[str, Any] | None = saved if saved and by_unit is None else None
        self._home_mid = home_mid
        self._cursors: dict[int, ConcurrentCursor] = {}
        self._states: dict[str, Any] = dict(self._saved)
        self._lock = threading.RLock()

    # -- one cursor per unit ----------------------------------------------------------------------------------
    def for_unit(self, mid: int) -> ConcurrentCursor:
        with self._lock:
            cursor = self._cursors.get(mid)
            if cursor is None:
                saved = self._saved.get(str(mid))
                if saved is None and self._legacy is not None and mid == self._home_mid():
                    saved = self._legacy
                unit_states = ConnectorStateManager()
                if isinstance(saved, Mapping) and saved:
                    unit_states.update_state_for_stream(self._stream.name, self._stream.namespace, dict(saved))
                cursor = window_cursor(self._stream, unit_states, _UnitCheckpoint(self, mid))
                self._cursors[mid] = cursor
            return cursor

    def _unit_of(self, stream_slice: Mapping[str, Any] | None) -> int:
        mid = (stream_slice or {}).get(MID)
        if mid is None:
            mid = current_mid.get()
        return mid if mid is not None else self._home_mid()

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
        return self.for_unit(self._unit_of(None)).stream_slices()

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
