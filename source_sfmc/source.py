"""SourceSfmc: assembles the streams from their tables and runs them on the CDK's concurrent reader."""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterator, Mapping, MutableMapping
from queue import Queue
from typing import Any

from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteErrorTraceMessage,
    AirbyteMessage,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    FailureType,
    Status,
    SyncMode,
    Type,
)
from airbyte_cdk.sources.concurrent_source.concurrent_source import ConcurrentSource, QueueItem
from airbyte_cdk.sources.concurrent_source.concurrent_source_adapter import ConcurrentSourceAdapter
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import InMemoryMessageRepository, MessageRepository
from airbyte_cdk.sources.message.concurrent_repository import ConcurrentMessageRepository
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.sources.streams.concurrent.adapters import StreamFacade
from airbyte_cdk.sources.streams.concurrent.cursor import FinalStateCursor
from airbyte_cdk.sources.utils.slice_logger import DebugSliceLogger
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_sfmc.business_units import UnitTokens, home_mid
from source_sfmc.config import ConfigError, SfmcConfig, parse_config
from source_sfmc.connection_check import check_connection
from source_sfmc.data_extensions import (
    DataExtensionRowsStream,
    KeptStateCursor,
    UnreadableDataExtensionStream,
    catalog_facade,
    data_extension_streams,
)
from source_sfmc.http_policy import policy_session
from source_sfmc.masking import mask
from source_sfmc.rest import REST_STREAMS
from source_sfmc.soap.streams import SOAP_OBJECTS, soap_streams
from source_sfmc.state import UnitCursors, read_input_state
from source_sfmc.stream_base import SfmcStream, SyncContext

logger = logging.getLogger("airbyte")


# The CDK ends a sync in which streams failed with one more trace, "During the sync, the following streams did not
# sync successfully: ...", always labelled config_error (concurrent_read_processor.py: "this combined error isn't
# actionable, but rather the previously emitted individual errors"). Airbyte's platform decides whether to retry an
# attempt from its earliest failure (ConnectionManagerWorkflowImpl: `failures.first().failureType != CONFIG_ERROR`),
# which is a per-stream trace, but it marks a connection FAILED, the user's to fix, when *any* failure of the last
# attempt is a config_error (ConnectionsHandler: `anyMatch { it.failureType == CONFIG_ERROR }`), so that summary
# made every server fault look like the user's mistake. It is given the type its causes have instead.
_CDK_SYNC_SUMMARY = "Concurrent read failure"


def _bounded_int(digits: str) -> int | float:
    return int(digits) if len(digits) <= 100 else math.inf


def sync_failure_type(stream_failures: list[FailureType]) -> FailureType:
    """The type of the sync's closing summary from its per-stream failures: config_error only when every one is
    the user's to fix; system_error when any is a fault of the connector's; else transient_error (server faults
    that outlasted the retries)."""
    if stream_failures and all(failure == FailureType.config_error for failure in stream_failures):
        return FailureType.config_error
    if FailureType.system_error in stream_failures or not stream_failures:
        return FailureType.system_error
    return FailureType.transient_error


