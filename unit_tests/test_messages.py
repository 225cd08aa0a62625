"""Records are written with their null values: the CDK's serialiser would drop every top-level None."""

import json

import orjson
from airbyte_cdk.models import (
    AirbyteLogMessage,
    AirbyteMessage,
    AirbyteRecordMessage,
    Level,
    Type,
)

from source_sfmc.messages import CDK_MESSAGE_TO_STRING, airbyte_message_to_string


def a_record(data):
    return AirbyteMessage(type=Type.RECORD, record=AirbyteRecordMessage(stream="campaigns", data=data, emitted_at=1))


def test_a_record_keeps_its_null_values_at_every_level():
    data = {"id": "1", "description": None, "nested": {"x": None}, "list": [None]}
    line = json.loads(airbyte_message_to_string(a_record(data)))
    assert line["record"]["data"] == data


def test_the_cdk_alone_would_drop_the_top_level_nulls():
    # Why messages.py exists: if this starts failing, the CDK keeps nulls itself and the override can go.
    line = json.loads(CDK_MESSAGE_TO_STRING(a_record({"id": "1", "description": None})))
    assert line["record"]["data"] == {"id": "1"}


def test_a_record_is_otherwise_written_as_the_cdk_writes_it():
    data = {"id": "1", "amount": orjson.Fragment(b"9999999999.99999999")}
    ours = json.loads(airbyte_message_to_string(a_record(data)))
    assert ours == json.loads(CDK_MESSAGE_TO_STRING(a_record(data)))
    assert b"9999999999.99999999" in airbyte_message_to_string(a_record(data)).encode()


def test_other_messages_are_written_by_the_cdk():
    message = AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=Level.WARN, message="m"))
    assert airbyte_message_to_string(message) == CDK_MESSAGE_TO_STRING(message)
