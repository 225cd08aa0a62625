"""What every SFMC stream shares: the token, the error policy, timeouts, schemas, typing and date windows."""

from __future__ import annotations

import copy
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

import requests
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.sources.streams.concurrent.cursor import Cursor
from airbyte_cdk.sources.streams.http import HttpStream
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy, ErrorHandler
from airbyte_cdk.sources.types import StreamSlice
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_sfmc.business_units import MID, UnitTokens, current_mid, resolve_units, set_unit
from source_sfmc.coerce import build_coercer
from source_sfmc.config import ConfigError, SfmcConfig
from source_sfmc.errors import RetryAfterBackoff, SfmcErrorHandler
from source_sfmc.http_policy import apply_policy
from source_sfmc.keys import entity_id, identity_text

logger = logging.getLogger("airbyte")

WINDOW_START = "window_start"
WINDOW_END = "window_end"


@cache
def load_schema(name: str) -> Mapping[str, Any]:
    return json.loads(resources.files("source_sfmc").joinpath("schemas", f"{name}.json").read_text("utf-8"))


@dataclass
class SyncContext:
    """Per-sync shared things: the config, the tokens (one per business unit), and listings several streams derive
    from."""

    config: SfmcConfig
    authenticator: UnitTokens
    _memo: dict[str, Any] = field(default_factory=dict)
    _memo_locks: dict[str, threading.Lock] = field(default_factory=dict)
    _memo_failures: dict[str, Exception] = field(default_factory=dict)
    _memo_guard: threading.Lock = field(default_factory=threading.Lock)

    def memo(self, key: str, compute: Callable[[], Any], *, per_unit: bool = True) -> Any:
        """Compute `key` once per sync (and per business unit, unless `per_unit` is false: listings such as data
        extension fields differ between units), even when several streams ask at the same time.

        A computation that failed (its requests already retried to the end of the error policy) fails every later
        caller of the sync with the same error instead of being tried again: otherwise each window of a stream would
        spend the whole retry budget again on a Describe or listing that is down, and the sync would take hours to
        report what its first window already knew."""
        if per_unit:
            key = f"{current_mid.get()}:{key}"
        with self._memo_guard:
            lock = self._memo_locks.setdefault(key, threading.Lock())
        with lock:
            if key in self._memo_failures:
                # A copy each time: callers add their own context to the message (the window that failed).
                raise copy.copy(self._memo_failures[key])
            if key not in self._memo:
                try:
                    self._memo[key] = compute()
                except Exception as error:
                    self._memo_failures[key] = copy.copy(error)
                    raise
            return self._memo[key]

    def known_units(self) -> tuple[int, ...]:
        """`units()` if already resolved, else () (never sends a request)."""
        with self._memo_guard:
            return self._memo.get("business_units", ())

    def units(self) -> tuple[int, ...]:
        """The MIDs of the business units this sync reads, in order, resolved once per sync (business_units.py)."""
        return self.memo("business_units", lambda: resolve_units(self), per_unit=False)


