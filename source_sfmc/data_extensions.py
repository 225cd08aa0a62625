"""Data extension rows: one stream per data extension, its schema generated from the data extension's fields.

Discovery costs two paged retrieves whatever the number of data extensions: DataExtension (keys and names) and
DataExtensionField (every field of every data extension, shared with the `data_extensions` stream). Rows are read
with SOAP `DataExtensionObject[<key>]` (2,500 per page); incremental reads filter the user-chosen Date field with
`greaterThanOrEqual` the cursor's lower bound.

What a row's values become (SOAP sends every value as text):
- Text, EmailAddress, Phone, Locale: the text exactly as sent. An empty value is null: SFMC's retrieve answer
  renders a NULL and an empty string alike (an empty `<Value />`), so the two cannot be told apart, and a
  NULL emitted as "" would be wrong more often (imports store missing values as NULL).
- Number: integer. Decimal: a JSON number with every digit SFMC sent (see coerce), its precision and scale in
  the schema. Boolean: true/false from every spelling SFMC documents. Date: UTC date-time.
- `_CustomObjectKey`, SFMC's hidden row identity, is requested and emitted for every row; it is the stream's
  primary key when the data extension has no primary-key fields.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, replace
from typing import Any

from airbyte_cdk.models import ConfiguredAirbyteCatalog, ConfiguredAirbyteStream, FailureType, SyncMode
from airbyte_cdk.sources.message import MessageRepository
from airbyte_cdk.sources.streams.concurrent.adapters import StreamFacade
from airbyte_cdk.sources.streams.concurrent.cursor import CursorField, FinalStateCursor
from airbyte_cdk.sources.types import StreamSlice
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_sfmc.business_units import MID, home_mid, in_unit
from source_sfmc.coerce import SCALE_KEYWORD
from source_sfmc.data_extension_selection import DataExtensionSelection, folder_paths, is_selected
from source_sfmc.soap.envelope import Filter, SimpleFilter
from source_sfmc.soap.parse import RetrievePage
from source_sfmc.soap.streams import (
    DATA_EXTENSIONS_SCOPE,
    SOAP_OBJECTS,
    SoapObject,
    SoapStream,
    data_extension_fields,
    key_of,
)
from source_sfmc.stream_base import WINDOW_END, WINDOW_START, SyncContext, parse_window_bound, with_mid

logger = logging.getLogger("airbyte")

STREAM_PREFIX = "data_extension__"
# Client.ID: the unit that owns the data extension (a child also lists the parent's shared ones).
DATA_EXTENSION_PROPERTIES = ("ObjectID", "CustomerKey", "Name", "CategoryID", "Client.ID")
DATA_FOLDER_PROPERTIES = ("ID", "Name", "ParentFolder.ID", "ContentType")
# A window starting at or before this is the cursor's "beginning of time": no lower bound is sent, so a first
# incremental sync without a start date also reads rows dated before 1970 (birth dates...).
_BEGINNING = parse_window_bound("1970-01-01T00:00:00Z")
_NON_ALPHANUMERIC_RUN = re.compile(r"[^a-z0-9]+")
_PLAIN_KEY = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")
_DIGEST_HEX_DIGITS = 8
# Every digest name ends with a last word of 8 hex digits; a plain key ending so could spell another key's digest
# name (`NEWSLETTER_DE_7F89A323` and `Newsletter.DE`), so such keys take the digest form too.
_ENDS_LIKE_A_DIGEST = re.compile(rf"(?:^|_)[0-9a-f]{{{_DIGEST_HEX_DIGITS}}}\Z")
# The hidden identity of every data extension row (an auto-incrementing number per row; PROTOCOL.md,
# DataExtensionObject): requested in every row retrieve, and the key of data extensions without primary key.
ROW_KEY = "_CustomObjectKey"
# Top-level schema keyword naming the data extension a stream was discovered for, so that a read can tell a
# catalog's stream from another data extension's.
KEY_KEYWORD = "x-sfmc-data-extension-key"
# Beside it, the MID of the unit that owns that data extension (absent when not known, and in catalogs discovered
# before it existed): a key names one data extension per unit only.
OWNER_KEYWORD = "x-sfmc-data-extension-owner"
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
_ROW_KEY_SCHEMA = {
    "type": ["null", "integer"],
    "description": "SFMC's hidden row identity (_CustomObjectKey); the key of data extensions without primary key.",
}
_DESCRIBED_KEY = re.compile(r"\(external key '(.*)'\)\.?$", re.DOTALL)


@dataclass(frozen=True)
class DataExtensionField:
    name: str  # the record property (the field's name, unless `columns` renamed it)
    field_type: str
    max_length: int | None = None
    is_primary_key: bool = False
    scale: int | None = None
    # The field's name in Marketing Cloud when `name` is a renamed column (see `columns`); None: the same.
    sfmc_name: str | None = None

    @property
    def source_name(self) -> str:
        """What the field is called in Marketing Cloud: in retrieves and filters."""
        return self.sfmc_name or self.name


@dataclass(frozen=True)
class DataExtensionTable:
    """What discovery knows of one data extension: enough to build its stream."""

    key: str
    name: str
    stream_name: str
    fields: tuple[DataExtensionField, ...]
    # The MID of the unit that owns it (DataExtension's Client.ID), None when not listed: its rows carry it.
    owner: int | None = None
    # The MID of the unit its rows are read in (`_tables_of_every_unit`: its owner's); None: the sync's first unit.
    unit: int | None = None
    # False when the listing held another data extension of the same key (a child's own one and the parent's
    # shared one): DataExtensionField results name their data extension by key only, so `fields` may mix both.
    fields_known: bool = True
    # DataExtension's ObjectID (one per data extension in the whole account): tells whether two listings' tables
    # are one data extension when a listing left out its Client.ID.
    object_id: str | None = None

    @property
    def identity(self) -> tuple[int | None, str]:
        """What a stream name stands for: (owner MID, external key folded; SFMC keys ignore case)."""
        return (self.owner, self.key.casefold())

    @property
    def key_fields(self) -> list[str]:
        """The data extension's own primary-key fields (none for many: their rows can repeat)."""
        return [field.name for field in self.fields if field.is_primary_key]

    @property
    def primary_key(self) -> list[str]:
        """The stream's primary key: the primary-key fields, or the hidden row identity when there are none."""
        return self.key_fields or [ROW_KEY]

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
    """The stream name of the data extension with external key `key`: a function of that key alone.

    `data_extension__` + the key lower-cased when it is made only of a-z, 0-9 and single inner `_` (nothing is
    lost: `CUSTOMERS_MASTER` -> `data_extension__customers_master`). Any other key keeps its letters and digits
    (any script, lower-cased, with their combining marks: see `_words`), runs of anything else made one `_`, and
    ends with `_` + the first 8 hex digits of the SHA-256 of the exact key, so that keys the normalisation would
    merge stay apart whichever of them exist: `Newsletter.DE` -> `data_extension__newsletter_de_<8 hex>`,
    `顧客マスタ` -> `data_extension__顧客マスタ_<8 hex>`. External keys are unique regardless of case in SFMC (a
    retrieve names a data extension by key case-insensitively), so lower-casing alone loses nothing.

    A plain key whose last word is 8 hex digits (`NEWSLETTER_DE_7F89A323`, `deadbeef`) takes the digest form too:
    used as it is, it would spell the digest name of another key (`Newsletter.DE`), and which of the two got the
    name would depend on which exists. So plain names never end like a digest and digest names always do: the two
    sets are disjoint, and two keys share a name only if 32 bits of SHA-256 collide."""
    lowered = key.lower()
    # The key itself must be ASCII: a few other letters lower-case to ASCII ones (KELVIN SIGN to `k`).
    if key.isascii() and _PLAIN_KEY.fullmatch(lowered) and not _ENDS_LIKE_A_DIGEST.search(lowered):
        return STREAM_PREFIX + lowered
    readable = "_".join(_words(lowered))
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:_DIGEST_HEX_DIGITS]
    return f"{STREAM_PREFIX}{readable}_{digest}" if readable else f"{STREAM_PREFIX}{digest}"


