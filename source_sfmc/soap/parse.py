"""SOAP responses -> plain Python values.

Parsing is namespace-agnostic: elements are known by their local names, so `soap:`, `s:` or no prefix at all
read the same. (Prefixes are cut off by hand rather than by expat's namespace processing, which makes xmltodict
half again as slow; documents without prefixes in the results, which is what SFMC sends, pay almost nothing.)
Attributes (`xsi:type`, `xsi:nil`, namespace declarations) are dropped; a nil element and an empty element
both become None. Text is kept exactly as sent (no whitespace stripping), so data extension values survive
unchanged.

Retrieve responses are read in one streaming pass (xmltodict's `item_depth`/`item_callback` over expat): each
`Results` element is handed over as soon as it closes, normalised, and turned into the caller's record (typed,
with its entity_id) right there, so a page goes from bytes to records without a second walk over a whole-page
dict. The page is still all or nothing: records are returned only once the whole body has parsed.

SOAP forbids document type declarations, and a DTD is the only way to declare entities, so any DTD is refused
before its declarations are read: neither external entities (XXE) nor entity expansion bombs can take effect.
Bodies larger than MAX_BODY_BYTES and results nested deeper than MAX_RESULT_DEPTH are refused too, as is any
body expat cannot decode; every refusal is a MalformedResponse saying why, which the error policy retries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from xml.parsers import expat

import xmltodict

# Elements holding a list of Name/Value pairs that are returned as one {name: value} object.
_NAME_VALUE_LISTS = frozenset({"Attributes", "PartnerProperties"})
# A Retrieve page is a few MB; a data extension page of 2,500 wide rows can reach a few hundred. Beyond this a
# body is refused rather than turned into dicts several times its size.
MAX_BODY_BYTES = 512 * 1024 * 1024
# Levels of elements inside one `Results` element. SFMC's deepest objects nest a handful of levels
# (`Send.List.Subscribers...`); anything near this limit is not an answer we can make sense of.
MAX_RESULT_DEPTH = 64
# Depth of the elements directly under RetrieveResponseMsg: Envelope / Body / RetrieveResponseMsg / element.
_MESSAGE_CHILD_DEPTH = 4
# Levels of elements in a whole envelope: a Results element's own MAX_RESULT_DEPTH below the message's children.
# Enforced by the parser as elements open, so a deep answer is refused before it is built (a 20 MiB body of
# nothing but nested elements is otherwise 1.4 GiB of dicts before any later check could see its depth).
MAX_DOCUMENT_DEPTH = _MESSAGE_CHILD_DEPTH + MAX_RESULT_DEPTH
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


def parse_retrieve(body: bytes, record: Callable[[dict], Any] | None = None) -> RetrievePage:
    """Status, request id and results of a Retrieve response; all or nothing.

    Each result is a dict keyed by local names (Name/Value lists flattened, formatting whitespace dropped); with
    `record`, each result is passed through it as it is parsed and the page holds what it returns.
    Raises MalformedResponse (with a cause a person can read) for anything that is not a complete, well-formed
    Retrieve response within the size and depth limits.
    """
    # xmltodict adds the Results element's own text to its dict after the callback returns, so without `record`
    # each result is copied (with `record`, the typed record is a new dict anyway).
    convert = record or dict
    results: list[Any] = []
    found: dict[str, Any] = {}
    verified_message: tuple | None = None

    def take(path: list[tuple[str, Any]], item: Any) -> bool:
        # `path` holds (name, attributes) of the item and its ancestors. The ancestors' entries are the same
        # tuples for every child of one RetrieveResponseMsg, so they are checked once per message, not per item.
        nonlocal verified_message
        message = path[2]
        if message is not verified_message:
            if not (
                _local(path[0][0]) == "Envelope"
                and _local(path[1][0]) == "Body"
                and _local(message[0]) == "RetrieveResponseMsg"
            ):
                return True  # a header block, or another body element: not ours
            verified_message = message
        name = path[3][0]
        if name == "Results" or _local(name) == "Results":
            results.append(convert(_record(item)))
        else:
            found.setdefault(_local(name), item)
        return True

    parse_xml(body, item_depth=_MESSAGE_CHILD_DEPTH, item_callback=take)
    status = found.get("OverallStatus")
    if verified_message is None or not isinstance(status, str):
        raise MalformedResponse(_why_not_a_retrieve_response(body))
    request_id = found.get("RequestID")
    if request_id is not None and not isinstance(request_id, str):
        raise MalformedResponse("RequestID is not text")
    if status == "MoreDataAvailable" and not request_id:
        # The rest of the results can only be asked for with the RequestID; taking the page as the last one
        # would end the window early and let its state advance past records never read.
        raise MalformedResponse("OverallStatus is MoreDataAvailable but there is no RequestID to continue with")
    return RetrievePage(status, request_id, results)


def _local(name: str) -> str:
    return name.rpartition(":")[2]


def _why_not_a_retrieve_response(body: bytes) -> str:
    """What a well-formed body that is no Retrieve response is instead (only on this rare path: a second parse)."""
    try:
        soap_body = _soap_body(body)
    except MalformedResponse as error:
        return str(error)
    message = _local_names(soap_body.get("RetrieveResponseMsg"))
    if message is None:
        return f"no RetrieveResponseMsg in the SOAP body (found {_names(soap_body)})"
    return "RetrieveResponseMsg has no OverallStatus"


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
    document = parse_xml(body)
    envelope = _local_names(_child(document, "Envelope"))
    if envelope is None:
        raise MalformedResponse(f"response is not a SOAP envelope (root element: {_names(document)})")
    soap_body = _local_names(envelope.get("Body"))
    if soap_body is None:
        raise MalformedResponse("SOAP envelope has no Body content")
    return soap_body


def parse_xml(body: bytes, *, strip_whitespace: bool = False, **streaming: Any) -> Any:
    """xmltodict over an expat that refuses DTDs and deep nesting, for any SOAP answer (Retrieve, fault,
    Describe); a body over MAX_BODY_BYTES and every way a body can fail to parse is a MalformedResponse."""
    if len(body) > MAX_BODY_BYTES:
        raise MalformedResponse(
            f"the answer is {len(body) / 2**20:.0f} MiB, more than the {MAX_BODY_BYTES // 2**20} MiB one page may be"
        )
    try:
        return xmltodict.parse(
            body,
            expat=_EXPAT_WITHOUT_DTD,
            disable_entities=True,
            xml_attribs=False,
            strip_whitespace=strip_whitespace,
            **streaming,
        )
    except expat.ExpatError as error:
        raise MalformedResponse(f"response is not well-formed XML: {error}") from None
    except (LookupError, UnicodeError) as error:  # an encoding Python does not know, or bytes it cannot decode
        raise MalformedResponse(f"response is in an encoding that cannot be read: {error}") from None


def _record(result: Any) -> dict:
    if result is None:  # `<Results xsi:type="..."/>`
        return {}
    if type(result) is str:
        if not result.strip():  # `<Results xsi:type="...">  </Results>`: pretty-printed, but just as empty
            return {}
        raise MalformedResponse(f"a Results element holds text instead of properties: {result[:80]!r}")
    return _normalise(result, 1)


def _normalise(element: dict, depth: int) -> dict:
    """Local names, flat Name/Value lists, no formatting whitespace; in place where possible (the dicts are ours).

    `depth` counts levels inside the Results element; past MAX_RESULT_DEPTH the answer is refused (this walk is
    recursive, and an answer must not be able to exhaust Python's stack)."""
    if depth > MAX_RESULT_DEPTH:
        raise MalformedResponse(f"a Results element is nested more than {MAX_RESULT_DEPTH} levels deep")
    if _has_prefixed_key(element):
        element = _local_names(element)
    for key, value in element.items():
        if value is None or type(value) is str:
            continue
        if key in _NAME_VALUE_LISTS:
            element[key] = _name_value_map(value, depth + 1)
        elif key == "Properties" and type(value) is dict and "Property" in value:
            element[key] = _name_value_map(value["Property"], depth + 2)
        elif type(value) is dict:
            element[key] = _normalise(value, depth + 1)
        elif type(value) is list:
            element[key] = [_normalise(item, depth + 1) if type(item) is dict else item for item in value]
    element.pop(_TEXT_KEY, None)
    return element


def _name_value_map(entries: Any, depth: int) -> Any:
    """[{Name: n, Value: v}, ...] -> {n: v}; anything not shaped like that is only normalised."""
    if type(entries) is dict:
        entries = [entries]
    elif type(entries) is not list:
        return {} if entries is None else entries
    flattened = {}
    for raw_entry in entries:
        entry = _local_names(raw_entry)
        if entry is None or type(entry.get("Name")) is not str:
            return [_normalise(e, depth) if type(e) is dict else e for e in entries]
        value = entry.get("Value")
        flattened[entry["Name"]] = _normalise(value, depth + 1) if type(value) is dict else value
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
    """An expat parser that keeps handing attributes over as a dict when xmltodict asks for ordered lists, and
    refuses elements nested deeper than MAX_DOCUMENT_DEPTH as they open.

    xmltodict turns every ordered attribute list back into a dict in Python, once per element, even when it
    then drops the attributes (`xml_attribs=False`); expat building the dict in C costs a quarter of the whole
    parse less. Everything else goes straight to the real parser.
    """

    __slots__ = ("_parser",)

    def __init__(self, parser: Any) -> None:
        object.__setattr__(self, "_parser", parser)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "StartElementHandler":
            value = _refusing_deep_elements(value)
        if name != "ordered_attributes":
            setattr(self._parser, name, value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parser, name)


def _refusing_deep_elements(start_element: Any) -> Any:
    """xmltodict's start-element handler, refusing an element that would open below MAX_DOCUMENT_DEPTH.

    The handler's `path` holds the open elements (xmltodict keeps it for item_depth); reading its length costs
    one call per element, where counting depth ourselves would need a second handler for closing elements."""
    path = start_element.__self__.path

    def start(name: str, attributes: Any) -> None:
        if len(path) >= MAX_DOCUMENT_DEPTH:
            raise MalformedResponse(
                f"elements are nested more than {MAX_RESULT_DEPTH} levels deep inside a Results element "
                f"({MAX_DOCUMENT_DEPTH} in the whole envelope)"
            )
        start_element(name, attributes)

    return start


def _parser_refusing_doctype(encoding: str | None = None, namespace_separator: str | None = None) -> Any:
    parser = expat.ParserCreate(encoding, namespace_separator)
    parser.StartDoctypeDeclHandler = _refuse_doctype
    return _ParserWithAttributeDicts(parser)


# xmltodict takes an `expat` module; this one hands out parsers that stop at a DOCTYPE.
_EXPAT_WITHOUT_DTD = SimpleNamespace(ParserCreate=_parser_refusing_doctype)
