"""Filters: one tree for SOAP filter parts and REST ``$filter``, compiled against typed values.

SimpleFilterPart/ComplexFilterPart become ``SimpleFilter``/``ComplexFilter`` nodes; ``compile_filter``
turns a tree into a row predicate and raises ``FilterError`` for what SFMC refuses. Text compares ignore
case (SQL Server's default collation); date literals follow the server-time rule of ``soap_dates``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .soap_dates import parse_sfmc_datetime
from .soap_objects import BOOL, DATE, INT, STR


@dataclass(frozen=True)
class SimpleFilter:
    prop: str
    operator: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class ComplexFilter:
    operator: str  # AND | OR
    operands: tuple[FilterNode, ...]


FilterNode = SimpleFilter | ComplexFilter


class FilterError(ValueError):
    """A filter SFMC would refuse; the message is the text after ``Error: ``."""


OPERATORS = {
    "equals",
    "notequals",
    "greaterthan",
    "lessthan",
    "greaterthanorequal",
    "lessthanorequal",
    "isnull",
    "isnotnull",
    "between",
    "in",
    "like",
    "beginswith",
    "endswith",
    "contains",
}


@dataclass(frozen=True)
class ValueType:
    """How a row value and a filter literal become comparable."""

    name: str
    from_row: Callable[[object], object]
    from_literal: Callable[[str], object]


def _casefold_row(v: object) -> object:
    return None if v is None else str(v).casefold()


def _bool_literal(text: str) -> bool:
    t = text.strip().lower()
    if t in ("true", "1"):
        return True
    if t in ("false", "0"):
        return False
    raise ValueError(text)


def _de_number(v: object) -> object:
    return None if v in (None, "") else float(v)  # type: ignore[arg-type]


def _de_date(v: object) -> object:
    return None if v in (None, "") else parse_sfmc_datetime(v)  # type: ignore[arg-type]


def _de_bool(v: object) -> object:
    return None if v in (None, "") else v == "True"


VT_INT = ValueType("int", lambda v: v, lambda s: int(s.strip()))
VT_STR = ValueType("str", _casefold_row, str.casefold)  # SQL Server's default collation ignores case
VT_BOOL = ValueType("bool", lambda v: v, _bool_literal)
VT_DATE = ValueType("date", lambda v: v, parse_sfmc_datetime)
VT_DE_NUMBER = ValueType("number", _de_number, lambda s: float(s.strip()))
VT_DE_DATE = ValueType("date", _de_date, parse_sfmc_datetime)
VT_DE_BOOL = ValueType("bool", _de_bool, _bool_literal)
VALUE_TYPE_OF_KIND = {INT: VT_INT, STR: VT_STR, BOOL: VT_BOOL, DATE: VT_DATE}
VALUE_TYPE_OF_DE_FIELD = {"Number": VT_DE_NUMBER, "Decimal": VT_DE_NUMBER, "Date": VT_DE_DATE, "Boolean": VT_DE_BOOL}


@dataclass(frozen=True)
class FieldRef:
    row_key: str
    value_type: ValueType


Resolver = Callable[[str], FieldRef | None]
Predicate = Callable[[dict], bool]


def _like_regex(pattern: str) -> re.Pattern[str]:
    out = []
    for ch in pattern.casefold():
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def _compile_simple(node: SimpleFilter, ref: FieldRef) -> Predicate:
    op = node.operator.lower()
    key, vt = ref.row_key, ref.value_type
    if op == "isnull":
        return lambda row: row.get(key) in (None, "", ())
    if op == "isnotnull":
        return lambda row: row.get(key) not in (None, "", ())
    if op in ("like", "beginswith", "endswith", "contains"):
        if not node.values:
            raise FilterError(f"The {node.operator} operator requires a value.")
        text = node.values[0].casefold()
        if op == "like":
            rx = _like_regex(node.values[0])

            def test(s: str) -> bool:
                return rx.fullmatch(s) is not None
        elif op == "beginswith":
            test = lambda s: s.startswith(text)  # noqa: E731
        elif op == "endswith":
            test = lambda s: s.endswith(text)  # noqa: E731
        else:
            test = lambda s: text in s  # noqa: E731

        def text_match(row: dict) -> bool:
            v = row.get(key)
            return v is not None and test(str(v).casefold())

        return text_match
    try:
        literals = [vt.from_literal(v) for v in node.values]
    except (ValueError, TypeError) as exc:
        raise FilterError(f"Unable to convert filter value(s) {list(node.values)} for property {node.prop}.") from exc
    conv = vt.from_row
    if op == "between":
        if len(literals) != 2:
            raise FilterError("The between operator requires exactly two values.")
        lo, hi = literals
        return lambda row: (v := conv(row.get(key))) is not None and lo <= v <= hi  # type: ignore[operator]
    if op == "in":
        if not literals:
            raise FilterError("The IN operator requires at least one value.")
        wanted = set(literals)
        return lambda row: conv(row.get(key)) in wanted
    if len(literals) != 1:
        raise FilterError(f"The {node.operator} operator requires exactly one value.")
    x = literals[0]
    compare: dict[str, Callable[[object], bool]] = {
        "equals": lambda v: v == x,
        "notequals": lambda v: v != x,
        "greaterthan": lambda v: v > x,  # type: ignore[operator]
        "lessthan": lambda v: v < x,  # type: ignore[operator]
        "greaterthanorequal": lambda v: v >= x,  # type: ignore[operator]
        "lessthanorequal": lambda v: v <= x,  # type: ignore[operator]
    }
    cmp = compare[op]
    return lambda row: (v := conv(row.get(key))) is not None and cmp(v)


def compile_filter(node: FilterNode, resolve: Resolver, *, object_name: str, allow_like: bool = True) -> Predicate:
    """Filter tree -> row predicate. Raises FilterError for what SFMC would refuse."""
    if isinstance(node, ComplexFilter):
        parts = [compile_filter(n, resolve, object_name=object_name, allow_like=allow_like) for n in node.operands]
        if node.operator.upper() == "OR":
            return lambda row: any(p(row) for p in parts)
        return lambda row: all(p(row) for p in parts)
    op = node.operator.lower()
    if op not in OPERATORS:
        raise FilterError(f"Unsupported filter operator '{node.operator}'.")
    if op == "like" and not allow_like:
        raise FilterError(f"The like operator is not supported on {object_name}.")
    ref = resolve(node.prop)
    if ref is None:
        raise FilterError(f"The Filter Property '{node.prop}' is not a retrievable property of {object_name}.")
    return _compile_simple(node, ref)


def order_bounds(node: SimpleFilter, value_type: ValueType) -> tuple[int | None, bool, int | None, bool] | None:
    """Bounds a simple filter puts on an ordering property: (low, low_inclusive, high, high_inclusive)."""
    op = node.operator.lower()
    try:
        vals = [int(value_type.from_literal(v)) for v in node.values]  # type: ignore[call-overload]
    except (ValueError, TypeError):
        return None
    if op == "between" and len(vals) == 2:
        return vals[0], True, vals[1], True
    if len(vals) != 1:
        return None
    v = vals[0]
    return {
        "equals": (v, True, v, True),
        "greaterthan": (v, False, None, False),
        "greaterthanorequal": (v, True, None, False),
        "lessthan": (None, False, v, False),
        "lessthanorequal": (None, False, v, True),
    }.get(op)