def unit_stream_name(key: str, owner: int | None, home: int | None) -> str:
    """The stream name of the data extension with external key `key` owned by business unit `owner`, in a
    connection whose home unit (`account_id`, else the installed package's unit) is `home`.

    - Owned by the home unit, or by an unknown unit (no Client.ID): `stream_name_for(key)`, exactly the name a
      one-unit connection always gave it, so adding business units renames none of the home unit's streams.
    - Owned by any other unit: `data_extension__<owner MID>__` + what `stream_name_for(key)` puts after the prefix
      (`data_extension__7294501__customers_master`).

    Why: external keys are unique within one unit only (a child may own a data extension with the key of one of
    the parent's), so a name must say the owner wherever two units are read; saying it for the home unit too would
    rename every existing stream. The name depends on (owner, key, home) alone, never on which other data
    extensions exist, so a data extension created later in any unit renames nothing. Names never collide:
    `stream_name_for` never puts `__` after the prefix (a plain key has single inner `_` only, and the other form
    joins non-empty runs of letters and digits and the digest with one `_`), while an owner-qualified name has
    `__` right after the MID's digits, and the MID and the rest are recovered from it unambiguously. The home unit
    is part of the rule: changing `account_id` changes which data extensions are unqualified, and a catalog stream
    discovered for another (owner, key) is refused (`_unreadable`), never read from another data extension."""
    if owner is None or home is None or owner == home:
        return stream_name_for(key)
    return f"{STREAM_PREFIX}{owner}__{stream_name_for(key)[len(STREAM_PREFIX) :]}"


