"""Data extension rows: one stream per data extension, its schema generated from the data extension's fields.

Discovery costs two paged retrieves whatever the number of data extensions: DataExtension (keys and names) and
DataExtensionField (every field of every data extension, shared with the `data_extensions` stream). Rows are read
with SOAP `DataExtensionObject[<key>]` (2,500 per page); incremental reads filter the user-chosen Date field with
`greaterThanOrEqual` the cursor's lower bound.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airbyte_cdk.models import ConfiguredAirbyteCatalog, FailureType, SyncMode
from airbyte_cdk.sources.streams.concurrent.adapters import StreamFacade
from airbyte_cdk.sources.streams.concurrent.cursor import CursorField
from airbyte_cdk.sources.types import StreamSlice
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_sfmc.soap.envelope import Filter, SimpleFilter
from source_sfmc.soap.parse import RetrievePage
from source_sfmc.soap.streams import (
    DATA_EXTENSIONS_SCOPE,
    SOAP_OBJECTS,
    DataExtensionsStream,
    SoapObject,
    SoapStream,
    data_extension_fields,
    key_of,
)
from source_sfmc.stream_base import WINDOW_END, WINDOW_START, SyncContext, parse_window_bound

logger = logging.getLogger("airbyte")

STREAM_PREFIX = "data_extension__"
DATA_EXTENSION_PROPERTIES = ("ObjectID", "CustomerKey", "Name")
# A window starting at or before this is the cursor's "beginning of time": no lower bound is sent, so a first
# incremental sync without a start date also reads rows dated before 1970 (birth dates...).
_BEGINNING = parse_window_bound("1970-01-01T00:00:00Z")
_NON_ALPHANUMERIC_RUN = re.compile(r"[^a-z0-9]+")
# Names a user would recognise as "when this row last changed": ModifiedDate, LastModified, UpdatedAt... matched
# word by word (camelCase or separated), so that "Signup Date" is not taken for "up-date".
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_MODIFICATION_WORD = re.compile(r"modif|updat|changed")
_GLUED_MODIFICATION_NAMES = frozenset(
    {"lastmodified", "lastmodifieddate", "lastupdated", "lastupdate", "modifieddate", "updatedat", "updateddate"}
)

_STRING = {"type": ["null", "string"]}
FIELD_TYPE_SCHEMAS: dict[str, dict[str, Any]] = {
    "Text": _STRING,
    "EmailAddress": _STRING,
    "Phone": _STRING,
    "Locale": _STRING,
    "Number": {"type": ["null", "integer"]},
    "Decimal": {"type": ["null", "number"]},
    "Boolean": {"type": ["null", "boolean"]},
    "Date": {"type": ["null", "string"], "format": "date-time", "x-sfmc-date": "data_extension"},
}
_HAS_MAX_LENGTH = frozenset({"Text", "EmailAddress", "Phone", "Locale"})


@dataclass(frozen=True)
class DataExtensionField:
    name: str
    field_type: str
    max_length: int | None = None
    is_primary_key: bool = False


@dataclass(frozen=True)
class DataExtensionTable:
    """What discovery knows of one data extension: enough to build its stream."""

    key: str
    name: str
    stream_name: str
    fields: tuple[DataExtensionField, ...]

    @property
    def primary_key(self) -> list[str]:
        return [field.name for field in self.fields if field.is_primary_key]

    @property
    def date_fields(self) -> list[str]:
        return [field.name for field in self.fields if field.field_type == "Date"]

    @property
    def default_cursor(self) -> str | None:
        """The first Date field named like a modification date, if any."""
        for name in self.date_fields:
            if is_modification_name(name):
                return name
        return None


def is_modification_name(name: str) -> bool:
    if _NON_ALPHANUMERIC_RUN.sub("", name.lower()) in _GLUED_MODIFICATION_NAMES:
        return True
    return any(_MODIFICATION_WORD.match(word.lower()) for word in _WORDS.findall(name))


# -- naming and typing ------------------------------------------------------------------------------------------
def stream_name_for(key: str) -> str:
    """`data_extension__` + the key lower-cased, every run of characters other than a-z and 0-9 made one `_`."""
    return STREAM_PREFIX + _NON_ALPHANUMERIC_RUN.sub("_", key.lower())


def unique_stream_names(keys: Sequence[str]) -> dict[str, str]:
    """Stream name of each key; keys whose names collide get `_2`, `_3`... in key order, so names are stable."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for key in sorted(keys):
        base = name = stream_name_for(key)
        suffix = 2
        while name in taken:
            name, suffix = f"{base}_{suffix}", suffix + 1
        taken.add(name)
        names[key] = name
    return names


