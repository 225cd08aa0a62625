"""Typing records by a stream's JSON schema.

`build_coercer` compiles the schema once into one converter per field; the returned function then does a dict
walk and one call per present field. SOAP records arrive with every leaf a string (or None), REST records with
JSON types; both come out in the schema's types. What the rules are:

- Only the schema's properties are kept, recursively. An object schema without `properties` (a free-form map,
  such as a flattened Attributes object) passes its value through unchanged.
- `integer` -> int, `number` -> float (finite), `boolean` -> bool from every spelling SFMC documents for its
  Boolean data extension fields (true/false, y/n, yes/no, 1/0; any case),
  `string` -> str, `string` with `format: date-time` -> normalised by `datetimes` according to the custom
  keyword `x-sfmc-date`: `soap` (default), `rest` or `data_extension`.
- `number` with the custom keyword `x-sfmc-scale` (a data extension Decimal field) -> the decimal text exactly as
  SFMC sent it, wrapped in an `orjson.Fragment`: the CDK serialises records with orjson, which writes a
  fragment's bytes verbatim, so the JSON number on stdout carries every digit (a float would keep about 16).
- `array` applies its `items` schema to each element; a lone value (one repeated XML element) becomes a
  one-element list.
- Type unions work: `["null", "integer"]` is an integer that may be null; with several non-null types the
  first that converts wins. No `type` at all means any value passes.
- None stays None. A value that does not convert becomes None and is reported through
  `on_bad_value(field_path, raw_value)` (path like `Client.ID`, array elements as `Items[]`), every time;
  the caller decides how often to log.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from source_sfmc.datetimes import data_extension_datetime, rest_datetime, soap_datetime

BadValueCallback = Callable[[str, Any], None]
Converter = Callable[[Any], Any]  # given a non-None value; raises ValueError or TypeError if it does not fit

DATE_KEYWORD = "x-sfmc-date"
_DATE_PARSERS: dict[str, Callable[[str], str | None]] = {
    "soap": soap_datetime,
    "rest": rest_datetime,
    "data_extension": data_extension_datetime,
}
# The spellings SFMC accepts for Boolean data extension values ("Data Extension Data Types", Salesforce Help:
# True/False, Y/N, Yes/No, 1/0), compared case-insensitively.
_TRUE = frozenset({"true", "1", "y", "yes"})
_FALSE = frozenset({"false", "0", "n", "no"})
SCALE_KEYWORD = "x-sfmc-scale"
# Number text is ASCII, as SFMC writes it ("Data Extension Data Types", Salesforce Help: a Number is a whole
# number, a Decimal has a fixed scale; both are plain digits). Python's int() and float() also take `1_000`,
# other scripts' digits (Arabic-Indic, fullwidth) and, for float(), `nan`/`inf`: none of those is a value SFMC
# stores, so text is matched against these patterns first and anything else is not a number (None, reported as a
# bad value).
_INTEGER_TEXT = re.compile(r"\s*[+-]?[0-9]+\s*", re.ASCII)
_FLOAT_TEXT = re.compile(r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*", re.ASCII)
# A decimal as SFMC renders it: optional sign, digits, optional fraction (".5" and "5." included).
_DECIMAL_TEXT = re.compile(r"\s*([+-]?)(?:([0-9]+)(?:\.([0-9]*))?|\.([0-9]+))\s*", re.ASCII)
_CONVERSION_ERRORS = (ValueError, TypeError, ArithmeticError)


def build_coercer(
    schema: Mapping[str, Any], on_bad_value: BadValueCallback | None = None
) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """Compile `schema` (an object schema) into a function from a parsed record to a typed record."""
    report = on_bad_value or _ignore
    if not isinstance(schema.get("properties"), Mapping):
        raise ValueError("a stream schema must be an object schema with properties")
    convert_object = _object(schema["properties"], "", report)

    def coerce(record: Mapping[str, Any]) -> dict[str, Any]:
        return convert_object(record if type(record) is dict else dict(record))

    return coerce


def _ignore(field_path: str, raw_value: Any) -> None:
    return None


def _compile(schema: Mapping[str, Any], path: str, report: BadValueCallback) -> Converter:
    types = schema.get("type")
    if types is None:
        return _any
    if isinstance(types, str):
        types = [types]
    candidates = [_compile_type(t, schema, path, report) for t in types if t != "null"]
    if not candidates:
        return _always_none
    if len(candidates) == 1:
        return candidates[0]
    return _first_that_fits(candidates)


def _compile_type(type_name: str, schema: Mapping[str, Any], path: str, report: BadValueCallback) -> Converter:
    if type_name == "object":
        properties = schema.get("properties")
        return _object(properties, f"{path}.", report) if isinstance(properties, Mapping) else _free_map
    if type_name == "array":
        items = schema.get("items")
        return _array(_compile(items, f"{path}[]", report), f"{path}[]", report) if items else _any_list
    if type_name == "string" and schema.get("format") == "date-time":
        kind = schema.get(DATE_KEYWORD, "soap")
        if kind not in _DATE_PARSERS:
            raise ValueError(f"{path}: {DATE_KEYWORD} must be one of {sorted(_DATE_PARSERS)}, got {kind!r}")
        return _date_time(_DATE_PARSERS[kind])
    if type_name == "number" and SCALE_KEYWORD in schema:
        return _exact_decimal
    scalar = _SCALARS.get(type_name)
    if scalar is None:
        raise ValueError(f"{path}: unsupported JSON schema type {type_name!r}")
    return scalar


def _object(properties: Mapping[str, Any], prefix: str, report: BadValueCallback) -> Converter:
    converters = {name: _compile(sub, f"{prefix}{name}", report) for name, sub in properties.items()}
    # Most SOAP fields are strings that arrive as strings: those are kept without a call (this loop runs for
    # every field of every record).
    kept_if_text = frozenset(name for name, converter in converters.items() if converter is _string)

    def convert(value: Any) -> dict[str, Any]:
        if type(value) is not dict:
            raise TypeError(f"expected an object, got {type(value).__name__}")
        typed = {}
        for key, raw in value.items():
            converter = converters.get(key)
            if converter is None:
                continue
            if raw is None or (type(raw) is str and key in kept_if_text):
                typed[key] = raw
                continue
            try:
                typed[key] = converter(raw)
            except _CONVERSION_ERRORS:
                report(f"{prefix}{key}", raw)
                typed[key] = None
        return typed

    return convert


def _array(convert_item: Converter, path: str, report: BadValueCallback) -> Converter:
    def convert(value: Any) -> list[Any]:
        items = value if type(value) is list else [value]
        typed = []
        for raw in items:
            if raw is None:
                typed.append(None)
                continue
            try:
                typed.append(convert_item(raw))
            except _CONVERSION_ERRORS:
                report(path, raw)
                typed.append(None)
        return typed

    return convert


def _first_that_fits(candidates: list[Converter]) -> Converter:
    def convert(value: Any) -> Any:
        for candidate in candidates:
            try:
                return candidate(value)
            except _CONVERSION_ERRORS:
                continue
        raise ValueError(f"{value!r} fits none of the schema's types")

    return convert


def _date_time(parse: Callable[[str], str | None]) -> Converter:
    def convert(value: Any) -> str | None:
        if type(value) is not str:
            raise TypeError(f"expected a date-time string, got {type(value).__name__}")
        return parse(value)

    return convert


def _string(value: Any) -> str:
    if type(value) is str:
        return value
    if type(value) is int or type(value) is float:
        return str(value)
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _integer(value: Any) -> int:
    if type(value) is int:
        return value
    if type(value) is str:
        if _INTEGER_TEXT.fullmatch(value) is None:
            raise ValueError(f"{value!r} is not a whole number in ASCII digits")
        return int(value)
    if type(value) is float and value.is_integer():
        return int(value)
    raise TypeError(f"expected an integer, got {value!r}")


def _number(value: Any) -> float:
    if type(value) is bool or not isinstance(value, str | int | float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    if type(value) is str and _FLOAT_TEXT.fullmatch(value) is None:
        raise ValueError(f"{value!r} is not a number in ASCII digits")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _exact_decimal(value: Any) -> orjson.Fragment | float:
    """A decimal's text as a JSON number with the same digits: `007.50` -> `7.50`, `-.5` -> `-0.5`, `+1` -> `1`.

    Only the spelling is made valid JSON (sign, leading zeros, a bare point); no digit is added or dropped."""
    if type(value) is not str:
        return _number(value)
    match = _DECIMAL_TEXT.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not a decimal number")
    sign, whole, fraction, bare_fraction = match.groups()
    whole = (whole or "0").lstrip("0") or "0"
    fraction = bare_fraction if bare_fraction is not None else fraction
    text = ("-" if sign == "-" else "") + whole + (f".{fraction}" if fraction else "")
    return orjson.Fragment(text.encode("ascii"))


def _boolean(value: Any) -> bool:
    if type(value) is bool:
        return value
    if type(value) is int and value in (0, 1):
        return bool(value)
    if type(value) is str:
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise ValueError(f"{value!r} is not a boolean")


def _free_map(value: Any) -> dict[str, Any]:
    if type(value) is not dict:
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return value


def _any_list(value: Any) -> list[Any]:
    return value if type(value) is list else [value]


def _any(value: Any) -> Any:
    return value


def _always_none(value: Any) -> None:
    return None


_SCALARS: dict[str, Converter] = {
    "string": _string,
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
}
