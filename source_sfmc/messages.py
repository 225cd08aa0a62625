"""How messages are written to stdout: the CDK's serialiser, except that a record keeps its null values.

The CDK serialises every message with serpyco-rs and `omit_none=True` (airbyte_cdk.models
.airbyte_protocol_serializers), meant for the protocol's optional fields; it also drops every top-level key of a
record's `data` whose value is None (nested ones survive). So a value the connector emits as null (an empty Text
value, which SFMC's retrieve renders like NULL; a value that does not fit its type; a property the account cannot
retrieve) vanished from the record. Records keep them here, as explicit JSON nulls, because:
- the stream schemas declare these properties (`["null", type]`); an explicit null says "Marketing Cloud has no
  value here", an absent key cannot be told from a field that was not read;
- destinations that store records as JSON (files, object storage, message queues) then get one set of keys per
  stream, and typed destinations load a null and an absent key alike (NULL), so nothing is lost for them;
- Airbyte's own sources emit explicit nulls for the same reason (source-mongodb, airbytehq/airbyte#37348).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, Type

CDK_MESSAGE_TO_STRING: Callable[[AirbyteMessage], str] = AirbyteEntrypoint.airbyte_message_to_string


def airbyte_message_to_string(message: AirbyteMessage) -> str:
    """One message as a JSON line; a record's `data` written whole, None values as null."""
    if message.type == Type.RECORD and message.record is not None:
        serialized = AirbyteMessageSerializer.dump(message)
        serialized["record"]["data"] = message.record.data
        try:
            return orjson.dumps(serialized).decode()
        except TypeError:
            pass
        # A value orjson refuses: an integer past 64 bits or text holding a lone surrogate (a JSON answer may
        # escape one, "\ud83d", where an emoji was cut). The CDK's fallback, json.dumps, would drop the nulls
        # again, write NaN (not JSON) and fail on a Decimal's orjson.Fragment; those values are written as
        # fragments of their JSON text instead, and everything else as before.
        serialized["record"]["data"] = _orjson_writable(message.record.data)
        try:
            return orjson.dumps(serialized).decode()
        except TypeError:  # a value no JSON holds: the CDK's own fallback reports it
            pass
    return CDK_MESSAGE_TO_STRING(message)


# The integers orjson writes as numbers.
_SMALLEST_INTEGER, _LARGEST_INTEGER = -(2**63), 2**64 - 1


def _orjson_writable(value: Any) -> Any:
    """`value` with every integer past 64 bits and every text with a lone surrogate as an `orjson.Fragment` of
    the JSON that `json.dumps` writes for it (digits; an ASCII string with `\\uXXXX` escapes)."""
    if isinstance(value, dict):
        return {key: _orjson_writable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_orjson_writable(item) for item in value]
    if type(value) is int and not _SMALLEST_INTEGER <= value <= _LARGEST_INTEGER:
        return orjson.Fragment(str(value).encode("ascii"))
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return orjson.Fragment(json.dumps(value).encode("ascii"))
    return value


def keep_record_nulls() -> None:
    """Write records with their nulls for the rest of the process.

    The CDK's `AirbyteEntrypoint.run` calls `AirbyteEntrypoint.airbyte_message_to_string` by its class name for
    `read`, so a subclass cannot override it: the class attribute itself is replaced."""
    AirbyteEntrypoint.airbyte_message_to_string = staticmethod(airbyte_message_to_string)  # type: ignore[method-assign]
