"""SOAP XML in and out for the sandbox: lenient, safe request parsing and fast response rendering.

Requests are parsed with expat directly into a small tree; documents with a DOCTYPE or entity declaration are
refused, so no external entity is ever fetched and no entity expansion can blow up. Elements are matched by
local name (any prefix, any namespace, any order), as SFMC does.

Responses are built from strings: the envelope's constant parts are pre-rendered and each result is rendered
by a function compiled once per (object type, requested properties).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.parsers import expat

from .soap_dates import server_iso
from .soap_filters import ComplexFilter, FilterError, FilterNode, SimpleFilter
from .soap_objects import ABSENT, ADDRESSES, BOOL, DATE, INT, NILLABLE, PAIRS, REPEATED_INT, Prop

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSA_NS = "http://schemas.xmlsoap.org/ws/2004/08/addressing"


# ---------------------------------------------------------------------------------------------------------
# Request parsing
# ---------------------------------------------------------------------------------------------------------


class MalformedRequest(ValueError):
    """The body is not an XML document the server can read."""


class _Node:
    __slots__ = ("attrs", "children", "name", "ns", "parts")

    def __init__(self, ns: str, name: str, attrs: dict[str, str]):
        self.ns = ns
        self.name = name
        self.attrs = attrs
        self.children: list[_Node] = []
        self.parts: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self.parts).strip()

    def child(self, name: str) -> _Node | None:
        for c in self.children:
            if c.name == name:
                return c
        return None

    def all(self, name: str) -> list[_Node]:
        return [c for c in self.children if c.name == name]

    def attr(self, local: str) -> str | None:
        for key, value in self.attrs.items():
            if key.rpartition(" ")[2] == local:
                return value
        return None


def _split(qname: str) -> tuple[str, str]:
    ns, _, local = qname.rpartition(" ")
    return ns, local


def _refuse_dtd(*_args) -> None:
    raise MalformedRequest("DTDs are not allowed")


def parse_xml(body: bytes) -> _Node:
    """Bytes -> tree of local names. No DTD, no entities, no network."""
    parser = expat.ParserCreate(namespace_separator=" ")
    stack: list[_Node] = []
    roots: list[_Node] = []

    def start(qname: str, attrs: dict[str, str]) -> None:
        ns, name = _split(qname)
        node = _Node(ns, name, attrs)
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)

    def end(_qname: str) -> None:
        stack.pop()

    def chars(data: str) -> None:
        if stack:
            stack[-1].parts.append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = _refuse_dtd
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise MalformedRequest(str(exc)) from exc
    if not roots:
        raise MalformedRequest("empty document")
    return roots[0]


@dataclass(frozen=True)
class RetrieveRequest:
    object_type: str | None
    properties: tuple[str, ...]
    filter: FilterNode | None
    continue_request: str | None
    query_all_accounts: bool
    client_ids: tuple[int, ...]
    batch_size: int | None
    filter_error: str | None = None  # a filter that could not be read; reported like SFMC, as a status


@dataclass(frozen=True)
class Envelope:
    soap_ns: str
    action: str | None  # from a WS-Addressing <Action> header
    message_id: str | None
    token: str | None
    body_element: str | None  # local name of the Body's first child
    retrieve: RetrieveRequest | None
    describe: tuple[str, ...] | None = None  # DefinitionRequestMsg: the object types asked for, in order


def parse_envelope(body: bytes) -> Envelope:
    root = parse_xml(body)
    if root.name != "Envelope":
        raise MalformedRequest("not a SOAP envelope")
    header = root.child("Header")
    body_node = root.child("Body")
    action = message_id = token = None
    if header is not None:
        for h in header.children:
            if h.name == "Action":
                action = h.text
            elif h.name == "MessageID":
                message_id = h.text
            elif h.name == "fueloauth":
                token = h.text
    first = body_node.children[0] if body_node is not None and body_node.children else None
    retrieve = None
    if first is not None and first.name == "RetrieveRequestMsg":
        req = first.child("RetrieveRequest")
        retrieve = _retrieve_request(req) if req is not None else None
    describe = None
    if first is not None and first.name == "DefinitionRequestMsg":
        requests_node = first.child("DescribeRequests")
        asked = requests_node.all("ObjectDefinitionRequest") if requests_node is not None else []
        describe = tuple(t.text for r in asked if (t := r.child("ObjectType")) is not None)
    return Envelope(
        soap_ns=root.ns or SOAP11_NS,
        action=action,
        message_id=message_id,
        token=token,
        body_element=first.name if first is not None else None,
        retrieve=retrieve,
        describe=describe,
    )


def _retrieve_request(req: _Node) -> RetrieveRequest:
    object_type_node = req.child("ObjectType")
    props: list[str] = []
    for p in req.all("Properties"):
        if p.text and p.text not in props:
            props.append(p.text)
    client_ids = []
    for c in req.all("ClientIDs"):
        for child in c.children:
            if child.name in ("ID", "ClientID") and child.text.isdigit():
                client_ids.append(int(child.text))
    batch_size = None
    options = req.child("Options")
    if options is not None:
        bs = options.child("BatchSize")
        if bs is not None and bs.text.lstrip("-").isdigit():
            batch_size = int(bs.text)
    filter_node, filter_error = None, None
    f = req.child("Filter")
    if f is not None and (f.children or f.attrs):
        try:
            filter_node = _filter(f)
        except FilterError as exc:
            filter_error = str(exc)
    cont = req.child("ContinueRequest")
    qaa = req.child("QueryAllAccounts")
    return RetrieveRequest(
        object_type=object_type_node.text if object_type_node is not None else None,
        properties=tuple(props),
        filter=filter_node,
        continue_request=cont.text or None if cont is not None else None,
        query_all_accounts=qaa is not None and qaa.text.lower() in ("true", "1"),
        client_ids=tuple(client_ids),
        batch_size=batch_size,
        filter_error=filter_error,
    )


def _filter(node: _Node) -> FilterNode:
    xsi_type = (node.attr("type") or "").rpartition(":")[2]
    if xsi_type == "ComplexFilterPart" or (not xsi_type and node.child("LeftOperand") is not None):
        left, right, op = node.child("LeftOperand"), node.child("RightOperand"), node.child("LogicalOperator")
        if left is None or right is None or op is None or op.text.upper() not in ("AND", "OR"):
            raise FilterError("A ComplexFilterPart needs LeftOperand, LogicalOperator (AND or OR) and RightOperand.")
        operands = [_filter(left), _filter(right)]
        extra = node.child("AdditionalOperands")
        if extra is not None:
            operands.extend(_filter(o) for o in extra.all("Operand"))
        return ComplexFilter(op.text.upper(), tuple(operands))
    prop, op = node.child("Property"), node.child("SimpleOperator")
    if prop is None or not prop.text or op is None or not op.text:
        raise FilterError("A SimpleFilterPart needs a Property and a SimpleOperator.")
    values = tuple(v.text for v in node.all("Value")) + tuple(v.text for v in node.all("DateValue"))
    return SimpleFilter(prop.text, op.text, values)


# ---------------------------------------------------------------------------------------------------------
# Response rendering
# ---------------------------------------------------------------------------------------------------------


def escape(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _envelope_open(soap_ns: str) -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{soap_ns}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        f'xmlns:wsa="{WSA_NS}" xmlns:wsse="{WSSE_NS}" xmlns:wsu="{WSU_NS}">'
    )


_ENVELOPE_OPEN = {ns: _envelope_open(ns) for ns in (SOAP11_NS, SOAP12_NS)}


def _header(action: str, relates_to: str | None) -> str:
    now = datetime.now(UTC)
    created = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    expires = (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    relates = relates_to or f"urn:uuid:{uuid.uuid4()}"
    return (
        f"<soap:Header><wsa:Action>{escape(action)}</wsa:Action><wsa:MessageID>urn:uuid:{uuid.uuid4()}"
        f"</wsa:MessageID><wsa:RelatesTo>{escape(relates)}</wsa:RelatesTo>"
        "<wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>"
        f'<wsse:Security><wsu:Timestamp wsu:Id="Timestamp-{uuid.uuid4()}"><wsu:Created>{created}</wsu:Created>'
        f"<wsu:Expires>{expires}</wsu:Expires></wsu:Timestamp></wsse:Security></soap:Header>"
    )


def retrieve_response(
    status: str, request_id: str, results: Sequence[str], *, relates_to: str | None = None, soap_ns: str = SOAP11_NS
) -> bytes:
    """A RetrieveResponseMsg: status, request id, then the already-rendered Results elements (maybe none)."""
    head = (
        _ENVELOPE_OPEN.get(soap_ns, _ENVELOPE_OPEN[SOAP11_NS])
        + _header("RetrieveResponse", relates_to)
        + '<soap:Body><RetrieveResponseMsg xmlns="http://exacttarget.com/wsdl/partnerAPI">'
        + f"<OverallStatus>{escape(status)}</OverallStatus><RequestID>{request_id}</RequestID>"
    )
    return "".join((head, *results, "</RetrieveResponseMsg></soap:Body></soap:Envelope>")).encode("utf-8")


@dataclass(frozen=True)
class PropertyDefinition:
    name: str
    data_type: str
    retrievable: bool
    filterable: bool


def describe_response(
    definitions: Sequence[tuple[str, Sequence[PropertyDefinition]]],
    request_id: str,
    *,
    relates_to: str | None = None,
    soap_ns: str = SOAP11_NS,
) -> bytes:
    """A DefinitionResponseMsg: per object type an ObjectDefinition with its PropertyDefinitions.

    Elements follow the WSDL's ObjectDefinition and PropertyDefinition sequences (APIObject's PartnerKey and
    ObjectID first, nil as SFMC writes them), so the answer validates against etframework.wsdl.
    """
    parts = [
        _ENVELOPE_OPEN.get(soap_ns, _ENVELOPE_OPEN[SOAP11_NS]),
        _header("DescribeResponse", relates_to),
        '<soap:Body><DefinitionResponseMsg xmlns="http://exacttarget.com/wsdl/partnerAPI">',
    ]
    for object_type, properties in definitions:
        known = bool(properties)
        parts.append(
            f"<ObjectDefinition><ObjectType>{escape(object_type)}</ObjectType><Name>{escape(object_type)}</Name>"
            f"<IsCreatable>false</IsCreatable><IsUpdatable>false</IsUpdatable>"
            f"<IsRetrievable>{_bool_text(known)}</IsRetrievable>"
        )
        for prop in properties:
            parts.append(
                '<Properties><PartnerKey xsi:nil="true" /><ObjectID xsi:nil="true" />'
                f"<Name>{escape(prop.name)}</Name><DataType>{prop.data_type}</DataType>"
                f"<IsUpdatable>false</IsUpdatable><IsRetrievable>{_bool_text(prop.retrievable)}</IsRetrievable>"
                f"<IsFilterable>{_bool_text(prop.filterable)}</IsFilterable></Properties>"
            )
        parts.append("</ObjectDefinition>")
    parts.append(f"<RequestID>{request_id}</RequestID></DefinitionResponseMsg></soap:Body></soap:Envelope>")
    return "".join(parts).encode("utf-8")


def fault_response(
    faultcode: str,
    faultstring: str,
    *,
    actor: str | None = None,
    detail: str | None = None,
    relates_to: str | None = None,
    soap_ns: str = SOAP11_NS,
) -> bytes:
    """A soap:Fault. ``faultcode`` is raw XML content of the faultcode element's start and text (see callers)."""
    parts = [
        _ENVELOPE_OPEN.get(soap_ns, _ENVELOPE_OPEN[SOAP11_NS]),
        _header("http://schemas.xmlsoap.org/ws/2004/08/addressing/fault", relates_to),
        f"<soap:Body><soap:Fault>{faultcode}<faultstring>{escape(faultstring)}</faultstring>",
    ]
    if actor:
        parts.append(f"<faultactor>{escape(actor)}</faultactor>")
    if detail:
        parts.append(f"<detail>{detail}</detail>")
    parts.append("</soap:Fault></soap:Body></soap:Envelope>")
    return "".join(parts).encode("utf-8")


