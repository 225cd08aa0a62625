"""SOAP responses -> plain Python values.

Parsing is namespace-agnostic: elements are known by their local names, so `soap:`, `s:` or no prefix at all
read the same. (Prefixes are cut off by hand rather than by expat's namespace processing, which makes xmltodict
half again as slow; documents without prefixes in the results, which is what SFMC sends, pay almost nothing.)
Attributes (`xsi:type`, `xsi:nil`, namespace declarations) are dropped; a nil element and an empty element
both become None. Text is kept exactly as sent (no whitespace stripping), so data extension values survive
unchanged.

SOAP forbids document type declarations, and a DTD is the only way to declare entities, so any DTD is refused
before its declarations are read: neither external entities (XXE) nor entity expansion bombs can take effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from xml.parsers import expat

import xmltodict

# Elements holding a list of Name/Value pairs that are returned as one {name: value} object.
_NAME_VALUE_LISTS = frozenset({"Attributes", "PartnerProperties"})
# Text between child elements of a pretty-printed document; xmltodict keeps it under this key.
_TEXT_KEY = "#text"


class MalformedResponse(Exception):
    """The body is not a complete, well-formed SOAP envelope of the expected kind."""


@dataclass(frozen=True)
class RetrievePage:
    overall_status: str
    request_id: str | None
    results: list[dict]


@dataclass(frozen=True)
class SoapFault:
    code: str  # local part of the fault code QName: "Client", "Server", "Security", ...
    message: str
    api_code: int | None  # `Code` of the ExactTarget API fault detail (17 = rate limited), when present


def parse_retrieve(body: bytes) -> RetrievePage:
    """Status, request id and results of a Retrieve response; all or nothing."""
    soap_body = _soap_body(body)
    message = _local_names(soap_body.get("RetrieveResponseMsg"))
    if message is None:
        raise MalformedResponse(f"no RetrieveResponseMsg in the SOAP body (found {_names(soap_body)})")
    status = message.get("OverallStatus")
    if not isinstance(status, str):
        raise MalformedResponse("RetrieveResponseMsg has no OverallStatus")
    request_id = message.get("RequestID")
    if request_id is not None and not isinstance(request_id, str):
        raise MalformedResponse("RequestID is not text")
    if "Results" not in message:
        results: list[Any] = []
    elif isinstance(message["Results"], list):
        results = message["Results"]
    else:
        results = [message["Results"]]
    return RetrievePage(status, request_id, [_record(result) for result in results])


def parse_fault(body: bytes) -> SoapFault | None:
    """The SOAP fault carried by `body` (SOAP 1.1 or 1.2); None for anything else, unreadable bodies included."""
    try:
        soap_body = _soap_body(body)
    except MalformedResponse:
        return None
    fault = _local_names(soap_body.get("Fault"))
    if fault is None:
        return None
    if "faultcode" in fault or "faultstring" in fault:
        code, message, detail = fault.get("faultcode"), fault.get("faultstring"), fault.get("detail")
    else:  # SOAP 1.2: Code/Value, Reason/Text, Detail
        code = _first(_child(fault.get("Code"), "Value"))
        message = _first(_child(fault.get("Reason"), "Text"))
        detail = fault.get("Detail")
    return SoapFault(
        code=code.rpartition(":")[2] if isinstance(code, str) else "",
        message=message if isinstance(message, str) else "",
        api_code=_api_code(detail),
    )


def _soap_body(body: bytes) -> dict:
    """The children of the envelope's Body, keyed by local name."""
    try:
        document = xmltodict.parse(
            body,
            expat=_EXPAT_WITHOUT_DTD,
            disable_entities=True,
            xml_attribs=False,
            strip_whitespace=False,
        )
    except expat.ExpatError as error:
        raise MalformedResponse(f"response is not well-formed XML: {error}") from None
    envelope = _local_names(_child(document, "Envelope"))
    if envelope is None:
        raise MalformedResponse(f"response is not a SOAP envelope (root element: {_names(document)})")
    soap_body = _local_names(envelope.get("Body"))
    if soap_body is None:
        raise MalformedResponse("SOAP envelope has no Body content")
    return soap_body


