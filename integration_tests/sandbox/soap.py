"""The sandbox's SOAP API (Retrieve) and the REST rowset of data extensions, behaving like SFMC.

The HTTP server owns sockets, tokens and fault injection; it hands request bytes here and sends back what
``SoapService.handle`` / ``handle_rowset`` return: ``(status, headers, body)``.

What this module decides:
- Dispatch like SFMC's ASMX endpoint: the action comes from the ``SOAPAction`` header (quoted or not), a
  WS-Addressing ``<Action>`` header, or SOAP 1.2's ``action`` content-type parameter; anything but Retrieve is
  a ``soap:Client`` fault. Then the ``fueloauth`` token: expired -> ``Token Expired``, missing or unknown ->
  ``Login failed`` (HTTP 500 WS-Security faults).
- Validation in SFMC's order, each failure an ``Error: ...`` OverallStatus with a RequestID and no Results:
  object type, scope, properties, filter.
- Paging: a query is planned once (index range from the ordering property, residual predicate, visible
  business units) and kept under the RequestID of the page that says ``MoreDataAvailable``. Serving a page
  does not consume its RequestID, so a client retrying a lost page gets the same page again; each chain
  keeps only its two latest ids, finished chains expire after a minute, everything after ``STATE_TTL_S``,
  and the store never holds more than ``MAX_STATES`` entries.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from . import soap_xml
from .soap_accounts import ALL_MIDS, MAIN_MID
from .soap_data import SoapData, build_soap_data
from .soap_filters import (
    VALUE_TYPE_OF_KIND,
    ComplexFilter,
    FieldRef,
    FilterError,
    FilterNode,
    Predicate,
    SimpleFilter,
    compile_filter,
    order_bounds,
)
from .soap_generators.data_extensions import SHARED, DataExtension
from .soap_generators.rows import Collection
from .soap_objects import BOOL, DATE, INT, PAIRS, SCHEMAS, STR, ObjectSchema

__all__ = ["SoapData", "SoapService", "build_soap_data"]

MAX_PAGE_SIZE = 2500
MAX_STATES = 2048
STATE_TTL_S = 30 * 60
FINISHED_TTL_S = 60
DATA_EXTENSION_OBJECT = "DataExtensionObject"

# Wording of statuses no public source quotes verbatim (the rest is from PROTOCOL.md):
# - a missing scope: FuelSDK-based clients test for the "Error: API Permission Failed" prefix.
PERMISSION_ERROR = "Error: API Permission Failed - Insufficient privileges to retrieve {object_type}."
# - a ContinueRequest whose RequestID is unknown or expired: no recorded SFMC answer was found, so the sandbox
#   answers like every other refused retrieve, an Error status naming the request id, with a fresh RequestID.
CONTINUE_ERROR = "Error: Unable to continue the retrieve: RequestID {request_id} is unknown or has expired."
# - a retrieve without any Properties.
NO_PROPERTIES_ERROR = "Error: No Properties were specified for the {object_type} retrieve."

Response = tuple[int, dict[str, str], bytes]
TokenState = Callable[[str], str]
HasScope = Callable[[str, str], bool]


# ---------------------------------------------------------------------------------------------------------
# Query plans and continuation state
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """A planned retrieve: rows lo..hi of a collection that pass the unit and filter checks, rendered."""

    object_type: str
    scopes: tuple[tuple[str, ...], ...]
    collection: Collection
    predicate: Predicate | None
    mids: frozenset[int] | None  # None: rows carry no business unit (data extension rows)
    lo: int
    hi: int
    page_size: int
    render: Callable[[dict], str]

    def page(self, cursor: int) -> tuple[list[str], int | None]:
        """Results from ``cursor`` on; the cursor of the next page, or None when this is the last one."""
        coll, pred, mids, render, size = self.collection, self.predicate, self.mids, self.render, self.page_size
        out: list[str] = []
        i = max(cursor, self.lo)
        hi = self.hi
        while i < hi:
            row = coll.row(i)
            i += 1
            if mids is not None and row["Client.ID"] not in mids and not row.get(SHARED):
                continue
            if pred is not None and not pred(row):
                continue
            if len(out) == size:
                return out, i - 1
            out.append(render(row))
        return out, None


@dataclass
class _State:
    query: Query
    cursor: int
    previous: str | None
    expires: float


class ContinuationStore:
    """RequestID -> where the next page starts. Bounded in count and age; safe across threads."""

    def __init__(self, *, max_entries: int = MAX_STATES, ttl_s: float = STATE_TTL_S, clock=time.monotonic):
        self._states: OrderedDict[str, _State] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries
        self._ttl = ttl_s
        self._clock = clock

    def __len__(self) -> int:
        with self._lock:
            return len(self._states)

    def get(self, request_id: str) -> _State | None:
        now = self._clock()
        with self._lock:
            state = self._states.get(request_id)
            if state is None or state.expires < now:
                self._states.pop(request_id, None)
                return None
            return state

    def add(self, query: Query, cursor: int, previous: str | None) -> str:
        request_id = str(uuid.uuid4())
        now = self._clock()
        with self._lock:
            if previous is not None:
                # the chain moved on: the page before `previous` can no longer be asked for again
                prev = self._states.get(previous)
                if prev is not None and prev.previous is not None:
                    self._states.pop(prev.previous, None)
            self._states[request_id] = _State(query, cursor, previous, now + self._ttl)
            self._evict(now)
        return request_id

    def finish(self, request_id: str) -> None:
        """The chain's last page was served: keep its id briefly for a retry, drop the one before it."""
        now = self._clock()
        with self._lock:
            state = self._states.get(request_id)
            if state is None:
                return
            if state.previous is not None:
                self._states.pop(state.previous, None)
            state.expires = min(state.expires, now + FINISHED_TTL_S)

    def _evict(self, now: float) -> None:
        while len(self._states) > self._max:
            self._states.popitem(last=False)
        for rid in [rid for rid, s in self._states.items() if s.expires < now][:64]:
            del self._states[rid]