def security_fault(text: str, *, actor: str, relates_to: str | None = None, soap_ns: str = SOAP11_NS) -> bytes:
    """``Token Expired`` / ``Login failed``: a WS-Security fault, as SFMC sends for a bad fueloauth token."""
    code = f'<faultcode xmlns:q0="{WSSE_NS}">q0:Security</faultcode>'
    return fault_response(code, text, actor=actor, relates_to=relates_to, soap_ns=soap_ns)


def client_fault(text: str, *, relates_to: str | None = None, soap_ns: str = SOAP11_NS) -> bytes:
    return fault_response("<faultcode>soap:Client</faultcode>", text, relates_to=relates_to, soap_ns=soap_ns)


def server_fault(text: str, code: int, *, relates_to: str | None = None, soap_ns: str = SOAP11_NS) -> bytes:
    """A server fault with the ETFramework apifault detail (e.g. ``Rate Limited``, code 17)."""
    detail = (
        f'<apifault xmlns="urn:fault.partner.exacttarget.com"><Code>{code}</Code>'
        f"<Message>{escape(text)}</Message></apifault>"
    )
    return fault_response(
        "<faultcode>soap:Server</faultcode>", text, detail=detail, relates_to=relates_to, soap_ns=soap_ns
    )


# What SFMC answers when a Retrieve's query outlasts its server-side timeout (reported by users of FuelSDK and the
# Singer tap for dense event and ListSend retrieves): a SOAP server fault without an apifault code.
TIMEOUT_MESSAGE = (
    "Server was unable to process request. ---> Timeout expired.  The timeout period elapsed prior to completion "
    "of the operation or the server is not responding."
)


