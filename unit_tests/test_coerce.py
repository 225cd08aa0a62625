"""Records typed by their stream's JSON schema."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from source_sfmc.coerce import build_coercer


def nullable(type_name: str, **keywords) -> dict:
    return {"type": ["null", type_name], **keywords}


def obj(**properties) -> dict:
    return {"type": ["null", "object"], "properties": properties}


def stream_schema(**properties) -> dict:
    return {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": properties}


def coerced(record: dict, **properties) -> dict:
    return build_coercer(stream_schema(**properties))(record)


class BadValues:
    def __init__(self):
        self.seen: list[tuple[str, object]] = []

    def __call__(self, field_path, raw_value):
        self.seen.append((field_path, raw_value))


# -- selection -----------------------------------------------------------------------------------------------
def test_only_schema_properties_are_kept():
    assert coerced({"ID": "1", "PartnerKey": None, "Extra": "x"}, ID=nullable("integer")) == {"ID": 1}


def test_absent_properties_stay_absent():
    assert coerced({}, ID=nullable("integer")) == {}


def test_nested_objects_keep_only_their_properties():
    record = {"Client": {"ID": "7281234", "EnterpriseID": "1"}}
    assert coerced(record, Client=obj(ID=nullable("integer"))) == {"Client": {"ID": 7281234}}


def test_free_form_object_passes_through_unchanged():
    attributes = {"First Name": "Ann", "Zip": "10115"}
    schema = {"Attributes": {"type": ["null", "object"], "additionalProperties": True}}
    assert coerced({"Attributes": attributes}, **schema) == {"Attributes": attributes}


def test_property_without_type_passes_through():
    assert coerced({"activities": [{"a": 1}]}, activities={}) == {"activities": [{"a": 1}]}


def test_record_may_be_any_mapping():
    from types import MappingProxyType

    assert coerced(MappingProxyType({"ID": "3"}), ID=nullable("integer")) == {"ID": 3}


def test_input_record_is_not_changed():
    record = {"ID": "1", "Extra": "x"}
    coerced(record, ID=nullable("integer"))
    assert record == {"ID": "1", "Extra": "x"}


# -- scalars -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "expected"), [("0", 0), ("-42", -42), ("7281234", 7281234), (5, 5), (5.0, 5)])
def test_integers(raw, expected):
    assert coerced({"n": raw}, n=nullable("integer")) == {"n": expected}


@pytest.mark.parametrize(("raw", "expected"), [("1.5", 1.5), ("-0.25", -0.25), ("3", 3.0), (3, 3.0), (2.5, 2.5)])
def test_numbers(raw, expected):
    assert coerced({"n": raw}, n=nullable("number")) == {"n": expected}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("1", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("Y", True),
        ("n", False),
        ("Yes", True),
        ("NO", False),
        (True, True),
        (False, False),
    ],
)
def test_booleans(raw, expected):
    assert coerced({"b": raw}, b=nullable("boolean")) == {"b": expected}


def test_strings_stay_strings_exactly():
    assert coerced({"s": "  007 "}, s=nullable("string")) == {"s": "  007 "}


def test_numbers_from_json_become_strings_in_string_fields():
    assert coerced({"s": 42}, s=nullable("string")) == {"s": "42"}


def test_none_stays_none_for_every_type():
    types = {name: nullable(name) for name in ("integer", "number", "boolean", "string", "object", "array")}
    record = dict.fromkeys(types)
    assert coerced(record, **types) == record


def test_plain_type_without_null_works_too():
    assert coerced({"n": "5"}, n={"type": "integer"}) == {"n": 5}


def test_union_of_several_types_takes_the_first_that_fits():
    schema = {"v": {"type": ["null", "integer", "string"]}}
    assert coerced({"v": "12"}, **schema) == {"v": 12}
    assert coerced({"v": "twelve"}, **schema) == {"v": "twelve"}


# -- dates ---------------------------------------------------------------------------------------------------
def test_date_time_defaults_to_soap_dates():
    schema = {"EventDate": nullable("string", format="date-time")}
    assert coerced({"EventDate": "2024-01-03T08:15:27.123"}, **schema) == {
        "EventDate": "2024-01-03T14:15:27.123000+00:00"
    }


def test_soap_no_date_becomes_none_without_complaint():
    bad = BadValues()
    schema = stream_schema(CreatedDate=nullable("string", format="date-time"))
    assert build_coercer(schema, on_bad_value=bad)({"CreatedDate": "0001-01-01T00:00:00"}) == {"CreatedDate": None}
    assert bad.seen == []


def test_rest_dates_by_keyword():
    schema = {"modifiedDate": nullable("string", format="date-time", **{"x-sfmc-date": "rest"})}
    assert coerced({"modifiedDate": "2021-09-13T12:14:02.32-06:00"}, **schema) == {
        "modifiedDate": "2021-09-13T18:14:02.320000+00:00"
    }


def test_data_extension_dates_by_keyword():
    schema = {"Joined": nullable("string", format="date-time", **{"x-sfmc-date": "data_extension"})}
    assert coerced({"Joined": "6/23/2024 1:05:09 PM"}, **schema) == {"Joined": "2024-06-23T19:05:09.000000+00:00"}


def test_unknown_date_keyword_is_refused_when_compiling():
    with pytest.raises(ValueError, match="x-sfmc-date"):
        build_coercer(stream_schema(d=nullable("string", format="date-time", **{"x-sfmc-date": "julian"})))


# -- arrays --------------------------------------------------------------------------------------------------
def test_array_of_objects_types_each_item():
    schema = {"Items": {"type": ["null", "array"], "items": obj(ID=nullable("integer"))}}
    assert coerced({"Items": [{"ID": "1", "X": "y"}, {"ID": "2"}]}, **schema) == {"Items": [{"ID": 1}, {"ID": 2}]}


def test_lone_value_for_an_array_becomes_a_list_of_one():
    schema = {"Items": {"type": ["null", "array"], "items": obj(ID=nullable("integer"))}}
    assert coerced({"Items": {"ID": "1"}}, **schema) == {"Items": [{"ID": 1}]}


def test_array_of_scalars():
    assert coerced({"n": ["1", "2"]}, n={"type": "array", "items": nullable("integer")}) == {"n": [1, 2]}


def test_array_without_items_schema_passes_through():
    assert coerced({"a": [1, "x", {"k": 2}]}, a=nullable("array")) == {"a": [1, "x", {"k": 2}]}


# -- bad values ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("schema", "raw"),
    [
        (nullable("integer"), "12a"),
        (nullable("integer"), "1.5"),
        (nullable("integer"), True),
        (nullable("number"), "1,5"),
        (nullable("number"), "NaN"),
        (nullable("number"), "inf"),
        (nullable("boolean"), "maybe"),
        (nullable("string"), {"nested": "x"}),
        (nullable("string", format="date-time"), "yesterday"),
        (obj(ID=nullable("integer")), "not an object"),
        ({"type": ["null", "object"], "additionalProperties": True}, ["a list"]),
    ],
)
def test_value_that_does_not_convert_becomes_none_and_is_reported(schema, raw):
    bad = BadValues()
    assert build_coercer(stream_schema(v=schema), on_bad_value=bad)({"v": raw}) == {"v": None}
    assert bad.seen == [("v", raw)]


# Underscores, Arabic-Indic digits (123, 1, 3.5), a fullwidth 7, a no-break space inside digits, a superscript two.
NOT_ASCII_NUMBERS = ["1_000", "1_0", "\u0661\u0662\u0663", "\uff17", "\u0661", "\u0663.\u0665", "1\u00a0000", "\u00b2"]


@pytest.mark.parametrize("raw", NOT_ASCII_NUMBERS)
@pytest.mark.parametrize(
    "schema",
    [nullable("integer"), nullable("number"), nullable("number", **{"x-sfmc-scale": 2})],
    ids=["integer", "number", "decimal"],
)
def test_number_text_that_python_reads_but_sfmc_never_writes_is_not_a_number(schema, raw):
    # int("1_000") is 1000 and int("١٢٣") is 123, but SFMC writes numbers in ASCII digits only.
    bad = BadValues()
    assert build_coercer(stream_schema(v=schema), on_bad_value=bad)({"v": raw}) == {"v": None}
    assert bad.seen == [("v", raw)]


@pytest.mark.parametrize("raw", ["nan", "-inf", "Infinity", "1e999"])
@pytest.mark.parametrize(
    "schema", [nullable("number"), nullable("number", **{"x-sfmc-scale": 2})], ids=["number", "decimal"]
)
def test_non_finite_number_text_is_not_a_number(schema, raw):
    bad = BadValues()
    assert build_coercer(stream_schema(v=schema), on_bad_value=bad)({"v": raw}) == {"v": None}
    assert bad.seen == [("v", raw)]


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=12))
def test_integer_text_converts_exactly_when_it_is_optional_sign_and_ascii_digits(text):
    bad = BadValues()
    typed = build_coercer(stream_schema(v=nullable("integer")), on_bad_value=bad)({"v": text})["v"]
    stripped = text.strip(" \t\n\r\f\v")
    digits = stripped[1:] if stripped[:1] in ("+", "-") else stripped
    if digits and all(character in "0123456789" for character in digits):
        assert typed == int(stripped) and not bad.seen
    else:
        assert typed is None and bad.seen == [("v", text)]


@settings(max_examples=300, deadline=None)
@given(number=st.floats(allow_nan=False, allow_infinity=False))
def test_any_finite_float_written_by_repr_reads_back_as_itself(number):
    assert coerced({"v": repr(number)}, v=nullable("number")) == {"v": number}


def test_bad_nested_value_is_reported_with_its_path():
    bad = BadValues()
    coerce = build_coercer(stream_schema(Client=obj(ID=nullable("integer"))), on_bad_value=bad)
    assert coerce({"Client": {"ID": "x"}}) == {"Client": {"ID": None}}
    assert bad.seen == [("Client.ID", "x")]


def test_bad_array_item_is_reported_with_its_path():
    bad = BadValues()
    coerce = build_coercer(stream_schema(n={"type": "array", "items": {"type": "integer"}}), on_bad_value=bad)
    assert coerce({"n": ["1", "x"]}) == {"n": [1, None]}
    assert bad.seen == [("n[]", "x")]


def test_every_bad_value_is_reported():
    bad = BadValues()
    coerce = build_coercer(stream_schema(n=nullable("integer")), on_bad_value=bad)
    coerce({"n": "x"})
    coerce({"n": "y"})
    assert bad.seen == [("n", "x"), ("n", "y")]


def test_bad_values_without_a_callback_become_none_silently():
    assert coerced({"n": "x"}, n=nullable("integer")) == {"n": None}


# -- schemas -------------------------------------------------------------------------------------------------
def test_schema_without_properties_is_refused():
    with pytest.raises(ValueError, match="object schema with properties"):
        build_coercer({"type": "object"})


def test_unknown_type_is_refused_when_compiling():
    with pytest.raises(ValueError, match="unsupported JSON schema type 'int'"):
        build_coercer(stream_schema(n={"type": "int"}))