class SourceSfmc(ConcurrentSourceAdapter):
    # `parse_config` validates every field with a message naming it; the CDK's JSON-schema check would answer
    # first with messages that do not ("0 is less than the minimum of 1").
    check_config_against_spec = False

    def __init__(self) -> None:
        self._message_repository: MessageRepository = InMemoryMessageRepository()
        self._catalog: ConfiguredAirbyteCatalog | None = None
        self._state: list[AirbyteStateMessage] | None = None
        super().__init__(self._concurrent_source_for(1))

    @property
    def message_repository(self) -> MessageRepository:
        return self._message_repository

    def _concurrent_source_for(self, num_workers: int) -> ConcurrentSource:
        # State messages must travel through the same queue as records: a window's checkpoint is queued by the
        # worker after that window's records, so it can never reach stdout before them. (With a separate
        # repository the main thread could print a checkpoint while the records it covers still wait in the
        # queue, and a sync killed in between would skip them for good.)
        queue: Queue[QueueItem] = Queue(maxsize=10_000)
        self._message_repository = ConcurrentMessageRepository(queue, InMemoryMessageRepository())
        # One extra thread generates partitions (windows, per-parent slices); `num_workers` read them.
        pool = 1 if num_workers == 1 else num_workers + 1
        return ConcurrentSource.create(pool, 1, logger, DebugSliceLogger(), self._message_repository, queue=queue)

    # -- Airbyte verbs --------------------------------------------------------------------------------------
    @staticmethod
    def read_config(config_path: str) -> MutableMapping[str, Any]:
        """The CDK's reader, except that every file gives a config or a config_error (a file that is missing,
        unreadable, not UTF-8, not JSON, or JSON but not an object).

        A JSON number too long for Python's int conversion (over 4,300 digits) would stop the CDK's reader with a
        traceback; it is read as infinity instead, which `parse_config` refuses naming its field."""
        try:
            # utf-8-sig: a byte order mark, which Windows editors write, is skipped (RFC 8259 section 8.1 lets a
            # parser ignore it); json.loads refuses it as "not valid JSON (line 1, column 1)".
            with open(config_path, encoding="utf-8-sig") as file:
                contents = file.read()
        except UnicodeDecodeError:
            raise AirbyteTracedException(
                message="The config file is not UTF-8 text, so it cannot be a JSON config.",
                failure_type=FailureType.config_error,
            ) from None
        except OSError as error:
            raise AirbyteTracedException(
                message=f"The config file {config_path!r} could not be read: {error.strerror or type(error).__name__}.",
                failure_type=FailureType.config_error,
            ) from None
        try:
            config = json.loads(contents, parse_int=_bounded_int)
        except RecursionError:  # valid JSON nested deeper than Python's parser goes: no config is
            raise AirbyteTracedException(
                message="The config file is nested too deeply to be a config.", failure_type=FailureType.config_error
            ) from None
        except ValueError as error:
            where = f" (line {error.lineno}, column {error.colno})" if isinstance(error, json.JSONDecodeError) else ""
            raise AirbyteTracedException(
                message=f"The config file is not valid JSON{where}.", failure_type=FailureType.config_error
            ) from None
        if not isinstance(config, MutableMapping):
            raise ConfigError("config", "must be a JSON object")
        return config

    @classmethod
    def read_state(cls, state_path: str) -> list[AirbyteStateMessage]:
        return read_input_state(state_path)

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        """Always a CONNECTION_STATUS: the CDK's entry point prints one for config errors only and re-raises every
        other failure, so a server fault or an unexpected error would end `check` with a trace and no status. On
        success its message says what each API family found (the CDK's own `check` drops that message)."""
        try:
            succeeded, outcome = self.check_connection(logger, config)
            if not succeeded:
                return AirbyteConnectionStatus(status=Status.FAILED, message=repr(outcome))  # as the CDK reports it
            return AirbyteConnectionStatus(status=Status.SUCCEEDED, message=outcome)
        except AirbyteTracedException as error:
            if error.failure_type == FailureType.config_error:
                _mask_exception(error)
                raise  # the entry point turns it into a failed CONNECTION_STATUS with its message
            logger.error(f"Check failed: {mask(error.message or '')}")
            return AirbyteConnectionStatus(status=Status.FAILED, message=mask(error.message or ""))
        except Exception as error:  # a fault of ours: still answer, without quoting anything that may hold a secret
            logger.error("Check failed with an unexpected error", exc_info=True)
            return AirbyteConnectionStatus(
                status=Status.FAILED,
                message=f"The connection check failed with an unexpected error ({type(error).__name__}).",
            )

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> tuple[bool, Any]:
        sfmc_config = parse_config(config)
        return check_connection(self._context(sfmc_config, for_check=True))

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: list[AirbyteStateMessage] | None = None,
    ) -> Iterator[AirbyteMessage]:
        sfmc_config = parse_config(config)
        self._catalog, self._state = catalog, state
        self._concurrent_source = self._concurrent_source_for(sfmc_config.num_workers)
        self._refuse_streams_without_start(sfmc_config, catalog)
        stream_failures: list[FailureType] = []
        failed = FailedStreams()
        try:
            for message in super().read(logger, config, catalog, state):
                if message.type == Type.TRACE and message.trace and message.trace.error:
                    stream_failures.append(message.trace.error.failure_type or FailureType.system_error)
                    mask_error_trace(message.trace.error)
                    failed.add(message.trace.error)
                elif message.type == Type.LOG and message.log:
                    message.log.message = mask(message.log.message)
                yield message
        except AirbyteTracedException as error:
            if error.internal_message == _CDK_SYNC_SUMMARY:
                error.failure_type = sync_failure_type(stream_failures)
                error.message = failed.summary() or error.message
            _mask_exception(error)  # the CDK's summary quotes every stream's exception
            raise

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        context = self._context(parse_config(config))
        legacy_streams: list[SfmcStream] = [stream_class(context) for stream_class in REST_STREAMS]
        legacy_streams += soap_streams(context)
        legacy_streams += data_extension_streams(context, self._catalog)
        state_manager = ConnectorStateManager(state=self._state)
        return [self._concurrent(stream, state_manager) for stream in legacy_streams]

    # -- assembly -------------------------------------------------------------------------------------------
    @staticmethod
    def _context(config: SfmcConfig, *, for_check: bool = False) -> SyncContext:
        authenticator = UnitTokens(config, session=policy_session(config), for_check=for_check)
        return SyncContext(config=config, authenticator=authenticator)

    def _sync_mode(self, stream_name: str) -> SyncMode:
        for configured in self._catalog.streams if self._catalog else []:
            if configured.stream.name == stream_name:
                return configured.sync_mode
        return SyncMode.full_refresh

    def _concurrent(self, stream: SfmcStream, state_manager: ConnectorStateManager) -> Stream:
        if isinstance(stream, UnreadableDataExtensionStream) and stream.keeps_state:
            saved = state_manager.get_stream_state(stream.name, stream.namespace)
            cursor = KeptStateCursor(stream.name, stream.namespace, self._message_repository, saved)
            state = None
        elif stream.cursor_field_name and self._sync_mode(stream.name) == SyncMode.incremental:
            # State per business unit: a unit added later starts from start_date, the others go on.
            context = stream.context
            cursor = UnitCursors(stream, state_manager, self._message_repository, lambda: home_mid(context))
            stream.window_cursor = cursor
            state = cursor.input_state
        else:
            cursor = FinalStateCursor(stream.name, stream.namespace, self._message_repository)
            state = None
        facade = StreamFacade.create_from_stream(stream, self, logger, state, cursor)
        return catalog_facade(stream, facade) if isinstance(stream, DataExtensionRowsStream) else facade

    def _refuse_streams_without_start(self, config: SfmcConfig, catalog: ConfiguredAirbyteCatalog) -> None:
        if config.start_date is not None:
            return
        needing = {spec.stream_name for spec in SOAP_OBJECTS if spec.needs_start_date}
        chosen = sorted(needing & {configured.stream.name for configured in catalog.streams})
        if chosen:
            raise ConfigError(
                "start_date",
                f"is needed to read {', '.join(chosen)}: set it to the earliest date to sync, e.g. "
                "'2024-01-01T00:00:00Z' (SFMC keeps tracking events for about six months)",
            )


