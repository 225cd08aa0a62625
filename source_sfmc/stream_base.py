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
from airbyte_cdk.sources.streams.concurrent.cursor import ConcurrentCursor
from airbyte_cdk.sources.streams.http import HttpStream
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy, ErrorHandler
from airbyte_cdk.sources.types import StreamSlice
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_sfmc.auth import SfmcAuthenticator
from source_sfmc.coerce import build_coercer
from source_sfmc.config import ConfigError, SfmcConfig
from source_sfmc.errors import RetryAfterBackoff, SfmcErrorHandler
from source_sfmc.http_policy import apply_policy

logger = logging.getLogger("airbyte")

WINDOW_START = "window_start"
WINDOW_END = "window_end"


@cache
def load_schema(name: str) -> Mapping[str, Any]:
    return json.loads(resources.files("source_sfmc").joinpath("schemas", f"{name}.json").read_text("utf-8"))


@dataclass
class SyncContext:
    """Per-sync shared things: the config, the one authenticator, and listings several streams derive from."""

    config: SfmcConfig
    authenticator: SfmcAuthenticator
    _memo: dict[str, Any] = field(default_factory=dict)
    _memo_locks: dict[str, threading.Lock] = field(default_factory=dict)
    _memo_failures: dict[str, Exception] = field(default_factory=dict)
    _memo_guard: threading.Lock = field(default_factory=threading.Lock)

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """Compute `key` once per sync, even when several streams ask at the same time.

        A computation that failed (its requests already retried to the end of the error policy) fails every later
        caller of the sync with the same error instead of being tried again: otherwise each window of a stream would
        spend the whole retry budget again on a Describe or listing that is down, and the sync would take hours to
        report what its first window already knew."""
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
    primary_key = "entity_id"
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
        self.window_cursor: ConcurrentCursor | None = None
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
        return load_schema(self.schema_name or self.stream_name)

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
    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
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
        try:
            yield from self.read_slice(stream_slice or {})
        except AirbyteTracedException as error:
            raise self._with_context(error, stream_slice) from error
        except requests.RequestException as error:
            raise AirbyteTracedException(
                message=f"Stream '{self.stream_name}'{_window_text(stream_slice)} failed: {type(error).__name__}",
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

    def _with_context(self, error: AirbyteTracedException, stream_slice: Mapping[str, Any] | None) -> Exception:
        prefix = f"Stream '{self.stream_name}'{_window_text(stream_slice)}: "
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


def _window_text(stream_slice: Mapping[str, Any] | None) -> str:
    if stream_slice and WINDOW_START in stream_slice:
        return f", window {stream_slice[WINDOW_START]} to {stream_slice[WINDOW_END]}"
    return ""