# ---------------------------------------------------------------------------------------------------------
# The SOAP service
# ---------------------------------------------------------------------------------------------------------

_OBJECT_TYPE_RE = re.compile(rb"<(?:[\w.-]+:)?ObjectType\s*>\s*([^<]*?)\s*</", re.S)
_CONTINUE_RE = re.compile(rb"<(?:[\w.-]+:)?ContinueRequest\s*>\s*([^<]*?)\s*</", re.S)
_CT_ACTION_RE = re.compile(r'action\s*=\s*"?([^";]+)"?', re.I)


class SoapService:
    """SFMC's ``Service.asmx`` for Retrieve, over a SoapData. Thread-safe: the data is immutable."""

    def __init__(
        self,
        data: SoapData,
        *,
        store: ContinuationStore | None = None,
        unretrievable: Mapping[str, Sequence[str]] | None = None,
    ):
        """`unretrievable`: per object type, members this account cannot retrieve (an edition or permission
        difference): Describe marks them IsRetrievable false and a Retrieve naming them fails."""
        self.data = data
        self.unretrievable = {k: tuple(v) for k, v in (unretrievable or {}).items()}
        self.store = store if store is not None else ContinuationStore()
        self.rowsets = RowsetService(data)
        # Dense retrieves time out: a new Retrieve matching more records than this gets SFMC's timeout fault.
        self.timeout_above: int | None = None

    # --- entry points -------------------------------------------------------------------------------------

    def object_type_of(self, body: bytes) -> str | None:
        """The retrieved object type, for request statistics; a continuation reports its query's type."""
        m = _OBJECT_TYPE_RE.search(body)
        if m and m.group(1):
            return m.group(1).decode("utf-8", "replace")
        c = _CONTINUE_RE.search(body)
        if c and c.group(1):
            state = self.store.get(c.group(1).decode("utf-8", "replace"))
            return state.query.object_type if state else None
        return None

    def handle(
        self,
        body: bytes,
        headers: Mapping[str, str],
        *,
        token_state: TokenState,
        has_scope: HasScope,
        expire_request_ids: bool = False,
        token_mid: Callable[[str], int | None] = lambda token: MAIN_MID,
    ) -> Response:
        h = {k.lower(): v for k, v in headers.items()}
        try:
            env = soap_xml.parse_envelope(body)
        except soap_xml.MalformedRequest:
            return self._fault(soap_xml.client_fault("Server was unable to read request."), soap_xml.SOAP11_NS)
        ns, relates = env.soap_ns, env.message_id
        action = _action(h, env)
        if action == "Describe" and env.describe is not None:
            return self._describe(env, token_state, actor=f"https://{h.get('host', 'localhost')}/Service.asmx")
        if action != "Retrieve":
            text = f"Server did not recognize the value of HTTP Header SOAPAction: {action or ''}."
            return self._fault(soap_xml.client_fault(text, relates_to=relates, soap_ns=ns), ns)
        actor = f"https://{h.get('host', 'localhost')}/Service.asmx"
        state = token_state(env.token) if env.token else "invalid"
        if state != "ok":
            text = "Token Expired" if state == "expired" else "Login failed"
            return self._fault(soap_xml.security_fault(text, actor=actor, relates_to=relates, soap_ns=ns), ns)
        req = env.retrieve
        if req is None:
            text = f"Server did not recognize the value of HTTP Header SOAPAction: {action}."
            return self._fault(soap_xml.client_fault(text, relates_to=relates, soap_ns=ns), ns)
        has = lambda scope: has_scope(env.token or "", scope)  # noqa: E731
        req = dataclasses.replace(req, token_mid=token_mid(env.token or ""))
        if req.continue_request:
            status, request_id, results = self._continue(req.continue_request, has, expire_request_ids)
        elif self._times_out(req, has):
            return self._fault(soap_xml.server_timeout_fault(relates_to=relates, soap_ns=ns), ns)
        else:
            status, request_id, results = self._retrieve(req, has)
        body_out = soap_xml.retrieve_response(status, request_id, results, relates_to=relates, soap_ns=ns)
        return 200, _content_type(ns), body_out

    def _describe(self, env: soap_xml.Envelope, token_state: TokenState, *, actor: str) -> Response:
        """Describe: each asked type's members from the object model; IsRetrievable false for the ones a
        Retrieve refuses (the type's own, and those this account was started without). Unknown types come back
        with no properties and IsRetrievable false."""
        ns = env.soap_ns
        state = token_state(env.token) if env.token else "invalid"
        if state != "ok":
            text = "Token Expired" if state == "expired" else "Login failed"
            return self._fault(soap_xml.security_fault(text, actor=actor, relates_to=env.message_id, soap_ns=ns), ns)
        definitions = [(object_type, self.property_definitions(object_type)) for object_type in env.describe or ()]
        body = soap_xml.describe_response(definitions, str(uuid.uuid4()), relates_to=env.message_id, soap_ns=ns)
        return 200, _content_type(ns), body

    def property_definitions(self, object_type: str) -> list[soap_xml.PropertyDefinition]:
        schema = SCHEMAS.get(object_type)
        if schema is None:
            return []
        definitions = [
            soap_xml.PropertyDefinition(
                p.name,
                _DATA_TYPES.get(p.kind, "APIObject"),  # a list or object member (Addresses, ContentAreas.ID...)
                self.retrievable(object_type, p.name),
                p.kind in _DATA_TYPES and p.kind != PAIRS,
            )
            for p in schema.props
        ]
        # Members the type has but cannot retrieve (e.g. Subscriber.ModifiedDate) are listed too.
        definitions += [soap_xml.PropertyDefinition(n, "DateTime", False, True) for n in schema.not_retrievable]
        return definitions

    def retrievable(self, object_type: str, name: str) -> bool:
        schema = SCHEMAS.get(object_type)
        return (
            schema is not None and schema.prop(name) is not None and name not in self.unretrievable.get(object_type, ())
        )

    def handle_rowset(
        self,
        key: str,
        query: Mapping[str, str],
        *,
        token: str | None,
        token_state: TokenState,
        has_scope: HasScope,
        token_mid: int | None = None,
    ) -> Response:
        return self.rowsets.handle(
            key, query, token=token, token_state=token_state, has_scope=has_scope, token_mid=token_mid
        )

    # --- retrieve -----------------------------------------------------------------------------------------

    def _retrieve(self, req: soap_xml.RetrieveRequest, has: Callable[[str], bool]) -> tuple[str, str, list[str]]:
        try:
            query = self._plan(req, has)
        except _Refused as refused:
            return refused.status, str(uuid.uuid4()), []
        return self._serve(query, query.lo, None)

    def _times_out(self, req: soap_xml.RetrieveRequest, has: Callable[[str], bool]) -> bool:
        """Whether this Retrieve matches more than `timeout_above` records (SFMC's query would time out)."""
        if self.timeout_above is None:
            return False
        try:
            query = self._plan(req, has)
        except _Refused:
            return False
        matched, cursor = 0, query.lo
        while cursor is not None and matched <= self.timeout_above:
            results, cursor = query.page(cursor)
            matched += len(results)
        return matched > self.timeout_above

    def _continue(self, request_id: str, has: Callable[[str], bool], expired: bool) -> tuple[str, str, list[str]]:
        state = None if expired else self.store.get(request_id)
        if state is None:
            return CONTINUE_ERROR.format(request_id=request_id), str(uuid.uuid4()), []
        if not _scopes_ok(state.query.scopes, has):
            return PERMISSION_ERROR.format(object_type=state.query.object_type), str(uuid.uuid4()), []
        return self._serve(state.query, state.cursor, request_id)

    def _serve(self, query: Query, cursor: int, previous: str | None) -> tuple[str, str, list[str]]:
        results, next_cursor = query.page(cursor)
        if next_cursor is None:
            if previous is not None:
                self.store.finish(previous)
            return "OK", str(uuid.uuid4()), results
        return "MoreDataAvailable", self.store.add(query, next_cursor, previous), results

    def _plan(self, req: soap_xml.RetrieveRequest, has: Callable[[str], bool]) -> Query:
        object_type = req.object_type or ""
        if object_type.startswith(DATA_EXTENSION_OBJECT + "["):
            return self._plan_rows(req, object_type, has)
        schema = SCHEMAS.get(object_type)
        collection = self.data.collection(object_type)
        if schema is None or collection is None:
            raise _Refused(_unknown_object(object_type))
        if not _scopes_ok(schema.scopes, has):
            raise _Refused(PERMISSION_ERROR.format(object_type=object_type))
        if not req.properties:
            raise _Refused(NO_PROPERTIES_ERROR.format(object_type=object_type))
        unknown = [p for p in req.properties if not self.retrievable(object_type, p)]
        if unknown:
            raise _Refused(_property_error(unknown, object_type))
        order = {p.name: n for n, p in enumerate(schema.props)}
        props = sorted((schema.prop(p) for p in req.properties), key=lambda p: order[p.name])  # type: ignore[union-attr]
        render = soap_xml.compile_renderer(object_type, props)  # type: ignore[arg-type]
        resolve = _schema_resolver(schema)
        lo, hi, predicate = _plan_filter(req, collection, resolve, object_type, allow_like=True)
        return Query(
            object_type,
            schema.scopes,
            collection,
            predicate,
            _visible_units(req),
            lo,
            hi,
            _page_size(req.batch_size),
            render,
        )

    def _plan_rows(self, req: soap_xml.RetrieveRequest, object_type: str, has: Callable[[str], bool]) -> Query:
        scopes = SCHEMAS["DataExtension"].scopes
        if not object_type.endswith("]"):
            raise _Refused(_unknown_object(object_type))
        # Rows are found by key within the token's unit: its own data extension of that key, else the parent's
        # shared one (`SoapData.data_extension`).
        own = req.token_mid if req.token_mid is not None else MAIN_MID
        de = self.data.data_extension(object_type[len(DATA_EXTENSION_OBJECT) + 1 : -1], own)
        if de is None:
            raise _Refused(_unknown_object(object_type))
        if not _scopes_ok(scopes, has):
            raise _Refused(PERMISSION_ERROR.format(object_type=object_type))
        if not req.properties:
            raise _Refused(NO_PROPERTIES_ERROR.format(object_type=object_type))
        fields = [de.field(p) for p in req.properties]
        unknown = [p for p, f in zip(req.properties, fields, strict=True) if f is None]
        if unknown:
            raise _Refused(_property_error(unknown, DATA_EXTENSION_OBJECT))
        names = list(dict.fromkeys(f.name for f in fields if f is not None))
        lo, hi, predicate = _plan_filter(req, de.rows, de.resolve, DATA_EXTENSION_OBJECT, allow_like=False)
        render = soap_xml.compile_de_renderer(names)
        return Query(object_type, scopes, de.rows, predicate, None, lo, hi, _page_size(req.batch_size), render)

    @staticmethod
    def _fault(body: bytes, ns: str) -> Response:
        return 500, _content_type(ns), body