# "Stream 'sent_events', business unit 9999999, window A to B: <reason>" (SfmcStream._with_context)
_STREAM_ERROR = re.compile(
    r"Stream '(?P<stream>[^']*)'(?P<where>(?:, business unit [0-9]+)?(?:, window \S+ to \S+)?): (?P<reason>.*)",
    re.DOTALL,
)
_UNIT = re.compile(r"business unit (?P<mid>[0-9]+)")


# What differs between two windows' failures for the same reason: their dates ("between 2025-01-01T00:00:00.000Z and
# ...") and the span of the piece that failed ("a piece of 42 minutes 11 seconds").
_WINDOW_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9:.]+(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?")
_SPAN = re.compile(r"[0-9]+ (?:day|hour|minute|second)s?(?: [0-9]+ (?:day|hour|minute|second)s?)*")


def _reason_kind(reason: str) -> str:
    """A reason without its window's dates and spans: two windows that failed alike give the same kind."""
    return _SPAN.sub("<span>", _WINDOW_DATE.sub("<date>", reason))


class FailedStreams:
    """The sync's failed streams, for its closing error: each reason once, with the streams that failed for it
    (a stream once per reason, however many windows failed with it).

    The CDK closes a sync in which streams failed with one line per failed partition, each the `repr()` of its
    exception (`generate_failed_streams_error_message`: "campaigns: TokenError(None)", repeated for every window, a
    thousand characters for one unit the package cannot read). The streams' own error traces, already emitted, say
    what is wrong in words; the summary is made from them. Reasons that differ only in their window's dates and
    spans (a timeout "between A and B" in each window) are one reason, shown as the first window gave it."""

    def __init__(self) -> None:
        # stream -> (where, kind of reason) -> [the first window's reason, how many partitions failed so]
        self._reasons: dict[str, dict[tuple[str, str], list[Any]]] = {}

    def add(self, error: AirbyteErrorTraceMessage) -> None:
        if error.stream_descriptor is None or not error.message:
            return
        stream = error.stream_descriptor.name
        match = _STREAM_ERROR.fullmatch(error.message)
        reason = match["reason"].strip() if match else error.message.strip()
        unit = _UNIT.search(match["where"]) if match else None
        # The unit, when the reason itself does not say which; never the window (one line for all of them).
        where = f", business unit {unit['mid']}" if unit and f"business unit {unit['mid']}" not in reason else ""
        reasons = self._reasons.setdefault(stream, {})
        seen = reasons.setdefault((where, _reason_kind(reason)), [reason, 0, False])
        seen[1] += 1
        seen[2] = seen[2] or reason != seen[0]

    def summary(self) -> str | None:
        """e.g. "During the sync, 2 streams did not sync successfully. campaigns, sent_events (9 windows): <reason>",
        streams that failed for the same reason sharing it; None when no stream failed."""
        if not self._reasons:
            return None
        by_reason: dict[str, tuple[str, list[str]]] = {}
        for stream, reasons in self._reasons.items():
            for (where, kind), (reason, count, varied) in reasons.items():
                windows = f" ({count} windows{', the first' if varied else ''})" if count > 1 else ""
                by_reason.setdefault(kind, (reason, []))[1].append(f"{stream}{where}{windows}")
        count = len(self._reasons)
        parts = [f"{', '.join(labels)}: {reason}" for reason, labels in by_reason.values()]
        return f"During the sync, {count} stream{'s' if count > 1 else ''} did not sync successfully. " + " | ".join(
            parts
        )


def mask_error_trace(error: AirbyteErrorTraceMessage) -> None:
    """Mask secrets in a stream's error trace: the CDK's concurrent reader emits a stream's exception with
    `as_airbyte_message`, not the sanitised variant, so a token Marketing Cloud quoted back in its error text (an
    echoed Authorization header, a SOAP fault quoting the envelope) would otherwise be printed."""
    for name in ("message", "internal_message", "stack_trace"):
        text = getattr(error, name)
        if text:
            setattr(error, name, mask(text))


def _mask_exception(error: AirbyteTracedException) -> None:
    """Mask secrets in an exception the entry point prints: it masks the literal text only (`filter_secrets`)."""
    error.message = mask(error.message) if error.message else error.message
    error.internal_message = mask(error.internal_message) if error.internal_message else error.internal_message