def field_schema(field: DataExtensionField) -> dict[str, Any]:
    schema = dict(FIELD_TYPE_SCHEMAS.get(field.field_type, _STRING))
    if field.field_type in _HAS_MAX_LENGTH and field.max_length:
        schema["maxLength"] = field.max_length
    return schema


def json_schema(table: DataExtensionTable) -> dict[str, Any]:
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "description": f"Rows of data extension '{table.name}' (external key '{table.key}').",
        "additionalProperties": True,
        "properties": {field.name: field_schema(field) for field in table.fields},
    }


def table_field(raw: Mapping[str, Any]) -> DataExtensionField:
    """A DataExtensionField result (all strings) as a field description."""
    max_length = raw.get("MaxLength")
    return DataExtensionField(
        name=str(raw.get("Name")),
        field_type=str(raw.get("FieldType") or "Text"),
        max_length=int(max_length) if max_length and str(max_length).isdigit() and int(max_length) > 0 else None,
        is_primary_key=str(raw.get("IsPrimaryKey") or "").lower() == "true",
    )


def build_tables(
    data_extensions: Iterable[Mapping[str, Any]], fields: Mapping[str, list[dict]]
) -> list[DataExtensionTable]:
    """Tables from DataExtension results and fields by data extension key (ordinal order), sorted by stream name."""
    by_key = {str(raw["CustomerKey"]): raw for raw in data_extensions if raw.get("CustomerKey")}
    names = unique_stream_names(list(by_key))
    tables = [
        DataExtensionTable(
            key=key,
            name=str(raw.get("Name") or key),
            stream_name=names[key],
            fields=tuple(table_field(field) for field in fields.get(key, []) if field.get("Name")),
        )
        for key, raw in by_key.items()
    ]
    return sorted(tables, key=lambda table: table.stream_name)