class _Refused(Exception):
    def __init__(self, status: str):
        super().__init__(status)
        self.status = status


_DATA_TYPES = {INT: "Int", STR: "String", BOOL: "Boolean", DATE: "DateTime", PAIRS: "APIProperty"}


def _action(headers: dict[str, str], env: soap_xml.Envelope) -> str | None:
    header = headers.get("soapaction")
    value = header.strip().strip('"').strip() if header is not None else ""
    if not value and env.action:
        value = env.action.strip()
    if not value:
        m = _CT_ACTION_RE.search(headers.get("content-type", ""))
        value = m.group(1).strip() if m else ""
    # full action URIs end with the operation name
    return value.rstrip("/").rpartition("/")[2] if value else None


def _content_type(ns: str) -> dict[str, str]:
    if ns == soap_xml.SOAP12_NS:
        return {"Content-Type": "application/soap+xml; charset=utf-8"}
    return {"Content-Type": "text/xml; charset=utf-8"}


def _unknown_object(object_type: str) -> str:
    return (
        f"Error: Unable to find a handler for object type: {object_type}. "
        "Object types are case-sensitive, check spelling."
    )


def _property_error(names: list[str], object_type: str) -> str:
    return f"Error: The Request Property(s) {', '.join(names)} do not match with the fields of {object_type} retrieve"


