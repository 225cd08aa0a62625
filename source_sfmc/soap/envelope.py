"""SOAP 1.1 Retrieve envelopes, built by hand.

The envelopes are small and their shape is fixed, so string building is both the fastest and the most
predictable way to make them. Every piece of caller data goes through `_text`, which escapes it for XML
element content and refuses characters XML 1.0 cannot carry, so a data extension key such as
`a<b&"c"]]>` asks the server for exactly that key. Children of RetrieveRequest follow the order of the
partner API schema (the WSDL's `RetrieveRequest` sequence).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from xml.sax.saxutils import unescape

SOAP_ACTION_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "Retrieve"}

SIMPLE_OPERATORS = frozenset(
    {
        "equals",
        "notEquals",
        "greaterThan",
        "lessThan",
        "isNull",
        "isNotNull",
        "greaterThanOrEqual",
        "lessThanOrEqual",
        "between",
        "IN",
        "like",
        "existsInString",
        "existsInStringAsAWord",
        "notExistsInString",
        "beginsWith",
        "endsWith",
        "contains",
        "notContains",
        "isAnniversary",
        "isNotAnniversary",
        "greaterThanAnniversary",
        "lessThanAnniversary",
    }
)
LOGICAL_OPERATORS = frozenset({"AND", "OR"})

# How many values each operator takes (minimum, maximum or None for unbounded); one for any other operator.
_VALUE_COUNTS: dict[str, tuple[int, int | None]] = {
    "isNull": (0, 0),
    "isNotNull": (0, 0),
    "between": (2, 2),
    "IN": (1, None),
}

# Everything XML 1.0 allows in character data (its `Char` production); lone surrogates included in the refusal.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_HEAD = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    '<s:Header><fueloauth xmlns="http://exacttarget.com">'
)
_HEAD_BYTES = _HEAD.encode()
_TOKEN_END = b"</fueloauth>"
_BODY_OPEN = (
    "</fueloauth></s:Header><s:Body>"
    '<RetrieveRequestMsg xmlns="http://exacttarget.com/wsdl/partnerAPI"><RetrieveRequest>'
)
_TAIL = "</RetrieveRequest></RetrieveRequestMsg></s:Body></s:Envelope>"


@dataclass(frozen=True)
class SimpleFilter:
    """A `SimpleFilterPart`; `dates=True` sends the values as `DateValue` (ISO 8601, formatted by the caller)."""

    property: str
    operator: str
    values: tuple[str, ...] = ()
    dates: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.values, str):
            raise TypeError(f"filter values must be a sequence of strings, not the string {self.values!r}")
        values = tuple(self.values)
        object.__setattr__(self, "values", values)
        if self.operator not in SIMPLE_OPERATORS:
            raise ValueError(f"unknown SOAP filter operator {self.operator!r}")
        for value in values:
            if not isinstance(value, str):
                raise TypeError(f"filter values must be strings, got {type(value).__name__}: {value!r}")
        least, most = _VALUE_COUNTS.get(self.operator, (1, 1))
        if len(values) < least or (most is not None and len(values) > most):
            expected = f"{least}" if least == most else f"at least {least}"
            raise ValueError(f"operator {self.operator} takes {expected} value(s), got {len(values)}")


@dataclass(frozen=True)
class ComplexFilter:
    """A `ComplexFilterPart`: two filters joined by AND or OR."""

    left: Filter
    operator: Literal["AND", "OR"]
    right: Filter

    def __post_init__(self) -> None:
        if self.operator not in LOGICAL_OPERATORS:
            raise ValueError(f"logical operator must be AND or OR, got {self.operator!r}")


Filter = SimpleFilter | ComplexFilter


def all_of(*filters: Filter | None) -> Filter | None:
    """AND together the given filters (None entries are skipped); None when nothing is left."""
    present = [f for f in filters if f is not None]
    if not present:
        return None
    combined = present[0]
    for f in present[1:]:
        combined = ComplexFilter(combined, "AND", f)
    return combined


@dataclass(frozen=True)
class RetrieveOptions:
    """Business-unit scope and page size of a Retrieve."""

    client_ids: tuple[int, ...] = ()
    query_all_accounts: bool = False
    batch_size: int | None = None

    def __post_init__(self) -> None:
        client_ids = tuple(self.client_ids)
        object.__setattr__(self, "client_ids", client_ids)
        for client_id in client_ids:
            if not isinstance(client_id, int) or isinstance(client_id, bool):
                raise TypeError(f"client ids must be integers (MIDs), got {client_id!r}")
        if self.batch_size is not None and (
            not isinstance(self.batch_size, int) or isinstance(self.batch_size, bool) or self.batch_size < 1
        ):
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")


def retrieve_envelope(
    token: str,
    object_type: str,
    properties: Sequence[str],
    filter: Filter | None = None,
    options: RetrieveOptions = RetrieveOptions(),
) -> bytes:
    """The first-page Retrieve request for `object_type`, asking for `properties`."""
    if isinstance(properties, str):
        raise TypeError("properties must be a sequence of property names, not a single string")
    if not properties:
        raise ValueError("a Retrieve needs at least one property")
    parts = [_HEAD, _text(token), _BODY_OPEN, _client_ids(options), _element("ObjectType", object_type)]
    parts.extend(_element("Properties", name) for name in properties)
    if filter is not None:
        parts.append(_filter(filter, "Filter"))
    parts.append(_trailing_options(options))
    parts.append(_TAIL)
    return "".join(parts).encode()


def continue_envelope(
    token: str,
    request_id: str,
    object_type: str = "",
    options: RetrieveOptions = RetrieveOptions(),
) -> bytes:
    """The next-page request: `ContinueRequest` with the `RequestID` of the last response.

    The schema requires an `ObjectType` even here; it may be empty, but passing the object type of the
    first page is clearer in server logs.
    """
    parts = [
        _HEAD,
        _text(token),
        _BODY_OPEN,
        _client_ids(options),
        _element("ObjectType", object_type),
        _element("ContinueRequest", request_id),
        _trailing_options(options),
        _TAIL,
    ]
    return "".join(parts).encode()


def requested_object_type(envelope: bytes | None) -> str | None:
    """The `ObjectType` an envelope built here asks for (unescaped); None for anything else."""
    if not envelope:
        return None
    start = envelope.find(b"<ObjectType>")
    end = envelope.find(b"</ObjectType>", start)
    if start < 0 or end < 0:
        return None
    return unescape(envelope[start + len(b"<ObjectType>") : end].decode("utf-8"))


def describe_envelope(token: str, object_types: Sequence[str]) -> bytes:
    """A `DefinitionRequestMsg` (SOAPAction `Describe`) asking for the definitions of `object_types`.

    It shares the Retrieve envelopes' head, so `with_token` renews its token the same way.
    """
    requests = "".join(
        f"<ObjectDefinitionRequest>{_element('ObjectType', name)}</ObjectDefinitionRequest>" for name in object_types
    )
    return "".join(
        (
            _HEAD,
            _text(token),
            '</fueloauth></s:Header><s:Body><DefinitionRequestMsg xmlns="http://exacttarget.com/wsdl/partnerAPI">',
            f"<DescribeRequests>{requests}</DescribeRequests></DefinitionRequestMsg></s:Body></s:Envelope>",
        )
    ).encode()


def with_token(envelope: bytes, token: str) -> bytes:
    """The same envelope with another fueloauth token (used when a request is retried after renewal).

    The token is the first text after a fixed header prefix and escaped text cannot contain `<`, so the first
    closing tag after the prefix ends it.
    """
    if not envelope.startswith(_HEAD_BYTES):
        raise ValueError("not an envelope built by retrieve_envelope, continue_envelope or describe_envelope")
    end = envelope.find(_TOKEN_END, len(_HEAD_BYTES))
    if end == -1:
        raise ValueError("envelope has no closing fueloauth tag")
    return b"".join((_HEAD_BYTES, _text(token).encode(), envelope[end:]))


def _text(value: str) -> str:
    """`value` as XML element content that parses back to exactly `value`."""
    bad = _NOT_XML_CHAR.search(value)
    if bad is not None:
        raise ValueError(
            f"character U+{ord(bad.group()):04X} at position {bad.start()} of {value!r} cannot be sent in XML 1.0"
        )
    # `>` is escaped so that `]]>` never appears; `\r` would otherwise be normalised to `\n` by the parser.
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _element(tag: str, value: str) -> str:
    return f"<{tag}>{_text(value)}</{tag}>"


def _client_ids(options: RetrieveOptions) -> str:
    return "".join(f"<ClientIDs><ID>{client_id}</ID></ClientIDs>" for client_id in options.client_ids)


def _trailing_options(options: RetrieveOptions) -> str:
    """The elements that come after ContinueRequest in the schema: QueryAllAccounts, then Options."""
    parts = []
    if options.query_all_accounts:
        parts.append("<QueryAllAccounts>true</QueryAllAccounts>")
    if options.batch_size is not None:
        parts.append(f"<Options><BatchSize>{options.batch_size}</BatchSize></Options>")
    return "".join(parts)


def _filter(f: Filter, tag: str) -> str:
    if isinstance(f, SimpleFilter):
        value_tag = "DateValue" if f.dates else "Value"
        values = "".join(_element(value_tag, value) for value in f.values)
        return (
            f'<{tag} xsi:type="SimpleFilterPart">{_element("Property", f.property)}'
            f"<SimpleOperator>{f.operator}</SimpleOperator>{values}</{tag}>"
        )
    if isinstance(f, ComplexFilter):
        return (
            f'<{tag} xsi:type="ComplexFilterPart">{_filter(f.left, "LeftOperand")}'
            f"<LogicalOperator>{f.operator}</LogicalOperator>{_filter(f.right, 'RightOperand')}</{tag}>"
        )
    raise TypeError(f"not a filter: {f!r}")