# -- the stream ---------------------------------------------------------------------------------------------------
class DataExtensionRowsStream(SoapStream):
    """Rows of one data extension. The cursor, when incremental, is the Date field the catalog chose."""

    # Rows are typed from their Properties map, with bad values logged per row: `records_of` does it.
    types_while_parsing = False
    # Its windows have only a lower bound (`slice_filter`), so there is nothing to split.
    splits_windows = False

    def __init__(self, context: SyncContext, table: DataExtensionTable, cursor: str | None = None) -> None:
        self.table = table
        self._schema = json_schema(table)
        spec = SoapObject(
            table.stream_name,
            f"DataExtensionObject[{table.key}]",
            key_of(*table.primary_key) if table.primary_key else (lambda raw: ""),
            DATA_EXTENSIONS_SCOPE,
            # Without a chosen cursor, any Date field makes the stream offer incremental; the catalog picks one.
            cursor=cursor or table.default_cursor or next(iter(table.date_fields), None),
        )
        super().__init__(context, spec)
        self._pending_bad_values: list[tuple[str, Any]] = []

    @property
    def primary_key(self) -> list[str] | None:  # type: ignore[override]
        return self.table.primary_key or None

    @property
    def source_defined_cursor(self) -> bool:  # type: ignore[override]
        return False

    def get_json_schema(self) -> Mapping[str, Any]:
        return self._schema

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any] | None]:
        # One retrieve per sync: the cursor's windows are merged, the retrieve is open-ended above (rows dated
        # in the future are read now rather than never) and paged by SFMC.
        if self.window_cursor is None:
            yield {}
            return
        windows = list(self.window_cursor.stream_slices())
        if windows:
            # A StreamSlice, not a dict: the cursor keys its per-slice state by it.
            yield StreamSlice(
                partition={},
                cursor_slice={WINDOW_START: windows[0][WINDOW_START], WINDOW_END: windows[-1][WINDOW_END]},
            )

    def slice_filter(self, stream_slice: Mapping[str, Any]) -> Filter | None:
        if not self.spec.cursor or WINDOW_START not in stream_slice:
            return None
        if parse_window_bound(stream_slice[WINDOW_START]) <= _BEGINNING:
            return None
        return SimpleFilter(self.spec.cursor, "greaterThanOrEqual", (stream_slice[WINDOW_START],), dates=True)

    def records_of(self, results: list[dict]) -> Iterator[Mapping[str, Any]]:
        for raw in results:
            values = raw.get("Properties") or {}
            record = self.typed(values)
            if self._pending_bad_values:
                self._log_bad_values(values)
            yield record

    def raise_for_status(self, page: RetrievePage, *, continuing: bool, object_type: str | None = None) -> None:
        if object_type is None and "unable to find a handler for object type" in page.overall_status.lower():
            raise AirbyteTracedException(
                message=(
                    f"Data extension '{self.table.name}' (external key '{self.table.key}') no longer exists in "
                    "Marketing Cloud: it was deleted or its external key changed after the schema was discovered. "
                    "Refresh the source schema."
                ),
                internal_message=page.overall_status,
                failure_type=FailureType.config_error,
            )
        super().raise_for_status(page, continuing=continuing, object_type=object_type)

    # The coercer reports a bad value without its row; the row key is added once the row is typed.
    def _warn_bad_value(self, field_path: str, raw_value: Any) -> None:
        self._pending_bad_values.append((field_path, raw_value))

    def _log_bad_values(self, values: Mapping[str, Any]) -> None:
        row_key = {name: values.get(name) for name in self.table.primary_key} or "(no primary key)"
        for field_path, raw_value in self._pending_bad_values:
            if field_path in self._warned_fields:
                continue
            self._warned_fields.add(field_path)
            logger.warning(
                f"Data extension '{self.table.name}' (external key '{self.table.key}'): field '{field_path}' of "
                f"row {row_key} has a value that is not a valid {self._field_type(field_path)} "
                f"({str(raw_value)[:60]!r}); it is emitted as null. Further bad values of this field are not logged."
            )
        self._pending_bad_values.clear()

    def _field_type(self, name: str) -> str:
        return next((field.field_type for field in self.table.fields if field.name == name), "value")


class MissingDataExtensionStream(DataExtensionRowsStream):
    """A stream of the configured catalog whose data extension discovery no longer finds: it fails clearly."""

    def __init__(self, context: SyncContext, stream_name: str) -> None:
        super().__init__(context, DataExtensionTable(key="", name="", stream_name=stream_name, fields=()))

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        raise AirbyteTracedException(
            message=(
                f"Stream '{self.stream_name}': its data extension no longer exists in Marketing Cloud (deleted, "
                "its external key changed, or it was removed from the data_extensions setting). Refresh the "
                "source schema and deselect the stream."
            ),
            failure_type=FailureType.config_error,
        )


