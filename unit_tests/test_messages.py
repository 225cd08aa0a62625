"""Records are written with their null values: the CDK's serialiser would drop every top-level None."""

import json
import math

import orjson
import pytest
from airbyte_cdk.models import (
    AirbyteLogMessage,
    AirbyteMessage,
    AirbyteRecordMessage,
    Level,
    Type,
)
from hypothesis import given, settings
from hypothesis import strategies as st

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


def strict_json(line):
    """The line as an Airbyte destination parses it: JSON with no NaN/Infinity literals."""

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(line, parse_constant=refuse)


@pytest.mark.parametrize(
    "value, written",
    [
        (2**70, 2**70),  # past orjson's 64-bit integers
        (-(2**64), -(2**64)),
        ("cut emoji \ud83d", "cut emoji \ud83d"),  # a lone surrogate: SFMC's JSON may escape one ("\\ud83d")
        (float("nan"), None),
        (float("inf"), None),
    ],
)
def test_a_record_orjson_cannot_write_as_is_keeps_its_nulls_and_is_valid_json(value, written):
    data = {"id": "1", "description": None, "value": value, "nested": {"x": None}}
    line = strict_json(airbyte_message_to_string(a_record(data)))
    assert line["record"]["data"] == {"id": "1", "description": None, "value": written, "nested": {"x": None}}


def test_a_decimal_beside_a_value_orjson_cannot_write_keeps_every_digit():
    # The CDK's fallback (json.dumps) cannot write a fragment: the whole sync failed.
    data = {"amount": orjson.Fragment(b"9999999999.99999999"), "big": 2**70, "ratio": float("nan")}
    line = airbyte_message_to_string(a_record(data))
    assert b'"amount":9999999999.99999999' in line.encode()
    assert strict_json(line)["record"]["data"] == {"amount": 9999999999.99999999, "big": 2**70, "ratio": None}


JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(codec=None, categories=None), max_size=8)  # surrogates included
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=6))
def test_every_record_is_one_line_of_strict_json_holding_its_data_with_its_nulls(data):
    line = airbyte_message_to_string(a_record(data))
    assert "\n" not in line
    assert strict_json(line)["record"]["data"] == as_json_reads_it(data)


def as_json_reads_it(value):
    """`value` as JSON holds it: a float that is not finite is null (orjson writes it so)."""
    if isinstance(value, dict):
        return {key: as_json_reads_it(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_json_reads_it(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@settings(max_examples=300, deadline=None)
@given(
    data=st.dictionaries(
        st.text(max_size=6),
        st.recursive(
            st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.text(max_size=8),
            lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children),
            max_leaves=12,
        ),
        max_size=6,
    )
)
def test_a_record_is_written_byte_for_byte_as_the_cdk_writes_it_but_for_its_top_level_nulls(data):
    without_nulls = {key: value for key, value in data.items() if value is not None}
    assert airbyte_message_to_string(a_record(without_nulls)) == CDK_MESSAGE_TO_STRING(a_record(data))