def _scopes_ok(groups: tuple[tuple[str, ...], ...], has: Callable[[str], bool]) -> bool:
    return all(any(has(scope) for scope in group) for group in groups)


def _schema_resolver(schema: ObjectSchema) -> Callable[[str], FieldRef | None]:
    def resolve(name: str) -> FieldRef | None:
        p = schema.prop(name)
        if p is None or p.kind == PAIRS:
            return None
        return FieldRef(p.row_key, VALUE_TYPE_OF_KIND[p.kind])

    return resolve


def _visible_units(req: soap_xml.RetrieveRequest) -> frozenset[int]:
    """The units a retrieve reads: the token's own; from the parent's token, every unit with QueryAllAccounts
    (which overrides ClientIDs) or the named ones with ClientIDs (PROTOCOL.md section 7). A child's token reaches
    its own unit only."""
    own = req.token_mid if req.token_mid is not None else MAIN_MID
    if own != MAIN_MID:
        return frozenset((own,))
    if req.query_all_accounts:
        return frozenset(ALL_MIDS)
    if req.client_ids:
        return frozenset(req.client_ids) & frozenset(ALL_MIDS)
    return frozenset((own,))


def _page_size(batch_size: int | None) -> int:
    if batch_size is None or batch_size <= 0:
        return MAX_PAGE_SIZE
    return min(batch_size, MAX_PAGE_SIZE)