def catalog_facade(stream: DataExtensionRowsStream, facade: StreamFacade) -> StreamFacade:
    """Make discovery say what is true of data extension rows: the user picks the cursor among the Date fields,
    and a default is offered only when a field is named like a modification date."""
    # StreamFacade.create_from_stream offers no way to pass these, so its DefaultStream is adjusted after.
    default_stream = facade._abstract_stream
    if default_stream._cursor_field is not None:
        default_stream._cursor_field = CursorField(
            default_stream._cursor_field.cursor_field_key,
            supports_catalog_defined_cursor_field=True,
        )
    original = default_stream.as_airbyte_stream
    default_cursor = stream.table.default_cursor

    def as_airbyte_stream():  # type: ignore[no-untyped-def]
        airbyte_stream = original()
        if SyncMode.incremental in airbyte_stream.supported_sync_modes:
            airbyte_stream.default_cursor_field = [default_cursor] if default_cursor else None
        return airbyte_stream

    default_stream.as_airbyte_stream = as_airbyte_stream
    return facade


# -- assembly -----------------------------------------------------------------------------------------------------
def data_extension_tables(context: SyncContext) -> list[DataExtensionTable]:
    """Every data extension the account can see (or those configured), memoized per sync."""

    def fetch() -> list[DataExtensionTable]:
        lister = DataExtensionsStream(context, _data_extensions_object())  # raw results: it does not type them
        listed = list(lister.retrieve("DataExtension", DATA_EXTENSION_PROPERTIES))
        wanted = {key.casefold() for key in context.config.data_extensions}
        if wanted:
            listed = [raw for raw in listed if str(raw.get("CustomerKey") or "").casefold() in wanted]
            found = {str(raw.get("CustomerKey")).casefold() for raw in listed}
            for key in context.config.data_extensions:
                if key.casefold() not in found:
                    logger.warning(f"Data extension with external key '{key}' was not found; it has no stream.")
        return build_tables(listed, data_extension_fields(lister))

    return context.memo("data_extension_tables", fetch)


def data_extension_streams(
    context: SyncContext, catalog: ConfiguredAirbyteCatalog | None = None
) -> list[DataExtensionRowsStream]:
    """A stream per data extension; with a configured catalog, its chosen cursors, and a failing stream for each
    selected data extension stream that no longer exists."""
    chosen = {
        configured.stream.name: configured
        for configured in (catalog.streams if catalog else [])
        if configured.stream.name.startswith(STREAM_PREFIX)
    }
    if catalog is not None and not chosen:
        # A read that selects no data extension stream need not list them (two paged calls saved).
        return []
    try:
        tables = data_extension_tables(context)
    except AirbyteTracedException as error:
        if chosen or error.failure_type != FailureType.config_error:
            raise
        # Discovery goes on without data extension streams when the package cannot read data extensions.
        logger.warning(f"Data extension streams are not listed: {error.message}")
        return []
    streams: list[DataExtensionRowsStream] = []
    for table in tables:
        configured = chosen.pop(table.stream_name, None)
        cursor = None
        if configured is not None and configured.sync_mode == SyncMode.incremental:
            cursor = _chosen_cursor(table, configured.cursor_field)
        streams.append(DataExtensionRowsStream(context, table, cursor))
    streams += [MissingDataExtensionStream(context, name) for name in sorted(chosen)]
    return streams


def _chosen_cursor(table: DataExtensionTable, cursor_field: list[str] | None) -> str | None:
    name = (cursor_field or [None])[0] or table.default_cursor
    if name is None:
        # A catalog may ask for incremental without a cursor when discovery offered no default: the first Date
        # field is used rather than failing the whole sync.
        name = next(iter(table.date_fields), None)
        logger.warning(f"Stream '{table.stream_name}' is incremental without a cursor field; using '{name}'.")
        return name
    if name not in table.date_fields:
        raise AirbyteTracedException(
            message=(
                f"Stream '{table.stream_name}': the cursor field '{name}' is not a Date field of data extension "
                f"'{table.name}'; choose one of {', '.join(table.date_fields) or '(none: use full refresh)'}."
            ),
            failure_type=FailureType.config_error,
        )
    return name


def _data_extensions_object() -> SoapObject:
    return next(spec for spec in SOAP_OBJECTS if spec.object_type == "DataExtension")
