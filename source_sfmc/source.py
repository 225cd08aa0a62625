"""SourceSfmc: assembles the streams from their tables and runs them on the CDK's concurrent reader."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from queue import Queue
from typing import Any

import requests
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    Status,
    SyncMode,
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

from source_sfmc.auth import SfmcAuthenticator
from source_sfmc.config import ConfigError, SfmcConfig, parse_config
from source_sfmc.connection_check import check_connection
from source_sfmc.data_extensions import (
    DataExtensionRowsStream,
    KeptStateCursor,
    UnreadableDataExtensionStream,
    catalog_facade,
    data_extension_streams,
)
from source_sfmc.rest import REST_STREAMS
from source_sfmc.soap.streams import SOAP_OBJECTS, soap_streams
from source_sfmc.state import window_cursor
from source_sfmc.stream_base import SfmcStream, SyncContext

logger = logging.getLogger("airbyte")


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
    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> tuple[bool, Any]:
        sfmc_config = parse_config(config)
        return check_connection(self._context(sfmc_config))

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        # The CDK's check drops check_connection's message on success; ours says what each API family found.
        succeeded, outcome = self.check_connection(logger, config)
        if not succeeded:
            return AirbyteConnectionStatus(status=Status.FAILED, message=repr(outcome))  # as the CDK reports it
        return AirbyteConnectionStatus(status=Status.SUCCEEDED, message=outcome)

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
        yield from super().read(logger, config, catalog, state)

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        context = self._context(parse_config(config))
        legacy_streams: list[SfmcStream] = [stream_class(context) for stream_class in REST_STREAMS]
        legacy_streams += soap_streams(context)
        legacy_streams += data_extension_streams(context, self._catalog)
        state_manager = ConnectorStateManager(state=self._state)
        return [self._concurrent(stream, state_manager) for stream in legacy_streams]

    # -- assembly -------------------------------------------------------------------------------------------
    @staticmethod
    def _context(config: SfmcConfig) -> SyncContext:
        return SyncContext(config=config, authenticator=SfmcAuthenticator(config, session=requests.Session()))

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
            cursor = window_cursor(stream, state_manager, self._message_repository)
            stream.window_cursor = cursor
            state = state_manager.get_stream_state(stream.name, stream.namespace)
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