def _words(text: str) -> list[str]:
    """The runs of letters and digits of `text` (any script), composed (NFC), each letter with the combining marks
    that follow it: Devanagari vowel signs and viramas, decomposed accents and kana voicing marks are marks (Unicode
    category M), not letters, and splitting at them would tear words apart (`हिन्दी` into `ह_न_द`)."""
    words: list[str] = []
    word: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        kind = unicodedata.category(char)[0]
        if kind in "LN" or (kind == "M" and word):
            word.append(char)
        elif word:
            words.append("".join(word))
            word = []
    if word:
        words.append("".join(word))
    return words


def field_schema(field: DataExtensionField) -> dict[str, Any]:
    schema = dict(FIELD_TYPE_SCHEMAS.get(field.field_type, _STRING))
    if field.field_type in _HAS_MAX_LENGTH and field.max_length:
        schema["maxLength"] = field.max_length
    if field.field_type == "Decimal":
        # A JSON number (destinations make it their decimal/numeric type) whose digits are emitted exactly
        # (coerce.SCALE_KEYWORD); the declared size is said both in words and as keywords.
        precision, scale = field.max_length, field.scale
        schema[SCALE_KEYWORD] = scale
        if precision is not None:
            schema["x-sfmc-precision"] = precision
        size = ",".join("?" if number is None else str(number) for number in (precision, scale))
        schema["description"] = f"Decimal({size})"
    return schema


def json_schema(table: DataExtensionTable) -> dict[str, Any]:
    properties = {field.name: _described(field, field_schema(field)) for field in table.fields}
    properties.setdefault(ROW_KEY, _ROW_KEY_SCHEMA)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "description": f"Rows of data extension '{table.name}' (external key '{table.key}').",
        KEY_KEYWORD: table.key,
        **({OWNER_KEYWORD: table.owner} if table.owner is not None else {}),
        "additionalProperties": True,
        "properties": properties,
    }


def _described(field: DataExtensionField, schema: dict[str, Any]) -> dict[str, Any]:
    if field.sfmc_name is None:
        return schema
    said = f"Data extension field '{field.sfmc_name}', renamed: '{field.sfmc_name}' names another column here."
    return {**schema, "description": f"{said} {schema['description']}" if "description" in schema else said}


# Columns every data extension stream's records have besides the data extension's fields, folded as destinations
# fold names: the unit's `mid` and the hidden row identity.
_RESERVED_COLUMNS = frozenset({MID.casefold(), ROW_KEY.casefold()})


def columns(fields: Iterable[DataExtensionField]) -> tuple[DataExtensionField, ...]:
    """The fields with the record property each becomes: its own name, except for a field named like a column
    every row has (`mid`, the unit's MID; `_CustomObjectKey`, the row identity) in any case, since destinations
    fold case: that field becomes `de_<name>` (with `_` added until no other field or column has that name
    regardless of case), its Marketing Cloud name kept in `sfmc_name` for retrieves and filters. A data extension
    field `MID` is so emitted as `de_MID` beside the record's `mid`, the unit, in schema, records, primary key
    and cursor alike."""
    fields = tuple(fields)
    taken = {field.name.casefold() for field in fields} | _RESERVED_COLUMNS
    renamed: list[DataExtensionField] = []
    for field in fields:
        if field.name.casefold() not in _RESERVED_COLUMNS:
            renamed.append(field)
            continue
        column = f"de_{field.name}"
        while column.casefold() in taken:
            column += "_"
        taken.add(column.casefold())
        renamed.append(replace(field, name=column, sfmc_name=field.name))
    return tuple(renamed)