def server_timeout_fault(*, relates_to: str | None = None, soap_ns: str = SOAP11_NS) -> bytes:
    return fault_response("<faultcode>soap:Server</faultcode>", TIMEOUT_MESSAGE, relates_to=relates_to, soap_ns=soap_ns)


def _pairs_text(tag: str, items: Sequence[tuple[str, str]] | None) -> str:
    return "".join(
        f"<{tag}><Name>{escape(n)}</Name>" + (f"<Value>{escape(v)}</Value>" if v else "<Value />") + f"</{tag}>"
        for n, v in items or ()
    )


def _bool_text(v: object) -> str:
    return "true" if v else "false"


def _str_text(v: object) -> str:
    return escape(v if isinstance(v, str) else str(v))


_TEXT_OF_KIND = {DATE: "_date", BOOL: "_bool", INT: "str"}


# Members of WSDL type Attribute (Name, then a required Value) that the sandbox renders by name only.
ATTRIBUTE_WRAPPERS = frozenset({"SendableSubscriberField"})


def _repeated_text(wrap: str, leaf: str, items: Sequence[object] | None) -> str:
    return "".join(f"<{wrap}><{leaf}>{_str_text(v)}</{leaf}></{wrap}>" for v in items or ())


def _addresses_text(items: Sequence[tuple[str, str]] | None) -> str:
    inner = "".join(
        f"<Address><AddressType>{escape(kind)}</AddressType><Address>{escape(address)}</Address></Address>"
        for kind, address in items or ()
    )
    return f"<Addresses>{inner}</Addresses>"