def _and_terms(node: FilterNode) -> list[FilterNode]:
    if isinstance(node, ComplexFilter) and node.operator == "AND":
        return [t for operand in node.operands for t in _and_terms(operand)]
    return [node]


def _plan_filter(
    req: soap_xml.RetrieveRequest,
    collection: Collection,
    resolve: Callable[[str], FieldRef | None],
    object_name: str,
    *,
    allow_like: bool,
) -> tuple[int, int, Predicate | None]:
    if req.filter_error:
        raise _Refused(f"Error: {req.filter_error}")
    if req.filter is None:
        return 0, collection.size, None
    try:
        lo, hi, predicate = plan_filter(req.filter, collection, resolve, object_name, allow_like=allow_like)
    except FilterError as exc:
        raise _Refused(f"Error: {exc}") from exc
    return lo, hi, predicate


def plan_filter(
    node: FilterNode,
    collection: Collection,
    resolve: Callable[[str], FieldRef | None],
    object_name: str,
    *,
    allow_like: bool = True,
) -> tuple[int, int, Predicate | None]:
    """Filter -> (index range, residual predicate). Range terms on the ordering property become a binary
    search; whatever else remains is checked row by row."""
    compile_filter(node, resolve, object_name=object_name, allow_like=allow_like)  # validates the whole tree
    lo, hi = 0, collection.size
    residual: list[FilterNode] = []
    for term in _and_terms(node):
        ref = resolve(term.prop) if isinstance(term, SimpleFilter) else None
        bounds = None
        if ref is not None and collection.order_prop and ref.row_key == collection.order_prop:
            bounds = order_bounds(term, ref.value_type)  # type: ignore[arg-type]
        if bounds is None:
            residual.append(term)
            continue
        low, low_incl, high, high_incl = bounds
        if low is not None:
            lo = max(lo, collection.first_index(low, after=not low_incl))
        if high is not None:
            hi = min(hi, collection.first_index(high, after=high_incl))
    if not residual:
        return lo, max(lo, hi), None
    rest = residual[0] if len(residual) == 1 else ComplexFilter("AND", tuple(residual))
    return lo, max(lo, hi), compile_filter(rest, resolve, object_name=object_name, allow_like=allow_like)