def discovered_key(stream_schema: Mapping[str, Any] | None) -> str | None:
    """The external key a catalog's stream was discovered for: the schema keyword, or for catalogs discovered
    before it existed, the key quoted in the schema's description; None when neither says."""
    if not stream_schema:
        return None
    key = stream_schema.get(KEY_KEYWORD)
    if isinstance(key, str):
        return key
    match = _DESCRIBED_KEY.search(str(stream_schema.get("description") or ""))
    return match.group(1) if match else None


def discovered_owner(stream_schema: Mapping[str, Any] | None) -> int | None:
    """The MID of the unit owning the data extension a catalog's stream was discovered for; None when the catalog
    predates the keyword or discovery did not know the owner."""
    owner = (stream_schema or {}).get(OWNER_KEYWORD)
    return owner if isinstance(owner, int) and not isinstance(owner, bool) else None


def table_field(raw: Mapping[str, Any]) -> DataExtensionField:
    """A DataExtensionField result (all strings) as a field description. For Decimal fields SFMC's `MaxLength`
    is the precision and `Scale` the digits after the point (DataExtensionField, SOAP API reference)."""
    return DataExtensionField(
        name=str(raw.get("Name")),
        field_type=str(raw.get("FieldType") or "Text"),
        max_length=_positive_int(raw.get("MaxLength")),
        is_primary_key=str(raw.get("IsPrimaryKey") or "").lower() == "true",
        scale=_positive_int(raw.get("Scale"), allow_zero=True),
    )


def _owner(raw: Mapping[str, Any]) -> int | None:
    client = raw.get("Client")
    return _positive_int(client.get("ID")) if isinstance(client, Mapping) else None


def _positive_int(value: Any, *, allow_zero: bool = False) -> int | None:
    text = str(value).strip() if value is not None else ""
    if not text.isdigit() or not text.isascii():
        return None
    number = int(text)
    return number if number > 0 or (allow_zero and number == 0) else None