def compile_renderer(type_name: str, props: Sequence[Prop]) -> Callable[[dict], str]:
    """Row -> ``<Results xsi:type="...">...</Results>`` with the given properties, in the order given.

    Neighbouring properties of one nested object (``PrimarySMSAddress.AddressType``, ``PrimarySMSAddress.Address``)
    share one parent element, as the WSDL's types require (the parent occurs at most once). A repeated property
    (``ContentAreas.ID``) renders one parent element per value.

    A property without a value is `xsi:nil` when the WSDL declares it nillable, and left out otherwise (with its
    parent, when it is the parent's only property here).

    The function is generated once per (object type, properties), the way ``dataclasses`` builds methods:
    one expression per property, constant tags pre-rendered, no per-property call. Rendering speed matters
    because benchmarks must measure the connector, not the sandbox.
    """
    seen: set[tuple[str, ...]] = set()
    consts: dict[str, object] = {
        "_date": server_iso,
        "_bool": _bool_text,
        "_str": _str_text,
        "_pairs": _pairs_text,
        "_repeated": _repeated_text,
        "_addresses": _addresses_text,
        "ABSENT": ABSENT,
    }
    lines: list[str] = []
    open_parents: tuple[str, ...] = ()

    def close_to(parents: tuple[str, ...]) -> None:
        nonlocal open_parents
        if open_parents != parents:
            if open_parents:
                lines.append(repr("".join(f"</{e}>" for e in reversed(open_parents))))
            if parents:
                lines.append(repr("".join(f"<{e}>" for e in parents)))
            open_parents = parents

    for n, p in enumerate(props):
        if p.path in seen:
            continue
        seen.add(p.path)
        consts[f"K{n}"] = p.row_key
        if p.kind == PAIRS:
            close_to(())
            consts[f"T{n}"] = p.path[0]
            lines.append(f"_pairs(T{n}, row.get(K{n}))")
            continue
        if p.kind == ADDRESSES:
            close_to(())
            lines.append(f"_addresses(row.get(K{n}))")
            continue
        if p.kind == REPEATED_INT:
            close_to(())
            consts[f"W{n}"], consts[f"L{n}"] = p.path[0], p.path[-1]
            lines.append(f"_repeated(W{n}, L{n}, row.get(K{n}))")
            continue
        leaf, parents = p.path[-1], p.path[:-1]
        # No value: `xsi:nil` only where the WSDL declares the element nillable (PartnerKey, ObjectID...); SFMC
        # leaves other elements out (an empty element would not be a valid int, date or enumeration).
        nil = f'<{leaf} xsi:nil="true" />' if leaf in NILLABLE and not parents else ""
        after = "<Value />" if parents and parents[0] in ATTRIBUTE_WRAPPERS else ""
        if parents and sum(q.path[:-1] == parents for q in props) == 1:
            # The parent's only property: render the parent with it, so that no value leaves out both.
            close_to(())
            wrap_open = "".join(f"<{e}>" for e in parents)
            wrap_close = after + "".join(f"</{e}>" for e in reversed(parents))
            consts[f"N{n}"] = nil
            consts[f"E{n}"] = f"{wrap_open}<{leaf} />{wrap_close}"
            consts[f"O{n}"] = f"{wrap_open}<{leaf}>"
            consts[f"C{n}"] = f"</{leaf}>{wrap_close}"
        else:
            close_to(parents)
            consts[f"N{n}"] = nil
            consts[f"E{n}"] = f"<{leaf} />{after}"
            consts[f"O{n}"] = f"<{leaf}>"
            consts[f"C{n}"] = f"</{leaf}>{after}"
        text = _TEXT_OF_KIND.get(p.kind, "_str")
        lines.append(
            f'(N{n} if (v{n} := row.get(K{n})) is None else E{n} if v{n} == "" else "" if v{n} is ABSENT '
            f"else O{n} + {text}(v{n}) + C{n})"
        )
    close_to(())
    consts["OPEN"] = f'<Results xsi:type="{escape(type_name)}">'
    body = ",\n        ".join(["OPEN", *lines, '"</Results>"'])
    source = f"def render(row):\n    return ''.join((\n        {body},\n    ))\n"
    namespace: dict[str, object] = dict(consts)
    exec(compile(source, f"<renderer {type_name}>", "exec"), namespace)  # source built above from constants only
    return namespace["render"]  # type: ignore[return-value]


def compile_de_renderer(field_names: Sequence[str]) -> Callable[[dict], str]:
    """Data extension row -> SFMC's DataExtensionObject result: Properties/Property Name-Value pairs."""
    names = tuple((n, f"<Property><Name>{escape(n)}</Name>") for n in field_names)
    opening = (
        '<Results xsi:type="DataExtensionObject"><PartnerKey xsi:nil="true" /><ObjectID xsi:nil="true" />'
        "<Type>DataExtensionObject</Type><Properties>"
    )

    def render(row: dict) -> str:
        out = [opening]
        for name, head in names:
            v = row.get(name)
            out.append(head + (f"<Value>{escape(v)}</Value></Property>" if v else "<Value /></Property>"))
        out.append("</Properties></Results>")
        return "".join(out)

    return render
