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

from collections.abc import Callable

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
        except TypeError:  # a value orjson cannot write: the CDK's own fallback reports it
            pass
    return CDK_MESSAGE_TO_STRING(message)


def keep_record_nulls() -> None:
    """Write records with their nulls for the rest of the process.

    The CDK's `AirbyteEntrypoint.run` calls `AirbyteEntrypoint.airbyte_message_to_string` by its class name for
    `read`, so a subclass cannot override it: the class attribute itself is replaced."""
    AirbyteEntrypoint.airbyte_message_to_string = staticmethod(airbyte_message_to_string)  # type: ignore[method-assign]