def _record(result: Any) -> dict:
    if result is None:  # `<Results xsi:type="..."/>`
        return {}
    if not isinstance(result, dict):
        raise MalformedResponse(f"a Results element holds text instead of properties: {result!r}")
    return _normalise(result)


def _normalise(element: dict) -> dict:
    """Local names, flat Name/Value lists, no formatting whitespace; in place where possible (the dicts are ours)."""
    if _has_prefixed_key(element):
        element = _local_names(element)
    for key, value in element.items():
        if value is None or type(value) is str:
            continue
        if key in _NAME_VALUE_LISTS:
            element[key] = _name_value_map(value)
        elif key == "Properties" and type(value) is dict and "Property" in value:
            element[key] = _name_value_map(value["Property"])
        elif type(value) is dict:
            element[key] = _normalise(value)
        elif type(value) is list:
            element[key] = [_normalise(item) if type(item) is dict else item for item in value]
    element.pop(_TEXT_KEY, None)
    return element


def _name_value_map(entries: Any) -> Any:
    """[{Name: n, Value: v}, ...] -> {n: v}; anything not shaped like that is only normalised."""
    if type(entries) is dict:
        entries = [entries]
    elif type(entries) is not list:
        return {} if entries is None else entries
    flattened = {}
    for raw_entry in entries:
        entry = _local_names(raw_entry)
        if entry is None or type(entry.get("Name")) is not str:
            return [_normalise(e) if type(e) is dict else e for e in entries]
        value = entry.get("Value")
        flattened[entry["Name"]] = _normalise(value) if type(value) is dict else value
    return flattened


def _has_prefixed_key(element: dict) -> bool:
    return ":" in "".join(element)


def _local_names(element: Any) -> dict | None:
    """`element` with prefixes cut from its keys; None unless it is a dict."""
    if type(element) is not dict:
        return None
    if not _has_prefixed_key(element):
        return element
    return {key.rpartition(":")[2]: value for key, value in element.items()}


def _child(element: Any, name: str) -> Any:
    element = _local_names(element)
    return None if element is None else element.get(name)


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _api_code(detail: Any) -> int | None:
    """`Code` of the first detail entry that has one (the `apifault` element)."""
    if not isinstance(detail, dict):
        return None
    for entry in detail.values():
        code = _child(_first(entry), "Code")
        if isinstance(code, str):
            try:
                return int(code)
            except ValueError:
                return None
    return None


def _names(element: Any) -> str:
    if isinstance(element, dict):
        return ", ".join(key for key in element if key != _TEXT_KEY) or "nothing"
    return "nothing"


class _DoctypeRefused(expat.ExpatError):
    pass


def _refuse_doctype(*_: Any) -> None:
    raise _DoctypeRefused("document type declarations are not allowed in SOAP messages")


class _ParserWithAttributeDicts:
    """An expat parser that keeps handing attributes over as a dict when xmltodict asks for ordered lists.

    xmltodict turns every ordered attribute list back into a dict in Python, once per element, even when it
    then drops the attributes (`xml_attribs=False`); expat building the dict in C costs a quarter of the whole
    parse less. Everything else goes straight to the real parser.
    """

    __slots__ = ("_parser",)

    def __init__(self, parser: Any) -> None:
        object.__setattr__(self, "_parser", parser)

    def __setattr__(self, name: str, value: Any) -> None:
        if name != "ordered_attributes":
            setattr(self._parser, name, value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parser, name)


def _parser_refusing_doctype(encoding: str | None = None, namespace_separator: str | None = None) -> Any:
    parser = expat.ParserCreate(encoding, namespace_separator)
    parser.StartDoctypeDeclHandler = _refuse_doctype
    return _ParserWithAttributeDicts(parser)


# xmltodict takes an `expat` module; this one hands out parsers that stop at a DOCTYPE.
_EXPAT_WITHOUT_DTD = SimpleNamespace(ParserCreate=_parser_refusing_doctype)