@cache
def schema_with_mid(name: str) -> Mapping[str, Any]:
    return with_mid(load_schema(name))


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_window_bound(value: datetime) -> str:
    # The year is padded by hand: strftime's %Y writes year 1 (where a sync without a start date begins) as '1'.
    utc = value.astimezone(UTC)
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def parse_window_bound(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def date_windows(start: datetime, end: datetime, step: timedelta) -> Iterator[tuple[datetime, datetime]]:
    """Half-open windows [a, b) covering [start, end), oldest first."""
    lower = start
    while lower < end:
        upper = min(lower + step, end)
        yield lower, upper
        lower = upper


class Window(StreamSlice):
    """A window slice whose hash is computed once: the cursor hashes a record's slice for every record."""

    def __hash__(self) -> int:
        cached = self.__dict__.get("_cached_hash")
        if cached is None:
            cached = self.__dict__["_cached_hash"] = super().__hash__()
        return cached


def as_window(stream_slice: StreamSlice) -> Window:
    return Window(partition=stream_slice.partition, cursor_slice=stream_slice.cursor_slice)


class SfmcStream(HttpStream):
    """Base of every stream. Subclasses say how to request and parse; this class does the rest the same way."""

    stream_name = ""
    # Ids are unique within a business unit only: the unit's MID is part of every key.
    primary_key: str | list[str] | None = [MID, "entity_id"]
    api = "rest"
    scopes: tuple[str, ...] = ()
    schema_name = ""
    # Incremental streams name their cursor and read [cursor - lookback, now) in config.window slices.
    # Streams that need a start date (tracking events) read in windows from it even in full refresh, because
    # SFMC times out on unbounded event retrieves.
    cursor_field_name: str | None = None
    needs_start_date = False

    def __init__(self, context: SyncContext) -> None:
        self.context = context
        self.config = context.config
        self.window_cursor: Cursor | None = None  # a UnitCursors in incremental syncs (state.py)
        super().__init__(authenticator=context.authenticator)
        # The CDK's HttpStream builds its HTTP client's session itself and offers no hook for it; every request of
        # this stream goes through that session, so the connector's transport policy is mounted on it here.
        apply_policy(self._http_client._session, self.config)
        self._coerce = build_coercer(self.get_json_schema(), on_bad_value=self._warn_bad_value)
        self._warned_fields: set[str] = set()

    @property
    def name(self) -> str:
        return self.stream_name

    @property
    def cursor_field(self) -> str | list[str]:
        return self.cursor_field_name or []

    @property
    def source_defined_cursor(self) -> bool:  # type: ignore[override]
        return True

    @property
    def supports_incremental(self) -> bool:
        return self.cursor_field_name is not None

    def get_json_schema(self) -> Mapping[str, Any]:
        return schema_with_mid(self.schema_name or self.stream_name)

    @property
    def lookback(self) -> timedelta:
        """How far before its saved cursor an incremental sync starts reading again."""
        return self.config.lookback

    @property
    def cursor_start(self) -> datetime | None:
        """Where a first incremental sync starts (None: everything, in one window)."""
        return self.config.start_date

    def get_error_handler(self) -> ErrorHandler | None:
        return SfmcErrorHandler(self.stream_name, self.api, self.scopes)

    def get_backoff_strategy(self) -> BackoffStrategy | None:
        return RetryAfterBackoff()

    def request_kwargs(self, **kwargs: Any) -> Mapping[str, Any]:
        return {"timeout": self.config.request_timeout_seconds, "allow_redirects": False}

    def next_page_token(self, response: requests.Response) -> Mapping[str, Any] | None:
        return None

    # -- slices ---------------------------------------------------------------------------------------------
    def units(self) -> tuple[int, ...]:
        """The business units this stream reads; each slice is one unit's, marked with its MID."""
        return self.context.units()

    def state_unit(self, mid: int) -> int:
        """The MID under which the incremental state of what unit `mid` reads is kept (state.UnitCursors): that
        unit's own, as its records are its own (data extension rows say otherwise)."""
        return mid

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        """Each unit's slices (`unit_slices`, made while `current_mid` names the unit), marked with its MID."""
        for mid in self.units():
            set_unit(mid)
            for unit_slice in self.unit_slices(
                sync_mode=sync_mode, cursor_field=cursor_field, stream_state=stream_state
            ):
                yield in_unit_slice(unit_slice, mid)

    def unit_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        """The slices of the current business unit: its cursor's windows, else date windows or one slice."""
        if self.window_cursor is not None:
            yield from (as_window(window) for window in self.window_cursor.stream_slices())
            return
        start = self.window_floor()
        if start is None or not self.needs_start_date:
            yield {}
            return
        for lower, upper in date_windows(start, utc_now(), self.config.window):
            yield {WINDOW_START: format_window_bound(lower), WINDOW_END: format_window_bound(upper)}

    def window_floor(self) -> datetime | None:
        if self.config.start_date is None and self.needs_start_date:
            raise ConfigError(
                "start_date",
                f"is needed to read stream '{self.stream_name}': set it to the earliest date to sync, "
                "e.g. '2024-01-01T00:00:00Z'",
            )
        return self.config.start_date

    # -- reading --------------------------------------------------------------------------------------------
    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        mid = (stream_slice or {}).get(MID)
        set_unit(mid)  # every request of this slice goes to its business unit, with that unit's token
        try:
            for record in self.read_slice(stream_slice or {}):
                marked = self.marked(record, mid)
                if marked is not None:
                    yield marked
        except AirbyteTracedException as error:
            raise self._with_context(error, stream_slice) from error
        except requests.RequestException as error:
            raise AirbyteTracedException(
                message=f"Stream '{self.stream_name}'{self._where(stream_slice)} failed: {type(error).__name__}",
                internal_message=str(error),
                failure_type=FailureType.transient_error,
            ) from error

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
        """Default: pages of one request chain; records typed by the schema."""
        yield from self._read_pages(
            lambda request, response, state, _slice: self.parse_response(response, stream_slice=_slice),
            stream_slice,
            {},
        )

    def marked(self, record: Mapping[str, Any], mid: int | None) -> Mapping[str, Any] | None:
        """The record with the MID of the business unit it was read from (None: not emitted from this unit)."""
        if type(record) is dict:
            record[MID] = mid
            return record
        return {**record, MID: mid}

    def parents_by_id(
        self, parents: Iterable[Mapping[str, Any]], parent_kind: str, id_field: str, children: str, instead: str = ""
    ) -> tuple[list[tuple[str, Mapping[str, Any]]], list[Mapping[str, Any]]]:
        """Parent records whose id builds a child request (each `(id text, parent)`), and those whose id is missing.

        Every stream that requests children per parent (a campaign's assets, an automation's detail, a send's
        links) goes through here: a parent without an id (absent, null, blank: `keys.identity_text`; or a dot
        segment, "." or "..") gets no child
        request, which would otherwise ask for `/None/...` or crash, and the stream reports it in one warning naming
        the stream and those parents (by name and by the `entity_id` their own stream gives them: `digest:...`).
        """
        usable: list[tuple[str, Mapping[str, Any]]] = []
        skipped: list[Mapping[str, Any]] = []
        for parent in parents:
            parent_id = identity_text(parent.get(id_field))
            # "." and ".." are dot segments: the HTTP client resolves `campaigns/../assets` to `assets`, another
            # endpoint (RFC 3986, 5.2.4), so such an id cannot name its parent in a path either.
            if parent_id is None or parent_id in (".", ".."):
                skipped.append(parent)
            else:
                usable.append((parent_id, parent))
        if skipped:
            shown = ", ".join(
                f"{_parent_name(parent)} ({entity_id(parent, parent.get(id_field))})" for parent in skipped[:5]
            )
            more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
            logger.warning(
                f"Stream '{self.stream_name}': {len(skipped)} {parent_kind} in the listing had no '{id_field}' a "
                "request can name "
                f"({shown}{more}); their {children} cannot be requested without it"
                + (f": {instead}." if instead else " and are skipped.")
            )
        return usable, skipped

    def typed(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        return self._coerce(raw)

    def _warn_bad_value(self, field_path: str, raw_value: Any) -> None:
        if field_path in self._warned_fields:
            return
        self._warned_fields.add(field_path)
        logger.warning(
            f"Stream '{self.stream_name}': field '{field_path}' had a value that does not fit its type "
            f"({str(raw_value)[:60]!r}); it is emitted as null. Further such values of this field are not logged."
        )

    def _where(self, stream_slice: Mapping[str, Any] | None) -> str:
        """ ", business unit M, window A to B" for an error message (the unit only when the sync reads several)."""
        several = len(self.context.known_units()) > 1
        return _window_text(stream_slice, with_unit=several)

    def _with_context(self, error: AirbyteTracedException, stream_slice: Mapping[str, Any] | None) -> Exception:
        prefix = f"Stream '{self.stream_name}'{self._where(stream_slice)}: "
        message = error.message or ""
        if message.startswith(_CDK_GAVE_UP):
            # The CDK's "Exhausted available request attempts. Please see logs ... Exception: <cause>": the cause
            # is our own error text, which already says what went wrong.
            cause = message.partition("Exception: ")[2].removeprefix(f"{self.stream_name}: ")
            message = f"still failing after every retry: {cause or 'see the logs'}"
        if message and not message.startswith("Stream '"):
            error.message = prefix + message
        return error


_CDK_GAVE_UP = "Exhausted available request attempts"


def _window_text(stream_slice: Mapping[str, Any] | None, *, with_unit: bool = False) -> str:
    unit = ""
    if with_unit and stream_slice and stream_slice.get(MID) is not None:
        unit = f", business unit {stream_slice[MID]}"
    if stream_slice and WINDOW_START in stream_slice:
        return f"{unit}, window {stream_slice[WINDOW_START]} to {stream_slice[WINDOW_END]}"
    return unit


MID_PROPERTY: Mapping[str, Any] = {
    "type": "integer",
    "description": "MID of the business unit the record belongs to",
    "x-sfmc-computed": True,
}


def with_mid(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """The stream schema with `mid`, the MID of the record's business unit, which every record carries."""
    properties = schema.get("properties") or {}
    if MID in properties and properties[MID].get("x-sfmc-computed"):
        return schema
    return {**schema, "properties": {MID: MID_PROPERTY, **properties}}


def in_unit_slice(unit_slice: Mapping[str, Any] | None, mid: int) -> Mapping[str, Any]:
    """A unit's slice marked with its MID: in the partition of a cursor's slice (the cursor keeps state per
    unit by it), else as one more key."""
    if isinstance(unit_slice, StreamSlice):
        return Window(partition={**unit_slice.partition, MID: mid}, cursor_slice=unit_slice.cursor_slice)
    return {**(unit_slice or {}), MID: mid}


def _parent_name(parent: Mapping[str, Any]) -> str:
    name = parent.get("name") if parent.get("name") is not None else parent.get("Name")
    text = identity_text(name)
    return repr(text[:60]) if text is not None else "unnamed"