# ---------------------------------------------------------------------------------------------------------
# REST: GET /data/v1/customobjectdata/key/{key}/rowset
# ---------------------------------------------------------------------------------------------------------

REST_DOCS = "https://developer.salesforce.com/docs/atlas.en-us.mc-apis.meta/mc-apis/error-handling.htm"
_REST_OPERATORS = {
    "eq": "equals",
    "ne": "notEquals",
    "neq": "notEquals",
    "gt": "greaterThan",
    "lt": "lessThan",
    "ge": "greaterThanOrEqual",
    "gte": "greaterThanOrEqual",
    "le": "lessThanOrEqual",
    "lte": "lessThanOrEqual",
    "like": "like",
}
_TOKEN_RE = re.compile(r"\s*(?:(\()|(\))|'((?:[^']|'')*)'|([\w.\-:+]+))", re.UNICODE)


class RestFilterError(ValueError):
    pass


def parse_rest_filter(text: str) -> FilterNode:
    """``$filter`` -> filter tree. Supported: ``Field op value`` with op eq, ne/neq, gt, lt, ge/gte, le/lte,
    like; values quoted ('' escapes a quote) or bare (numbers, true/false); ``and``/``or`` (``and`` binds
    tighter) and parentheses. Field names are single words (no spaces)."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise RestFilterError(f"Invalid filter near: {text[pos:]!r}")
        pos = m.end()
        if m.group(1):
            tokens.append(("(", "("))
        elif m.group(2):
            tokens.append((")", ")"))
        elif m.group(3) is not None:
            tokens.append(("str", m.group(3).replace("''", "'")))
        else:
            tokens.append(("word", m.group(4)))
    node, rest = _parse_or(tokens)
    if rest:
        raise RestFilterError(f"Invalid filter: unexpected {rest[0][1]!r}")
    return node


def _parse_or(tokens):
    left, tokens = _parse_and(tokens)
    operands = [left]
    while tokens and tokens[0][0] == "word" and tokens[0][1].lower() == "or":
        right, tokens = _parse_and(tokens[1:])
        operands.append(right)
    return (operands[0] if len(operands) == 1 else ComplexFilter("OR", tuple(operands))), tokens


def _parse_and(tokens):
    left, tokens = _parse_factor(tokens)
    operands = [left]
    while tokens and tokens[0][0] == "word" and tokens[0][1].lower() == "and":
        right, tokens = _parse_factor(tokens[1:])
        operands.append(right)
    return (operands[0] if len(operands) == 1 else ComplexFilter("AND", tuple(operands))), tokens


def _parse_factor(tokens):
    if not tokens:
        raise RestFilterError("Invalid filter: unexpected end")
    if tokens[0][0] == "(":
        node, tokens = _parse_or(tokens[1:])
        if not tokens or tokens[0][0] != ")":
            raise RestFilterError("Invalid filter: missing ')'")
        return node, tokens[1:]
    if len(tokens) < 3 or tokens[0][0] != "word" or tokens[1][0] != "word" or tokens[2][0] not in ("str", "word"):
        raise RestFilterError("Invalid filter: expected 'Field operator value'")
    op = _REST_OPERATORS.get(tokens[1][1].lower())
    if op is None:
        raise RestFilterError(f"Invalid filter operator: {tokens[1][1]}")
    return SimpleFilter(tokens[0][1], op, (tokens[2][1],)), tokens[3:]


class RowsetService:
    """The REST rowset: pages of ``{"keys": {...}, "values": {...}}``, names lower-cased, values strings.

    The rows matching a filter or order are computed once per (key, $filter, $orderBy) and kept in a small
    LRU cache, so paging through a filtered data extension does not rescan it for every page."""

    CACHE_ENTRIES = 8

    def __init__(self, data: SoapData):
        self.data = data
        self._cache: OrderedDict[tuple[str, str, str], range | list[int]] = OrderedDict()
        self._lock = threading.Lock()

    def handle(
        self,
        key: str,
        query: Mapping[str, str],
        *,
        token: str | None,
        token_state: TokenState,
        has_scope: HasScope,
        token_mid: int | None = None,
    ) -> Response:
        if not token or token_state(token) != "ok":
            return _json(401, {"documentation": REST_DOCS, "errorcode": 0, "message": "Not Authorized"})
        if not has_scope(token, "data_extensions_read"):
            return _json(
                403,
                {
                    "documentation": REST_DOCS,
                    "errorcode": 20002,
                    "message": "Insufficient privileges to complete this action.",
                },
            )
        de = self.data.data_extension(key, token_mid if token_mid is not None else MAIN_MID)
        if de is None or de.key.casefold() != key.strip().casefold():  # the rowset is by key only
            return _json(
                404,
                {"documentation": "", "errorcode": 10000, "message": f"Data extension with key '{key}' was not found."},
            )
        params = {k.lower(): v for k, v in query.items()}
        try:
            page = int(params.get("$page", "1"))
            page_size = min(int(params.get("$pagesize", str(MAX_PAGE_SIZE))), MAX_PAGE_SIZE)
            if page < 1 or page_size < 1:
                raise ValueError
        except ValueError:
            return _bad_request("$page and $pageSize must be positive integers.")
        try:
            indices = self._cached_matching(de, params.get("$filter") or "", params.get("$orderby") or "")
        except (RestFilterError, FilterError) as exc:
            return _bad_request(str(exc))
        start = (page - 1) * page_size
        chosen = indices[start : start + page_size]
        items = [self._item(de, de.rows.row(i)) for i in chosen]
        base = f"/data/v1/customobjectdata/key/{quote(de.key)}/rowset?"
        extra = "".join(f"&{k}={quote(params[k])}" for k in ("$filter", "$orderby") if params.get(k))
        links = {"self": f"{base}$page={page}&$pageSize={page_size}{extra}"}
        if start + page_size < len(indices):
            links["next"] = f"{base}$page={page + 1}&$pageSize={page_size}{extra}"
        expires = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=20)
        return _json(
            200,
            {
                "links": links,
                "requestToken": str(uuid.uuid4()),
                "tokenExpireDateUtc": expires.isoformat(timespec="milliseconds"),
                "customObjectId": de.object_id,
                "customObjectKey": de.key,
                "pageSize": page_size,
                "page": page,
                "count": len(indices),
                "top": 0,
                "items": items,
            },
        )

    def _cached_matching(self, de: DataExtension, filter_text: str, order_text: str) -> range | list[int]:
        key = (de.object_id, filter_text, order_text)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        indices = self._matching(de, filter_text, order_text)
        with self._lock:
            self._cache[key] = indices
            while len(self._cache) > self.CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return indices

    @staticmethod
    def _matching(de: DataExtension, filter_text: str, order_text: str) -> range | list[int]:
        rows = de.rows
        lo, hi, predicate = 0, rows.size, None
        if filter_text:
            lo, hi, predicate = plan_filter(parse_rest_filter(filter_text), rows, de.resolve, DATA_EXTENSION_OBJECT)
        indices: range | list[int] = (
            range(lo, hi) if predicate is None else [i for i in range(lo, hi) if predicate(rows.row(i))]
        )
        if not order_text:
            return indices
        order = []
        for part in order_text.split(","):
            words = part.split()
            if not words:
                continue
            name = " ".join(w for w in words if w.lower() not in ("asc", "desc"))
            ref = de.resolve(name)
            if ref is None:
                raise RestFilterError(f"Invalid $orderBy field: {name}")
            order.append((ref, words[-1].lower() == "desc"))
        if len(order) == 1 and order[0][0].row_key == rows.order_prop:
            # the ordering field is already in index order
            return indices[::-1] if order[0][1] else indices
        keyed = list(indices)
        for ref, desc in reversed(order):  # stable sorts, least significant key first
            conv = ref.value_type.from_row
            keyed.sort(key=lambda i, c=conv, k=ref.row_key: _sort_key(c(rows.row(i).get(k))), reverse=desc)
        return keyed

    @staticmethod
    def _item(de: DataExtension, row: dict) -> dict:
        keys, values = {}, {}
        for f in de.spec.fields:
            (keys if f.primary_key else values)[f.name.lower()] = row.get(f.name, "")
        return {"keys": keys, "values": values}


def _sort_key(value: object) -> tuple[int, object]:
    return (0, 0) if value is None else (1, value)  # NULLs first, like SQL Server


def _json(status: int, payload: object) -> Response:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return status, {"Content-Type": "application/json; charset=utf-8"}, body


def _bad_request(message: str) -> Response:
    return _json(400, {"documentation": "", "errorcode": 10000, "message": message})