def build_tables(
    data_extensions: Iterable[Mapping[str, Any]], fields: Mapping[str, list[dict]], home: int | None = None
) -> list[DataExtensionTable]:
    """Tables from one unit's DataExtension results and fields by data extension key (ordinal order), sorted by
    stream name, each named by `unit_stream_name` (its owner's Client.ID against the `home` unit).

    A unit lists its own data extensions and the parent's shared ones, so one key can stand for two data
    extensions of different owners (a child's own one and the parent's shared one): each gets its own table, but
    as DataExtensionField results name their data extension by key only, their fields cannot be told apart here
    (`fields_known` false; `_tables_of_every_unit` takes such a table from a listing that can tell).

    Tables without fields are kept (their streams are not offered, see `data_extension_streams`). Two data
    extensions that would share a stream name (keys differing only in case with one owner, which SFMC does not
    allow, two of one key whose owner is not listed, or a digest collision) get no table at all, with a warning:
    a name must never stand for two data extensions."""
    owners_of_key: dict[str, set[int | None]] = {}
    listed: list[tuple[str, Mapping[str, Any]]] = []
    for raw in data_extensions:
        if not raw.get("CustomerKey"):
            continue
        key = str(raw["CustomerKey"])
        listed.append((key, raw))
        owners_of_key.setdefault(key.casefold(), set()).add(_owner(raw))
    tables: dict[str, DataExtensionTable] = {}
    object_ids: dict[str, Any] = {}
    clashing: set[str] = set()
    for key, raw in listed:
        owner = _owner(raw)
        table = DataExtensionTable(
            key=key,
            name=str(raw.get("Name") or key),
            stream_name=unit_stream_name(key, owner, home),
            fields=columns(table_field(field) for field in fields.get(key, []) if field.get("Name")),
            owner=owner,
            fields_known=len(owners_of_key[key.casefold()]) == 1,
            object_id=str(raw["ObjectID"]) if raw.get("ObjectID") else None,
        )
        other = tables.setdefault(table.stream_name, table)
        if other is table:
            object_ids[table.stream_name] = raw.get("ObjectID")
        elif object_ids[table.stream_name] != raw.get("ObjectID") and table.stream_name not in clashing:
            clashing.add(table.stream_name)
            logger.warning(
                f"Data extensions with external keys '{other.key}' and '{key}' would both be stream "
                f"'{table.stream_name}'; neither is offered."
            )
    return sorted((t for name, t in tables.items() if name not in clashing), key=lambda t: t.stream_name)


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
        self._schema_with_mid = with_mid(self._schema)
        spec = SoapObject(
            table.stream_name,
            f"DataExtensionObject[{table.key}]",
            key_of(*table.primary_key),
            DATA_EXTENSIONS_SCOPE,
            # Without a chosen cursor, any Date field makes the stream offer incremental; the catalog picks one.
            cursor=cursor or table.default_cursor or next(iter(table.date_fields), None),
        )
        super().__init__(context, spec)
        # Records use each field's column (`columns`); Marketing Cloud knows it by its own name.
        self._source_names = {field.name: field.source_name for field in table.fields if field.sfmc_name}
        self._columns = {source: name for name, source in self._source_names.items()}
        self.properties = list(dict.fromkeys(self._source_names.get(name, name) for name in self.properties))
        self._pending_bad_values: list[tuple[str, Any]] = []

    @property
    def primary_key(self) -> list[str] | None:  # type: ignore[override]
        return [MID, *self.table.primary_key] if self.table.primary_key else None

    def units(self) -> tuple[int, ...]:
        # The unit `_tables_of_every_unit` chose: its owner's, else (owner refused) one that lists it.
        return (self.table.unit,) if self.table.unit is not None else self.context.units()[:1]

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: list[str] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        stream_state: Mapping[str, Any] | None = None,
    ) -> Iterable[Mapping[str, Any]]:
        try:
            yield from super().read_records(sync_mode, cursor_field, stream_slice, stream_state)
        except AirbyteTracedException as error:
            unit = (stream_slice or {}).get(MID)
            if error.failure_type == FailureType.config_error and unit is not None and unit not in self.context.units():
                # The owner of a data extension shared with the units read, not itself read: say why its token
                # was asked for (the token's own message names `business_units`, where the user did not put it).
                error.message = (
                    f"data extension '{self.table.name}' (external key '{self.table.key}') belongs to business unit "
                    f"{unit}, which shares it; shared data extensions are read with a token of their owner. "
                    f"{error.message}"
                )
            raise

    def state_unit(self, mid: int) -> int:
        # The state is the data extension's, kept under its owner's MID (as its rows are marked): which unit reads
        # a shared one changes with the units read (their order, its owner added), and under the reading unit's
        # MID its cursor was lost then, every row read again.
        return self.table.owner if self.table.owner is not None else mid

    @property
    def source_defined_cursor(self) -> bool:  # type: ignore[override]
        return False

    def get_json_schema(self) -> Mapping[str, Any]:
        return self._schema_with_mid

    def unit_slices(
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
        cursor = self._source_names.get(self.spec.cursor, self.spec.cursor)
        return SimpleFilter(cursor, "greaterThanOrEqual", (stream_slice[WINDOW_START],), dates=True)

    def marked(self, record: Mapping[str, Any], mid: int | None) -> Mapping[str, Any] | None:
        """A row carries its data extension's owner's MID: a child reading the parent's shared data extension
        reads the parent's rows (rows have no Client of their own), keyed as the parent's read keys them."""
        return super().marked(record, self.table.owner if self.table.owner is not None else mid)

    def records_of(self, results: list[dict]) -> Iterator[Mapping[str, Any]]:
        for raw in results:
            values = raw.get("Properties") or {}
            if self._columns:
                values = {self._columns.get(name, name): value for name, value in values.items()}
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
        row_key = {name: values.get(name) for name in self.table.primary_key}
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


class UnreadableDataExtensionStream(DataExtensionRowsStream):
    """A stream of the configured catalog that cannot be read as it was discovered (its data extension is gone,
    its name now belongs to another data extension, or it has no fields): reading it fails with `reason`, a
    config error, and reads nothing; the other streams of the sync are not affected.

    `keeps_state`: whether the stream's saved state still describes its table (see KeptStateCursor): true when the
    data extension is gone or lists no fields (a permission fixed later finds the state as it was); false when the
    name now stands for another data extension or the cursor field is gone, whose saved progress would skip rows."""

    def __init__(self, context: SyncContext, stream_name: str, reason: str, *, keeps_state: bool = False) -> None:
        super().__init__(context, DataExtensionTable(key="", name="", stream_name=stream_name, fields=()))
        self.reason = reason
        self.keeps_state = keeps_state

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        raise AirbyteTracedException(
            message=f"Stream '{self.stream_name}': {self.reason}", failure_type=FailureType.config_error
        )


class KeptStateCursor(FinalStateCursor):
    """The cursor of an `UnreadableDataExtensionStream`: it reads nothing, so the state it ends with is the state it
    was given (or none). The CDK emits a cursor's state when a stream stops, failed or not; FinalStateCursor's
    "no cursor" sentinel would replace the saved state, and the sync after the user's fix would read everything
    again."""

    def __init__(
        self, stream_name: str, namespace: str | None, repository: MessageRepository, state: Mapping[str, Any] | None
    ) -> None:
        super().__init__(stream_name, namespace, repository)
        self._kept = dict(state or {})

    @property
    def state(self) -> MutableMapping[str, Any]:
        return self._kept

    def ensure_at_least_one_state_emitted(self) -> None:
        if self._kept:
            super().ensure_at_least_one_state_emitted()


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
def data_extension_tables(context: SyncContext, home: int | None = None) -> list[DataExtensionTable]:
    """The data extensions the current unit's token can see that the config selects (data_extension_selection),
    named against the `home` unit (`unit_stream_name`), memoized per sync and unit. Folder paths are listed (one
    more paged retrieve, of DataFolder) only when a folder pattern is set."""

    def fetch() -> list[DataExtensionTable]:
        config = context.config
        lister = SoapStream(context, _soap_object("DataExtension"))
        listed = list(lister.retrieve("DataExtension", DATA_EXTENSION_PROPERTIES))
        found = {str(raw.get("CustomerKey") or "").casefold() for raw in listed}
        for key in config.data_extensions:
            if key.casefold() not in found:
                logger.warning(f"Data extension with external key '{key}' was not found; it has no stream.")
        selection = DataExtensionSelection(
            keys=config.data_extensions,
            include=config.data_extensions_include,
            exclude=config.data_extensions_exclude,
            folders_include=config.data_extension_folders_include,
            folders_exclude=config.data_extension_folders_exclude,
        )
        paths: dict[int, list[str]] = {}
        if selection.needs_folders:
            folder_lister = SoapStream(context, _soap_object("DataFolder"))
            paths = folder_paths(folder_lister.retrieve("DataFolder", DATA_FOLDER_PROPERTIES))
        selected = [
            raw
            for raw in listed
            if is_selected(
                selection,
                str(raw.get("CustomerKey") or ""),
                str(raw.get("Name") or ""),
                paths.get(_positive_int(raw.get("CategoryID")) or 0, ()),
            )
        ]
        if listed and not selected:
            # Most likely a typo in a pattern: say so rather than offer no data extension stream in silence.
            logger.warning(
                f"The data extension settings select none of the {len(listed)} data extension(s) Marketing Cloud "
                "lists: check data_extensions, data_extensions_include/exclude (names or external keys) and "
                "data_extension_folders_include/exclude (folder paths such as 'Data Extensions/Sales')."
            )
        return build_tables(selected, data_extension_fields(lister), home)

    return context.memo(f"data_extension_tables:{home}", fetch)


def data_extension_streams(
    context: SyncContext, catalog: ConfiguredAirbyteCatalog | None = None
) -> list[DataExtensionRowsStream]:
    """A stream per selected data extension that has fields; with a configured catalog, its chosen cursors, and
    a failing stream for each chosen data extension stream that cannot be read as it was discovered."""
    chosen = {
        configured.stream.name: configured
        for configured in (catalog.streams if catalog else [])
        if configured.stream.name.startswith(STREAM_PREFIX)
    }
    if catalog is not None and not chosen:
        # A read that selects no data extension stream need not list them (two paged calls saved).
        return []
    unlisted: dict[int, str] = {}
    tables = _tables_of_every_unit(context, reading=bool(chosen), unlisted=unlisted)
    streams: list[DataExtensionRowsStream] = []
    for table in tables:
        configured = chosen.pop(table.stream_name, None)
        problem = _unreadable(table, configured)
        if problem is not None:
            if configured is not None:
                streams.append(
                    UnreadableDataExtensionStream(
                        context, table.stream_name, problem.reason, keeps_state=problem.keeps_state
                    )
                )
            elif catalog is None and not table.fields:
                logger.warning(f"Stream '{table.stream_name}' is not offered: {problem.reason}")
            continue
        cursor = None
        if configured is not None and configured.sync_mode == SyncMode.incremental:
            cursor = _chosen_cursor(table, configured.cursor_field)
        streams.append(DataExtensionRowsStream(context, table, cursor))
    streams += [
        UnreadableDataExtensionStream(context, name, _missing(chosen[name], tables, unlisted), keeps_state=True)
        for name in sorted(chosen)
    ]
    return streams


def _tables_of_every_unit(
    context: SyncContext, *, reading: bool, unlisted: dict[int, str] | None = None
) -> list[DataExtensionTable]:
    """The data extensions of every unit the sync reads, each once, sorted by stream name, named by
    `unit_stream_name` against the home unit. Every unit is listed with its own token (a unit's own data extensions
    are visible to it alone), so the catalog does not depend on the order of `business_units`.

    Each is read in its owner's unit, with the owner's token, even when the owner is not one of the units read (a
    child lists the parent's shared data extensions): SFMC documents shared data extensions as reached by
    authenticating against the parent, the owner ("Data Extensions", SOAP API technical articles: "When you use
    SOAP API with shared data extensions, authenticate your request against the parent Enterprise account, and
    include a Client.ID value that equals the ID of the parent account"). Only when the owner's listing was refused
    in this sync is it read in the first unit that lists it. A listing that holds two data extensions of one key
    (a child's own and the parent's shared) cannot tell their fields apart: such a table is taken from another
    listing that holds it alone (its owner's), else it is not offered, with a warning naming the unit to add.

    Errors: a unit whose package cannot list data extensions (config_error: a unit the package is not enabled for,
    a missing scope) is skipped, its error put in `unlisted` by MID (and logged as a warning during discovery):
    the other units' data extension streams are read, as every other stream reads the units it can (issue: "read
    fails that BU's streams with a config error naming it and reads the other BUs"), and a data extension shared
    with a listed unit is read there. Any other error is raised."""
    units = context.units()
    home = home_mid(context)  # `unit_stream_name` leaves it out of names
    listings: list[tuple[int, list[DataExtensionTable]]] = []
    for mid in units:
        try:
            with in_unit(mid):
                listings.append((mid, data_extension_tables(context, home)))
        except AirbyteTracedException as error:
            if error.failure_type != FailureType.config_error:
                raise
            if unlisted is not None:
                unlisted[mid] = error.message or str(error)
            if not reading:
                logger.warning(f"Data extension streams of business unit {mid} are not listed: {error.message}")
    refused = set(units) - {mid for mid, _ in listings}
    merged: dict[tuple[int | None, str], DataExtensionTable] = {}
    for mid, tables in _with_owners(listings, home):
        for table in tables:
            unit = table.owner if table.owner is not None and table.owner not in refused else mid
            candidate = replace(table, unit=unit)
            seen = merged.get(table.identity)
            # A listing that holds the key once knows its fields (and can read it).
            if seen is None or (not seen.fields_known and table.fields_known):
                merged[table.identity] = candidate
    offered: dict[str, DataExtensionTable] = {}
    for table in merged.values():
        if not table.fields_known:
            logger.warning(
                f"Data extension '{table.name}' (external key '{table.key}', business unit {table.owner}) is not "
                f"offered: business unit {table.unit} also lists another data extension with that key, so its "
                f"fields and rows cannot be told apart there. Add business unit {table.owner} to business_units "
                "(or use all_business_units) to read it."
            )
            continue
        offered.setdefault(table.stream_name, table)
    return sorted(offered.values(), key=lambda t: t.stream_name)


def _with_owners(
    listings: list[tuple[int, list[DataExtensionTable]]], home: int
) -> Iterator[tuple[int, list[DataExtensionTable]]]:
    """Each unit's listing with every table's owner known: a table listed without Client.ID is the data extension
    another listing names the owner of by the same ObjectID (a shared one), else the listing unit's own (a unit's
    token lists its own data extensions and what is shared with it; what is shared says its owner elsewhere), and
    is renamed by `unit_stream_name` accordingly. Counted as the home unit's whatever unit listed it, a child's
    own data extension would take the name of the home unit's one of that key (which of the two got it depending
    on the order of the units), and a shared one would be a second stream of the child's rows."""
    owner_of = {t.object_id: t.owner for _, tables in listings for t in tables if t.object_id and t.owner is not None}
    for mid, tables in listings:
        owned = []
        for table in tables:
            if table.owner is None:
                owner = owner_of.get(table.object_id, mid) if table.object_id else mid
                table = replace(table, owner=owner, stream_name=unit_stream_name(table.key, owner, home))
            owned.append(table)
        yield mid, owned


def _missing(
    configured: ConfiguredAirbyteStream, tables: Iterable[DataExtensionTable], unlisted: Mapping[int, str] | None = None
) -> str:
    """Why a chosen stream has no table of its name: its owner's unit could not be listed (`unlisted`: the error by
    MID), its data extension now has another stream name (catalogs discovered by versions that named streams
    differently, or before `account_id` changed), or it is not listed at all. A catalog that does not say the
    owner matches a key owned by one unit only."""
    was_key, was_owner = discovered_key(configured.stream.json_schema), discovered_owner(configured.stream.json_schema)
    unlisted = unlisted or {}
    if was_owner in unlisted:
        return f"the data extensions of business unit {was_owner} could not be listed: {unlisted[was_owner]}"
    same_key = [t for t in tables if was_key is not None and t.key.casefold() == was_key.casefold() and t.fields]
    now = [t for t in same_key if was_owner is None or t.owner == was_owner]
    if len(now) == 1:
        (table,) = now
        return (
            f"its data extension (external key '{table.key}') is now stream '{table.stream_name}'. Refresh the "
            "source schema, deselect this stream and select that one; nothing was read."
        )
    if unlisted:
        units = ", ".join(map(str, sorted(unlisted)))
        return (
            f"its data extension is not listed by the business units read, and business unit(s) {units} could not "
            f"be listed: {'; '.join(unlisted[mid] for mid in sorted(unlisted))}"
        )
    return (
        "its data extension no longer exists in Marketing Cloud (deleted, its external key changed, or the "
        "data extension settings of this source no longer select it). Refresh the source schema and deselect "
        "the stream."
    )


@dataclass(frozen=True)
class _Problem:
    reason: str
    keeps_state: bool  # see UnreadableDataExtensionStream


def _unreadable(table: DataExtensionTable, configured: ConfiguredAirbyteStream | None) -> _Problem | None:
    """Why the table's stream cannot be offered or read as the catalog knows it; None when it can."""
    if configured is not None:
        was = discovered_key(configured.stream.json_schema)
        was_owner = discovered_owner(configured.stream.json_schema)
        # Keys are unique regardless of case in SFMC: a key whose case changed still names the same table. A
        # catalog discovered before the owner was recorded is checked by key alone.
        if (was is not None and was.casefold() != table.key.casefold()) or (
            was_owner is not None and was_owner != table.owner
        ):
            return _Problem(
                f"it was discovered for the data extension with external key '{was if was is not None else '?'}'"
                f"{_of_unit(was_owner)}, but that name now belongs to the data extension with external key "
                f"'{table.key}'{_of_unit(table.owner)}. Refresh the source schema and select the streams again; "
                "nothing was read.",
                keeps_state=False,
            )
    if not table.fields:
        return _Problem(
            f"Marketing Cloud lists no fields for data extension '{table.name}' (external key '{table.key}'), "
            "so its rows cannot be retrieved; check that the installed package can read its fields (shared data "
            "extensions are read from the business unit that owns them).",
            keeps_state=True,
        )
    if configured is not None and configured.sync_mode == SyncMode.incremental:
        reason = _cursor_problem(table, (configured.cursor_field or [None])[0])
        return None if reason is None else _Problem(reason, keeps_state=False)
    return None


def _of_unit(owner: int | None) -> str:
    return f" of business unit {owner}" if owner is not None else ""


def _chosen_cursor(table: DataExtensionTable, cursor_field: list[str] | None) -> str | None:
    name = (cursor_field or [None])[0] or table.default_cursor
    if name is None:
        # A catalog may ask for incremental without a cursor when discovery offered no default: the first Date
        # field is used rather than failing the whole sync.
        name = next(iter(table.date_fields), None)
        logger.warning(f"Stream '{table.stream_name}' is incremental without a cursor field; using '{name}'.")
        return name
    problem = _cursor_problem(table, name)
    if problem is not None:
        raise AirbyteTracedException(
            message=f"Stream '{table.stream_name}': {problem}", failure_type=FailureType.config_error
        )
    return name


def _cursor_problem(table: DataExtensionTable, name: str | None) -> str | None:
    """Why the catalog's cursor field `name` cannot be the stream's cursor (a field deleted or retyped in Marketing
    Cloud since discovery); None when it can or when none was chosen."""
    if name is None or name in table.date_fields:
        return None
    return (
        f"the cursor field '{name}' is not a Date field of data extension '{table.name}'; refresh the source "
        f"schema and choose one of {', '.join(table.date_fields) or '(none: use full refresh)'}."
    )


def _soap_object(object_type: str) -> SoapObject:
    return next(spec for spec in SOAP_OBJECTS if spec.object_type == object_type)
