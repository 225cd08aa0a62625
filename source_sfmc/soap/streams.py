"""SOAP streams: one base that retrieves, pages and types, and a table of the SOAP objects we sync.

A stream is a row (stream name, object type, identity, cursor, scopes); its SOAP `Properties` are the fields
of its JSON schema, so the schema is the one place that says what a stream reads and emits.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers import ErrorHandler
from airbyte_cdk.sources.streams.http.request_window_split_exception import RequestWindowSplitRequiredException
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_sfmc.errors import SfmcErrorHandler, parsed_body, side_retrieve
from source_sfmc.keys import event_key, field_value, key_of
from source_sfmc.paging import PageGuard
from source_sfmc.soap.describe import (
    DESCRIBE_HEADERS,
    ObjectDefinition,
    PropertyChoice,
    choose_properties,
    describe_envelope,
)
from source_sfmc.soap.envelope import (
    SOAP_ACTION_HEADERS,
    ComplexFilter,
    Filter,
    RetrieveOptions,
    SimpleFilter,
    continue_envelope,
    retrieve_envelope,
)
from source_sfmc.soap.parse import RetrievePage
from source_sfmc.stream_base import (
    WINDOW_END,
    WINDOW_START,
    SfmcStream,
    SyncContext,
    format_window_bound,
    parse_window_bound,
    utc_now,
)
from source_sfmc.window_split import ATTEMPTS_AT_MIN_WINDOW, MIN_WINDOW, WindowSpan, can_split, halves, span_text

_NEXT_PAGE = "_sfmc_next_page"
_CONTINUED_REQUEST_ID = re.compile(rb"<ContinueRequest>\s*([^<\s]+)\s*</ContinueRequest>")
logger = logging.getLogger("airbyte")

COMPUTED_FIELDS = frozenset({"entity_id"})
# A window whose RequestID expires is re-read from its first page; this many restarts in a row that get no
# further into the window fail it.
MAX_WINDOW_RESTARTS = 5
_PERMISSION_WORDS = ("permission", "privilege", "not authorized", "unauthorized", "access")


class RequestIdExpired(Exception):
    pass


def soap_properties(schema: Mapping[str, Any]) -> list[str]:
    """SOAP `Properties` for a schema: top-level fields, `Parent.Child` for nested objects with declared fields
    and for repeated ones (an array of such objects, e.g. `ContentAreas.ID`), and the bare name for Name/Value
    maps (`x-sfmc-map`) and for objects requested whole (`x-sfmc-whole`, e.g. `Subscriber.Addresses`)."""
    properties: list[str] = []
    for name, spec in schema.get("properties", {}).items():
        if name in COMPUTED_FIELDS or spec.get("x-sfmc-computed"):
            continue
        children = spec.get("properties") or (spec.get("items") or {}).get("properties")
        if children and not spec.get("x-sfmc-map") and not spec.get("x-sfmc-whole"):
            properties.extend(f"{name}.{child}" for child in children)
        else:
            properties.append(name)
    return properties


@dataclass(frozen=True)
class SoapObject:
    stream_name: str
    object_type: str
    entity_id: Callable[[Mapping[str, Any]], str]
    scopes: tuple[str, ...]
    cursor: str | None = None
    needs_start_date: bool = False
    schema_name: str | None = None


LISTS_SCOPE = ("list_and_subscribers_read",)
EVENTS_SCOPE = ("tracking_events_read",)
SENDS_SCOPE = ("tracking_events_read", "email_read")
EMAIL_SCOPE = ("email_read",)
DATA_EXTENSIONS_SCOPE = ("data_extensions_read",)
ACCOUNTS_SCOPE = ("accounts_read",)


def _event(stream_name: str, object_type: str, *identity: str) -> SoapObject:
    return SoapObject(
        stream_name,
        object_type,
        event_key(*identity),
        EVENTS_SCOPE,
        cursor="EventDate",
        needs_start_date=True,
    )


MODIFIED = "ModifiedDate"

SOAP_OBJECTS: tuple[SoapObject, ...] = (
    SoapObject("subscriber_lists", "List", key_of("ID"), LISTS_SCOPE, cursor=MODIFIED),
    SoapObject("list_subscribers", "ListSubscriber", key_of("ListID", "SubscriberKey"), LISTS_SCOPE, cursor=MODIFIED),
    # Subscriber.ModifiedDate is not retrievable (SFMC refuses the whole call), so subscribers are full refresh.
    SoapObject("subscribers", "Subscriber", key_of("ID"), LISTS_SCOPE),
    SoapObject("data_extensions", "DataExtension", key_of("ObjectID"), DATA_EXTENSIONS_SCOPE),
    SoapObject("sends", "Send", key_of("ID"), SENDS_SCOPE, cursor=MODIFIED),
    SoapObject("emails", "Email", key_of("ID"), EMAIL_SCOPE, cursor=MODIFIED),
    SoapObject("folders", "DataFolder", key_of("ID"), EMAIL_SCOPE, cursor=MODIFIED),
    # ListSend.ModifiedDate is not retrievable either: full refresh.
    SoapObject("list_sends", "ListSend", key_of("List.ID", "SendID"), SENDS_SCOPE),
    # LinkSend takes no date filter: it is read per send, its cursor is the send's SendDate (LinkSendsStream).
    SoapObject("link_sends", "LinkSend", key_of("SendID", "Link.ID"), SENDS_SCOPE, cursor="SendDate"),
    SoapObject("content_areas", "ContentArea", key_of("ID"), EMAIL_SCOPE, cursor=MODIFIED),
    SoapObject(
        "triggered_send_definitions", "TriggeredSendDefinition", key_of("ObjectID"), EMAIL_SCOPE, cursor=MODIFIED
    ),
    SoapObject("triggered_send_summaries", "TriggeredSendSummary", key_of("CustomerKey"), EVENTS_SCOPE),
    _event("sent_events", "SentEvent"),
    _event("open_events", "OpenEvent"),
    _event("click_events", "ClickEvent", "URL"),
    _event("bounce_events", "BounceEvent"),
    _event("unsub_events", "UnsubEvent"),
    _event("not_sent_events", "NotSentEvent"),
    _event("forwarded_email_events", "ForwardedEmailEvent"),
    _event("forwarded_email_opt_in_events", "ForwardedEmailOptInEvent", "OptInSubscriberKey"),
    # SFMC's SurveyEvent page: "one survey [event] for each question and answer pair", so a question answered
    # with several choices at once is several events, told apart by their Answer.
    _event("survey_events", "SurveyEvent", "Question", "Answer"),
    # The enterprise's business units, listed once from the home unit (BusinessUnitsStream).
    SoapObject("business_units", "BusinessUnit", key_of("ID"), ACCOUNTS_SCOPE),
)


class SoapStream(SfmcStream):
    """Retrieve of one SOAP object, paged with ContinueRequest, optionally in date windows on its cursor."""

    api = "soap"
    http_method = "POST"
    # Whether pages of this stream's own object are typed while they are parsed (`record`); a stream that needs
    # the raw results (to join them with something else first) sets this to False and overrides `records_of`.
    types_while_parsing = True
    _dropped_nulls: dict[str, None] | None = None
    # Whether a window SFMC times out on is read as two halves (`window_split.py`); it needs a slice filter with
    # both bounds of the window.
    splits_windows = True

    def __init__(self, context: SyncContext, spec: SoapObject) -> None:
        self.spec = spec
        self.stream_name = spec.stream_name
        self.schema_name = spec.schema_name or spec.stream_name
        self.scopes = spec.scopes
        self.cursor_field_name = spec.cursor
        self.needs_start_date = spec.needs_start_date
        self.window_span = WindowSpan()
        super().__init__(context)
        self.properties = soap_properties(self.get_json_schema())  # what the schema declares
        # Each business unit is read with its own token (BU_MECHANISM in business_units.py), so no retrieve of a
        # synced object crosses units: no QueryAllAccounts, no ClientIDs.
        self.options = RetrieveOptions()
        self._guards: dict[str, PageGuard] = {}
        self._guards_lock = threading.Lock()

    @property
    def url_base(self) -> str:
        return self.context.authenticator.soap_endpoint

    def path(self, **kwargs: Any) -> str:
        return ""

    def request_headers(self, **kwargs: Any) -> Mapping[str, Any]:
        return SOAP_ACTION_HEADERS

    def slice_filter(self, stream_slice: Mapping[str, Any]) -> Filter | None:
        if not self.spec.cursor or WINDOW_START not in stream_slice:
            return None
        return ComplexFilter(
            SimpleFilter(self.spec.cursor, "greaterThanOrEqual", (stream_slice[WINDOW_START],), dates=True),
            "AND",
            SimpleFilter(self.spec.cursor, "lessThan", (stream_slice[WINDOW_END],), dates=True),
        )

    def envelope(self, stream_slice: Mapping[str, Any], request_id: str | None = None) -> bytes:
        token = self.context.authenticator.get_access_token()
        if request_id:
            return continue_envelope(token, request_id, self.spec.object_type)
        return retrieve_envelope(
            token, self.spec.object_type, self.retrievable_properties(), self.slice_filter(stream_slice), self.options
        )

    # -- Describe ------------------------------------------------------------------------------------------
    def describe(self, object_type: str) -> ObjectDefinition | None:
        """The account's definition of `object_type`: one Describe per object type per sync, shared by streams."""

        def fetch() -> ObjectDefinition | None:
            _, response = self._http_client.send_request(
                http_method="POST",
                url=self.url_base,
                request_kwargs=self.request_kwargs(),
                headers=DESCRIBE_HEADERS,
                data=describe_envelope(self.context.authenticator.get_access_token(), [object_type]),
            )
            return parsed_body(response).get(object_type)

        return self.context.memo(f"describe:{object_type}", fetch)

    def retrievable_properties(self) -> list[str]:
        """The schema's properties that Describe marks retrievable; the others are warned about once and left out
        (their fields are null in the records). Chosen once per sync, at the stream's first request."""
        return list(self.property_choice().requested)

    def property_choice(self) -> PropertyChoice:
        if self.spec.object_type.startswith("DataExtensionObject"):
            # Rows: the properties are the data extension's fields, which DataExtensionField lists.
            return PropertyChoice(tuple(self.properties), ())

        def choose() -> PropertyChoice:
            choice = choose_properties(self.properties, self.describe(self.spec.object_type))
            for name in choice.dropped:
                logger.warning(
                    f"Stream '{self.stream_name}': Marketing Cloud says {self.spec.object_type}.{name} cannot be "
                    "retrieved in this account, so it is left out of the retrieve and emitted as null."
                )
            if not choice.requested:
                raise AirbyteTracedException(
                    message=f"Stream '{self.stream_name}': Marketing Cloud says none of the properties of "
                    f"{self.spec.object_type} it syncs can be retrieved in this account; deselect the stream.",
                    failure_type=FailureType.config_error,
                )
            return choice

        return self.context.memo(f"properties:{self.stream_name}", choose)

    def request_body_data(
        self,
        stream_state: Mapping[str, Any] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        next_page_token: Mapping[str, Any] | None = None,
    ) -> bytes:
        return self.envelope(stream_slice or {}, (next_page_token or {}).get("request_id"))

    def next_page_token(self, response: requests.Response) -> Mapping[str, Any] | None:
        return getattr(response, _NEXT_PAGE, None)

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        page: RetrievePage = parsed_body(response)
        self.raise_for_status(page, continuing=b"ContinueRequest" in (response.request.body or b""))
        # Decided before any record of the page is emitted, so that a page repeating an earlier one is dropped.
        next_page, repeated = self._follow(response, page)
        setattr(response, _NEXT_PAGE, next_page)
        return iter(()) if repeated else self.records_of(page.results)

    def _follow(self, response: requests.Response, page: RetrievePage) -> tuple[Mapping[str, Any] | None, bool]:
        """(the next page's token or None, whether this page repeats an earlier one), by the rule of `paging`.

        The guard of a retrieve's chain of pages travels from each page to the next under its RequestID: windows
        are read concurrently by the same stream object."""
        sent = _CONTINUED_REQUEST_ID.search(response.request.body or b"")
        with self._guards_lock:
            guard = self._guards.pop(sent.group(1).decode(), None) if sent else None
        guard = guard or PageGuard(self.stream_name, f"Retrieve of {self.spec.object_type}")
        if guard.repeats(page.results):
            return None, True
        if page.overall_status != "MoreDataAvailable" or not page.request_id or not page.results:
            return None, False
        with self._guards_lock:
            self._guards[page.request_id] = guard
        return {"request_id": page.request_id}, False

    def get_error_handler(self) -> ErrorHandler | None:
        records = {self.spec.object_type: self.record} if self.types_while_parsing else {}
        return SfmcErrorHandler(
            self.stream_name, self.api, self.scopes, records, split_on_timeout=self.can_split_windows
        )

    @property
    def can_split_windows(self) -> bool:
        # A subclass with its own read_slice reads its slices its own way: a timeout there is retried, not split.
        own_reading = type(self).read_slice is SoapStream.read_slice
        return self.splits_windows and own_reading and self.spec.cursor is not None

    def marked(self, record: Mapping[str, Any], mid: int | None) -> Mapping[str, Any] | None:
        """A record carries the MID of the unit that owns it (`Client.ID`). A unit's token also lists what other
        units share with it (the parent's shared data extensions, PROTOCOL.md section 7): such a record is the
        owner's, and when the owner is read in this sync too it is emitted there only, so it is read once."""
        client = record.get("Client")
        owner = client.get("ID") if isinstance(client, Mapping) else None
        if isinstance(owner, int) and mid is not None and owner != mid:
            if owner in self.context.known_units():
                return None
            mid = owner
        return super().marked(record, mid)

    def record(self, raw: dict) -> dict[str, Any]:
        """The typed record, with its entity_id, of one parsed result (called by the parser, once per result).
        Properties Describe said this account cannot retrieve were left out of the retrieve; they are null."""
        record = self._coerce(raw)
        record["entity_id"] = self.spec.entity_id(raw)
        dropped = self._dropped_nulls
        if dropped is None:
            # Chosen (and memoized) before the first request of the sync, so this never sends a request.
            dropped = self._dropped_nulls = {name.partition(".")[0]: None for name in self.property_choice().dropped}
        return {**dropped, **record} if dropped else record

    def records_of(self, results: list[dict]) -> Iterator[Mapping[str, Any]]:
        """The records of a page: made by the parser (`record`) where the stream types while parsing, else here."""
        if self.types_while_parsing:
            return iter(results)
        return map(self.record, results)

    def raise_for_status(self, page: RetrievePage, *, continuing: bool, object_type: str | None = None) -> None:
        status = page.overall_status
        object_type = object_type or self.spec.object_type
        if status in ("OK", "MoreDataAvailable"):
            return
        lowered = status.lower()
        if continuing and (
            "request" in lowered
            and ("expired" in lowered or "not found" in lowered or "invalid" in lowered or "unable to find" in lowered)
        ):
            raise RequestIdExpired(status)
        permission = any(word in lowered for word in _PERMISSION_WORDS)
        property_problem = "property" in lowered or "handler for object type" in lowered
        if permission:
            message = (
                f"Marketing Cloud refused to retrieve {object_type} ({status}). The installed package "
                f"needs the {' and '.join(repr(s) for s in self.scopes)} scope; add it or deselect the stream."
            )
        else:
            message = f"Marketing Cloud could not retrieve {object_type}: {status}"
        raise AirbyteTracedException(
            message=message,
            internal_message=status,
            failure_type=FailureType.config_error if permission or property_problem else FailureType.system_error,
        )

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        if self.can_split_windows and WINDOW_START in stream_slice:
            lower, upper = parse_window_bound(stream_slice[WINDOW_START]), parse_window_bound(stream_slice[WINDOW_END])
            yield from self._read_in_pieces(stream_slice, lower, upper)
        else:
            yield from self._read_in_pieces(stream_slice, None, None)

    def _read_in_pieces(
        self, stream_slice: Mapping[str, Any], lower: datetime | None, upper: datetime | None
    ) -> Iterator[Mapping[str, Any]]:
        """[lower, upper) in consecutive pieces no longer than the span learned in this sync (the whole window while
        nothing timed out)."""
        if lower is None or upper is None:
            yield from self._read_piece(stream_slice, None, None)
            return
        start = lower
        while start < upper:
            span = self.window_span.span
            # Compared as spans: `start + span` may lie past year 9999 when the span has grown long.
            end = upper if span is None or span >= upper - start else start + span
            yield from self._read_piece(_piece(stream_slice, start, end), start, end)
            start = end

    def _read_piece(
        self, stream_slice: Mapping[str, Any], lower: datetime | None, upper: datetime | None
    ) -> Iterator[Mapping[str, Any]]:
        """One retrieve of [lower, upper), split in halves when SFMC times out on it, down to MIN_WINDOW; a piece
        that still times out then is tried ATTEMPTS_AT_MIN_WINDOW times in all before the window fails. Records of
        a piece that timed out after some of its pages were read are read again with its halves (same entity_id,
        so the destination deduplicates them)."""
        timed_out: RequestWindowSplitRequiredException | None = None
        for _ in range(ATTEMPTS_AT_MIN_WINDOW):
            emitted = 0
            try:
                for record in self._read_window(stream_slice):
                    emitted += 1
                    yield record
                if emitted == 0:
                    self.window_span.widen()
                return
            except RequestWindowSplitRequiredException as error:
                timed_out = error
            if lower is not None and upper is not None and can_split(lower, upper):
                first, second = halves(lower, upper)
                self.window_span.shrink_to(first[1] - first[0])
                self.logger.info(
                    f"{self.stream_name}: Marketing Cloud timed out on {format_window_bound(lower)} to "
                    f"{format_window_bound(upper)}; reading it in two halves, and this stream's next windows in "
                    f"pieces of at most {self.window_span.span}"
                )
                for half_lower, half_upper in (first, second):
                    yield from self._read_in_pieces(stream_slice, half_lower, half_upper)
                return
        where = (
            f"between {format_window_bound(lower)} and {format_window_bound(upper)}"
            if lower is not None and upper is not None
            else "without a date window"
        )
        raise AirbyteTracedException(
            message=(
                f"Marketing Cloud timed out {ATTEMPTS_AT_MIN_WINDOW} times retrieving {self.spec.object_type} {where}"
                + (
                    f" (a piece of {span_text(upper - lower)}; pieces of {span_text(MIN_WINDOW)} or less are not "
                    "split further)"
                    if lower is not None and upper is not None
                    else ""
                )
                + ". It is read again from there in the next sync; if it keeps timing out, Marketing Cloud is "
                "overloaded or this period holds more records than one retrieve can return."
            ),
            internal_message=str(timed_out),
            failure_type=FailureType.transient_error,
        ) from timed_out

    def _read_window(self, stream_slice: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        # An expired RequestID cannot be continued: the window is read again from its first page. Records
        # already emitted are emitted again with the same entity_id, so the destination deduplicates them.
        # Restarts go on while each one gets further into the window than any before it; the window fails
        # after MAX_WINDOW_RESTARTS restarts in a row that got no further.
        furthest, restarts_without_progress = -1, 0
        while True:
            emitted = 0
            try:
                for record in super().read_slice(stream_slice):
                    emitted += 1
                    yield record
                return
            except RequestIdExpired as expired:
                restarts_without_progress = 0 if emitted > furthest else restarts_without_progress + 1
                furthest = max(furthest, emitted)
                if restarts_without_progress >= MAX_WINDOW_RESTARTS:
                    raise AirbyteTracedException(
                        message=f"The continuation of a {self.spec.object_type} retrieve kept expiring ({expired}); "
                        "a smaller 'window_days' makes each retrieve shorter.",
                        failure_type=FailureType.transient_error,
                    ) from expired
                self.logger.info(f"{self.stream_name}: RequestID expired ({expired}); re-reading the window")

    def retrieve(self, object_type: str, properties: Sequence[str], filter: Filter | None = None) -> Iterator[dict]:
        """Every raw result (a plain dict, never typed) of a Retrieve of any object, through this stream's HTTP
        client and error policy."""
        request_id: str | None = None
        guard = PageGuard(self.stream_name, f"Retrieve of {object_type}")
        while True:
            token = self.context.authenticator.get_access_token()
            body = (
                continue_envelope(token, request_id, object_type)
                if request_id
                else retrieve_envelope(token, object_type, properties, filter, self.options)
            )
            with side_retrieve():
                _, response = self._http_client.send_request(
                    http_method="POST",
                    url=self.url_base,
                    request_kwargs=self.request_kwargs(),
                    headers=SOAP_ACTION_HEADERS,
                    data=body,
                )
            page: RetrievePage = parsed_body(response)
            self.raise_for_status(page, continuing=request_id is not None, object_type=object_type)
            if guard.repeats(page.results):
                return
            yield from page.results
            if page.overall_status != "MoreDataAvailable" or not page.request_id or not page.results:
                return
            request_id = page.request_id

    def probe(self) -> None:
        """One cheap page for `check`: raises a config error naming the scope when access is denied.

        A timeout here is not a window to split (the probe asks for one page); it is tried again a few times."""
        for attempt in range(1, ATTEMPTS_AT_MIN_WINDOW + 1):
            try:
                for _ in self._read_pages(
                    lambda request, response, state, _slice: self.parse_response(response),
                    self.probe_slice(),
                    {},
                ):
                    return
                return
            except RequestWindowSplitRequiredException as timed_out:
                if attempt == ATTEMPTS_AT_MIN_WINDOW:
                    raise AirbyteTracedException(
                        message=f"Marketing Cloud timed out {attempt} times answering a one-page "
                        f"{self.spec.object_type} retrieve; it is overloaded, try again later.",
                        internal_message=str(timed_out),
                        failure_type=FailureType.transient_error,
                    ) from timed_out

    def probe_slice(self) -> Mapping[str, Any]:
        if not self.needs_start_date:
            return {}
        # A full retrieve of an event table can time out on a busy account; the last hour is enough to probe.
        now = utc_now()
        return {WINDOW_START: format_window_bound(now - timedelta(hours=1)), WINDOW_END: format_window_bound(now)}


def _piece(stream_slice: Mapping[str, Any], lower: datetime, upper: datetime) -> dict[str, Any]:
    return {**stream_slice, WINDOW_START: format_window_bound(lower), WINDOW_END: format_window_bound(upper)}


DATA_EXTENSION_FIELD_PROPERTIES = (
    "ObjectID",
    "CustomerKey",
    "Name",
    "FieldType",
    "MaxLength",
    "Scale",
    "IsRequired",
    "IsPrimaryKey",
    "Ordinal",
    "DefaultValue",
    "DataExtension.CustomerKey",
)


def data_extension_fields(stream: SoapStream) -> dict[str, list[dict]]:
    """Fields of every data extension, by data extension key, in ordinal order: one paged retrieve per sync,
    shared by the `data_extensions` stream and data extension row discovery."""

    def fetch() -> dict[str, list[dict]]:
        by_key: dict[str, list[dict]] = {}
        for field in stream.retrieve("DataExtensionField", DATA_EXTENSION_FIELD_PROPERTIES):
            key = field_value(field, "DataExtension.CustomerKey")
            by_key.setdefault(str(key), []).append(field)
        for fields in by_key.values():
            fields.sort(key=_ordinal)
        return by_key

    return stream.context.memo("data_extension_fields", fetch)


def _ordinal(field: Mapping[str, Any]) -> float:
    """A field's position (`Ordinal`, an int as text); a field without a readable one sorts after the others
    rather than failing the listing of every data extension."""
    try:
        return int(str(field.get("Ordinal")).strip())
    except ValueError:
        return float("inf")


class DataExtensionsStream(SoapStream):
    """Data extensions with their fields attached, so a warehouse user sees each table's shape."""

    types_while_parsing = False

    def records_of(self, results: list[dict]) -> Iterator[Mapping[str, Any]]:
        fields = data_extension_fields(self)
        yield from super().records_of(
            [{**raw, "Fields": fields.get(str(raw.get("CustomerKey")), [])} for raw in results]
        )


# SFMC caps neither the values of an IN filter nor documents a limit; public clients send a few dozen send ids at
# once, and a batch this size keeps each LinkSend retrieve to about one page.
LINK_SENDS_PER_RETRIEVE = 50
# What the send listing of link_sends asks for: the id to filter LinkSend on, the date that is the cursor.
LINK_SENDS_SEND_PROPERTIES = ("ID", "SendDate")


class LinkSendsStream(SoapStream):
    """One record per (send, link) from SOAP `LinkSend`, with the send's `SendDate` as its cursor.

    SFMC refuses date filters on LinkSend (its ModifiedDate is not retrievable, PROTOCOL.md section 3); SFMC's
    "Retrieve All Links for a Send" filters on SendID and asks for ID, SendID, Client.ID and Link's ID,
    TotalClicks, UniqueClicks, URL and Alias, which is what the schema reads. So the sends of a slice are listed
    first (`Send` filtered on `SendDate`, or every send in full refresh) and their links retrieved
    `LINK_SENDS_PER_RETRIEVE` send ids at a time (`SendID IN (...)`). Clicks keep accruing after a send, so an
    incremental sync starts `link_sends_recent_days` before the newest send date it read: the links of
    recent sends are read again, with their new figures, under the same (send, link) key.
    """

    @property
    def lookback(self) -> timedelta:
        return self.config.link_sends_recent

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        sends, _ = self.parents_by_id(
            self.retrieve("Send", LINK_SENDS_SEND_PROPERTIES, self.slice_filter(stream_slice)), "sends", "ID", "links"
        )
        send_dates = {send_id: send.get("SendDate") for send_id, send in sends}
        send_ids = sorted(send_dates, key=_numeric_first)
        for start in range(0, len(send_ids), LINK_SENDS_PER_RETRIEVE):
            batch = tuple(send_ids[start : start + LINK_SENDS_PER_RETRIEVE])
            for raw in self._links_of(batch):
                record = self.typed({**raw, "SendDate": send_dates.get(str(raw.get("SendID")))})
                record["entity_id"] = self.spec.entity_id(raw)
                yield record

    def _links_of(self, send_ids: tuple[str, ...]) -> list[dict]:
        # SFMC's IN operator wants two or more values; one send is asked for with `equals`.
        send_filter = SimpleFilter("SendID", "IN" if len(send_ids) > 1 else "equals", send_ids)
        for attempt in range(MAX_WINDOW_RESTARTS):
            try:
                # A batch is small; it is collected before any record is emitted, so an expired RequestID
                # re-reads the batch without emitting anything twice.
                return list(self.retrieve(self.spec.object_type, self.retrievable_properties(), send_filter))
            except RequestIdExpired as expired:
                self.logger.info(f"{self.stream_name}: RequestID expired ({expired}); re-reading the batch")
                if attempt == MAX_WINDOW_RESTARTS - 1:
                    raise AirbyteTracedException(
                        message=f"The continuation of a LinkSend retrieve kept expiring ({expired}).",
                        failure_type=FailureType.transient_error,
                    ) from expired
        return []

    def probe(self) -> None:
        # LinkSend is only ever read per send: one retrieve of a send that does not exist shows the access.
        next(
            iter(
                self.retrieve(
                    self.spec.object_type, self.retrievable_properties(), SimpleFilter("SendID", "equals", ("0",))
                )
            ),
            None,
        )


def _numeric_first(send_id: str) -> tuple[int, int, str]:
    """Send ids in numeric order; one that is not a whole number (Send.ID is xsd:int, but nothing is assumed
    of what a server sends) sorts after them instead of failing the sync."""
    text = send_id.strip()
    return (0, int(text), "") if text.isascii() and text.isdigit() else (1, 0, send_id)


class BusinessUnitsStream(SoapStream):
    """One record per business unit the package can see, `mid` being the unit's own MID (its ID).

    SFMC's "Retrieve Business Units" asks for BusinessUnit with QueryAllAccounts=true from the parent's token: the
    parent (ParentID 0) and every child, each once (PROTOCOL.md section 7). So this stream reads once, from the home
    unit, whatever units the sync reads; from a child's token SFMC lists what that unit can see."""

    def __init__(self, context: SyncContext, spec: SoapObject) -> None:
        super().__init__(context, spec)
        self.options = RetrieveOptions(query_all_accounts=True)

    def units(self) -> tuple[int, ...]:
        return (None,)  # type: ignore[return-value]  # the home unit, whose MID may not be known yet

    def marked(self, record: Mapping[str, Any], mid: int | None) -> Mapping[str, Any] | None:
        return super().marked(record, record.get("ID"))


def list_business_units(context: SyncContext) -> list[dict]:
    """Every business unit the home unit's token lists (raw results: ID, Name, ParentID, IsActive)."""
    stream = BusinessUnitsStream(context, next(spec for spec in SOAP_OBJECTS if spec.object_type == "BusinessUnit"))
    properties = [name for name in ("ID", "Name", "ParentID", "IsActive") if name in stream.retrievable_properties()]
    return list(stream.retrieve("BusinessUnit", properties or ["ID"]))


STREAM_CLASSES: dict[str, type[SoapStream]] = {
    "data_extensions": DataExtensionsStream,
    "link_sends": LinkSendsStream,
    "business_units": BusinessUnitsStream,
}


def soap_streams(context: SyncContext, objects: Sequence[SoapObject] = SOAP_OBJECTS) -> list[SoapStream]:
    return [STREAM_CLASSES.get(spec.stream_name, SoapStream)(context, spec) for spec in objects]
