"""The sandbox's SOAP API behaves like SFMC's (PROTOCOL.md sections 2-4), called in-process."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from xml.etree import ElementTree as ET

import pytest

from integration_tests.sandbox.soap import ContinuationStore, SoapService, build_soap_data
from integration_tests.sandbox.soap_data import (
    ALL_MIDS,
    CHILD_MIDS,
    MAIN_MID,
    SCHEMAS,
    parse_sfmc_datetime,
    server_iso,
    server_us,
    utc_ms,
)
from unit_tests.wsdl import requires_wsdl, wsdl_path

PARTNER_NS = "{http://exacttarget.com/wsdl/partnerAPI}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
EVENT_PROPS = ("SendID", "SubscriberKey", "EventDate", "EventType")


# --- builders ---------------------------------------------------------------------------------------------


def envelope(
    inner: str,
    *,
    token: str | None = "good",
    soap_ns: str = SOAP11,
    prefix: str = "s",
    extra_header: str = "",
    request_prefix: str = "",
) -> bytes:
    token_xml = f'<fueloauth xmlns="http://exacttarget.com">{token}</fueloauth>' if token is not None else ""
    rp = f"{request_prefix}:" if request_prefix else ""
    ns_decl = (
        f' xmlns:{request_prefix}="http://exacttarget.com/wsdl/partnerAPI"'
        if request_prefix
        else ' xmlns="http://exacttarget.com/wsdl/partnerAPI"'
    )
    return (
        f'<{prefix}:Envelope xmlns:{prefix}="{soap_ns}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing">'
        f"<{prefix}:Header>{extra_header}{token_xml}</{prefix}:Header>"
        f"<{prefix}:Body><{rp}RetrieveRequestMsg{ns_decl}><{rp}RetrieveRequest>{inner}</{rp}RetrieveRequest>"
        f"</{rp}RetrieveRequestMsg></{prefix}:Body></{prefix}:Envelope>"
    ).encode()


def retrieve(object_type: str, props: tuple[str, ...] | list[str], *, filter_xml: str = "", extra: str = "") -> str:
    properties = "".join(f"<Properties>{p}</Properties>" for p in props)
    return f"<ObjectType>{object_type}</ObjectType>{properties}{filter_xml}{extra}"


def simple(prop: str, op: str, *values: str, date: bool = False, type_attr: str = 'xsi:type="SimpleFilterPart"'):
    tag = "DateValue" if date else "Value"
    vals = "".join(f"<{tag}>{v}</{tag}>" for v in values)
    return f"<Filter {type_attr}><Property>{prop}</Property><SimpleOperator>{op}</SimpleOperator>{vals}</Filter>"


def part(filter_xml: str, as_tag: str) -> str:
    return filter_xml.replace("<Filter", f"<{as_tag}", 1).removesuffix("</Filter>") + f"</{as_tag}>"


def complex_(left: str, op: str, right: str) -> str:
    return (
        f'<Filter xsi:type="ComplexFilterPart">{part(left, "LeftOperand")}<LogicalOperator>{op}</LogicalOperator>'
        f"{part(right, 'RightOperand')}</Filter>"
    )


def between(start: str, end: str) -> str:
    return simple("EventDate", "between", start, end, date=True)


@dataclass
class Answer:
    http_status: int
    headers: dict[str, str]
    body: bytes

    @property
    def root(self) -> ET.Element:
        return ET.fromstring(self.body)

    @property
    def status(self) -> str:
        return self.root.find(f".//{PARTNER_NS}OverallStatus").text

    @property
    def request_id(self) -> str:
        return self.root.find(f".//{PARTNER_NS}RequestID").text

    @property
    def results(self) -> list[ET.Element]:
        return self.root.findall(f".//{PARTNER_NS}Results")

    def values(self, prop: str) -> list[str | None]:
        return [r.findtext(f"{PARTNER_NS}{prop}") for r in self.results]

    @property
    def fault(self) -> tuple[str, str]:
        fault = self.root.find(f".//{{{SOAP11}}}Fault")
        return fault.findtext("faultcode"), fault.findtext("faultstring")


def call(
    service: SoapService,
    body: bytes,
    *,
    headers: dict[str, str] | None = None,
    token_state: str = "ok",
    scopes: set[str] | None = None,
    expire: bool = False,
    unit: int = MAIN_MID,
) -> Answer:
    status, hdrs, out = service.handle(
        body,
        {"SOAPAction": "Retrieve"} if headers is None else headers,
        token_state=lambda _t: token_state,
        has_scope=lambda _t, s: scopes is None or s in scopes,
        expire_request_ids=expire,
        token_mid=lambda _t: unit,
    )
    return Answer(status, hdrs, out)


def all_pages(service: SoapService, inner: str, *, continue_shape=None) -> list[Answer]:
    pages = [call(service, envelope(inner))]
    while pages[-1].status == "MoreDataAvailable":
        rid = pages[-1].request_id
        shape = continue_shape(rid) if continue_shape else f"<ContinueRequest>{rid}</ContinueRequest>"
        pages.append(call(service, envelope(shape)))
    return pages


@pytest.fixture(scope="module")
def data():
    return build_soap_data(seed=42, scale=1.0)


@pytest.fixture
def service(data) -> SoapService:
    return SoapService(data)


# --- request shapes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["Retrieve", '"Retrieve"', " Retrieve "])
def test_soapaction_header_quoted_or_bare_selects_retrieve(service, action):
    answer = call(service, envelope(retrieve("List", ["ID"])), headers={"soapaction": action})
    assert (answer.http_status, answer.status) == (200, "OK")


def test_ws_addressing_action_in_soap12_envelope_selects_retrieve(service):
    action = '<a:Action s:mustUnderstand="1">Retrieve</a:Action>'
    body = envelope(retrieve("List", ["ID"]), soap_ns=SOAP12, extra_header=action)
    answer = call(service, body, headers={"Content-Type": "application/soap+xml; charset=utf-8"})
    assert (answer.http_status, answer.status) == (200, "OK")
    assert answer.headers["Content-Type"].startswith("application/soap+xml")
    assert answer.body.startswith(b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap=')


def test_request_without_action_is_a_client_fault(service):
    answer = call(service, envelope(retrieve("List", ["ID"])), headers={})
    assert answer.http_status == 500
    assert answer.fault == ("soap:Client", "Server did not recognize the value of HTTP Header SOAPAction: .")


def test_unknown_action_is_named_in_the_client_fault(service):
    answer = call(service, envelope(retrieve("List", ["ID"])), headers={"SOAPAction": "Frobnicate"})
    assert answer.fault == ("soap:Client", "Server did not recognize the value of HTTP Header SOAPAction: Frobnicate.")


def test_prefixes_and_child_order_do_not_matter(service):
    flt = simple("ListName", "equals", "VIP &amp; Partners", type_attr='q1:type="q1:SimpleFilterPart"')
    flt = flt.replace("<Filter ", '<Filter xmlns:q1="http://www.w3.org/2001/XMLSchema-instance" ')
    inner = f"{flt}<Properties>ListName</Properties><ObjectType>List</ObjectType><Properties>ID</Properties>"
    inner = re.sub(r"<(/?)(\w+)", r"<\1par:\2", inner)
    answer = call(service, envelope(inner, prefix="soapenv", request_prefix="par"))
    assert answer.status == "OK"
    assert answer.values("ListName") == ["VIP & Partners"]


@pytest.mark.parametrize("type_attr", ['xsi:type="SimpleFilterPart"', 'xsi:type="ns0:SimpleFilterPart"', ""])
def test_filter_type_is_read_with_any_prefix_or_none(service, type_attr):
    answer = call(
        service, envelope(retrieve("List", ["ID"], filter_xml=simple("ID", "equals", "1100", type_attr=type_attr)))
    )
    assert answer.values("ID") == ["1100"]


def test_document_with_a_doctype_is_refused_without_expanding_entities(service):
    body = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + envelope(
        retrieve("List", ["ID"])
    ).replace(b"<Properties>ID", b"<Properties>&e;ID")
    answer = call(service, body)
    assert answer.http_status == 500
    assert answer.fault[0] == "soap:Client"


# --- tokens and scopes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "text"), [("expired", "Token Expired"), ("invalid", "Login failed")])
def test_bad_token_is_a_security_fault(service, state, text):
    answer = call(service, envelope(retrieve("List", ["ID"])), token_state=state)
    assert answer.http_status == 500
    assert answer.fault == ("q0:Security", text)
    assert b"<faultactor>" in answer.body and b"/Service.asmx</faultactor>" in answer.body


def test_missing_fueloauth_header_is_login_failed(service):
    answer = call(service, envelope(retrieve("List", ["ID"]), token=None))
    assert answer.fault == ("q0:Security", "Login failed")


def test_missing_scope_is_an_error_status_naming_privileges(service):
    answer = call(service, envelope(retrieve("SentEvent", EVENT_PROPS)), scopes={"email_read"})
    assert answer.http_status == 200
    assert answer.status.startswith("Error: API Permission Failed - Insufficient privileges")
    assert answer.request_id and not answer.results


# --- validation errors ------------------------------------------------------------------------------------


def test_unknown_property_fails_the_whole_call(service):
    answer = call(service, envelope(retrieve("SentEvent", ["SendID", "Foo"])))
    assert answer.status == "Error: The Request Property(s) Foo do not match with the fields of SentEvent retrieve"
    assert answer.request_id and not answer.results


@pytest.mark.parametrize(("object_type", "prop"), [("Subscriber", "ModifiedDate"), ("ListSend", "ModifiedDate")])
def test_properties_sfmc_cannot_retrieve_are_refused(service, object_type, prop):
    answer = call(service, envelope(retrieve(object_type, ["ID", prop])))
    assert answer.status.startswith(f"Error: The Request Property(s) {prop} do not match")


def test_unknown_object_type_is_case_sensitive(service):
    answer = call(service, envelope(retrieve("sentevent", ["SendID"])))
    assert answer.status == (
        "Error: Unable to find a handler for object type: sentevent. Object types are case-sensitive, check spelling."
    )


def test_filter_on_a_property_that_does_not_exist_is_an_error_status(service):
    answer = call(service, envelope(retrieve("SentEvent", EVENT_PROPS, filter_xml=simple("Nope", "equals", "1"))))
    assert answer.status.startswith("Error: ") and "Nope" in answer.status
    assert not answer.results


# --- response shapes --------------------------------------------------------------------------------------


def test_no_match_is_ok_with_request_id_and_no_results_element(service):
    answer = call(service, envelope(retrieve("List", ["ID"], filter_xml=simple("ListName", "equals", "nope"))))
    assert (answer.status, len(answer.results)) == ("OK", 0)
    assert answer.request_id
    assert b"<Results" not in answer.body


def test_one_match_is_one_results_element(service):
    answer = call(service, envelope(retrieve("List", ["ID", "ListName"], filter_xml=simple("ID", "equals", "1100"))))
    assert len(answer.results) == 1
    assert answer.results[0].get(XSI_TYPE) == "List"


def test_response_has_literal_soap_prefix_and_wsa_header(service):
    answer = call(service, envelope(retrieve("List", ["ID"])))
    assert answer.body.startswith(b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope ')
    assert b"<soap:Header><wsa:Action>RetrieveResponse</wsa:Action><wsa:MessageID>urn:uuid:" in answer.body
    assert b'<RetrieveResponseMsg xmlns="http://exacttarget.com/wsdl/partnerAPI"><OverallStatus>' in answer.body


def test_only_requested_properties_are_rendered_in_schema_order(service):
    answer = call(service, envelope(retrieve("SentEvent", ["EventDate", "SendID", "Client.ID"], extra=_batch(1))))
    children = [c.tag.removeprefix(PARTNER_NS) for c in answer.results[0]]
    assert children == ["Client", "SendID", "EventDate"]
    assert answer.results[0].findtext(f"{PARTNER_NS}Client/{PARTNER_NS}ID") == str(MAIN_MID)


def test_nil_values_render_as_xsi_nil(service):
    answer = call(
        service, envelope(retrieve("SentEvent", ["ObjectID", "TriggeredSendDefinitionObjectID"], extra=_batch(1)))
    )
    assert b'<ObjectID xsi:nil="true" />' in answer.body


def test_event_dates_render_without_offset_in_server_time(service, data):
    first = data.collections["SentEvent"].row(0)
    answer = call(service, envelope(retrieve("SentEvent", ["EventDate"], extra=_batch(1))))
    assert answer.values("EventDate") == [server_iso(first["EventDate"])]
    assert server_iso(utc_ms(2025, 3, 1, 6, 0, 0) + 927) == "2025-03-01T00:00:00.927"
    assert server_iso(utc_ms(2025, 3, 1, 6, 0, 0) + 900) == "2025-03-01T00:00:00.9"
    assert server_iso(utc_ms(2025, 3, 1, 6, 0, 0)) == "2025-03-01T00:00:00"


def test_both_date_renderings_occur(service):
    answer = call(service, envelope(retrieve("SentEvent", ["EventDate"], extra=_batch(200))))
    dates = answer.values("EventDate")
    assert any("." in d for d in dates) and any("." not in d for d in dates)


def test_text_is_escaped(service):
    answer = call(service, envelope(retrieve("BounceEvent", ["SMTPReason"])))
    assert b"&lt;recipient&gt;" in answer.body
    assert "550 5.1.1 <recipient>: Recipient address rejected: User unknown" in answer.values("SMTPReason")


def test_name_value_lists_render_one_element_per_pair(service):
    answer = call(service, envelope(retrieve("Subscriber", ["SubscriberKey", "Attributes"], extra=_batch(1))))
    attrs = answer.results[0].findall(f"{PARTNER_NS}Attributes")
    assert [a.findtext(f"{PARTNER_NS}Name") for a in attrs][:3] == ["First Name", "Last Name", "City"]


# --- filters ----------------------------------------------------------------------------------------------


def _count(service, object_type, filter_xml, props=("ID",)) -> int:
    return sum(len(p.results) for p in all_pages(service, retrieve(object_type, props, filter_xml=filter_xml)))


def test_dates_without_offset_are_utc_minus_6_and_offsets_convert(service):
    same_instants = [
        ("2025-03-01T00:00:00", "2025-03-08T00:00:00"),
        ("2025-03-01T06:00:00Z", "2025-03-08T06:00:00Z"),
        ("2025-03-01T01:00:00-05:00", "2025-03-08T01:00:00-05:00"),
    ]
    counts = {_count(service, "SentEvent", between(a, b), EVENT_PROPS) for a, b in same_instants}
    assert len(counts) == 1
    assert counts != {_count(service, "SentEvent", between("2025-03-01T00:00:00Z", "2025-03-08T00:00:00Z"))}


def test_parse_sfmc_datetime_reads_iso_and_data_extension_forms():
    assert parse_sfmc_datetime("2025-03-01") == utc_ms(2025, 3, 1, 6)
    assert parse_sfmc_datetime("3/1/2025 12:00:00 AM") == utc_ms(2025, 3, 1, 6)
    assert parse_sfmc_datetime("3/1/2025 1:30:00 PM") == utc_ms(2025, 3, 1, 19, 30)
    assert parse_sfmc_datetime("2025-03-01T00:00:00.5+01:00") == utc_ms(2025, 2, 28, 23) + 500
    assert server_us(utc_ms(2024, 6, 23, 6)) == "6/23/2024 12:00:00 AM"


def test_date_filter_counts_match_the_data(service, data):
    start, end = datetime(2025, 4, 1), datetime(2025, 4, 15)
    n = _count(service, "OpenEvent", between("2025-04-01T00:00:00Z", "2025-04-15T00:00:00Z"), EVENT_PROPS)
    assert n == data.events_between("OpenEvent", start, end) > 0


def test_value_and_datevalue_are_equivalent(service):
    as_values = simple("EventDate", "greaterThan", "2025-06-20T00:00:00")
    as_dates = simple("EventDate", "greaterThan", "2025-06-20T00:00:00", date=True)
    assert _count(service, "ClickEvent", as_values) == _count(service, "ClickEvent", as_dates) > 0


@pytest.mark.parametrize(
    ("op", "values", "expected"),
    [
        ("equals", ["VIP &amp; Partners"], {"VIP & Partners"}),
        ("IN", ["Loyalty Gold", "Loyalty Silver", "nope"], {"Loyalty Gold", "Loyalty Silver"}),
        ("like", ["Loyalty%"], {"Loyalty Gold", "Loyalty Silver"}),
        ("beginsWith", ["suppression"], {"Suppression — Competitors", "Suppression — Legal"}),
        ("endsWith", ["Gold"], {"Loyalty Gold"}),
        ("contains", ["&lt;2025"], {"Spring Promo <2025>"}),
    ],
)
def test_string_operators(service, op, values, expected):
    flt = simple("ListName", op, *values)
    answer = call(
        service,
        envelope(retrieve("List", ["ListName"], filter_xml=flt, extra="<QueryAllAccounts>true</QueryAllAccounts>")),
    )
    assert set(answer.values("ListName")) == expected


def test_numeric_comparisons_and_not_equals(service, data):
    lists = data.collections["List"].rows
    main = [r for r in lists if r["Client.ID"] == MAIN_MID]
    assert _count(service, "List", simple("ID", "greaterThanOrEqual", "1110")) == sum(r["ID"] >= 1110 for r in main)
    assert _count(service, "List", simple("ID", "lessThan", "1110")) == sum(r["ID"] < 1110 for r in main)
    assert _count(service, "List", simple("ID", "notEquals", "1100")) == len(main) - 1


def test_isnull_and_isnotnull(service, data):
    unsubscribed = data.count("Subscriber", lambda r: r["UnsubscribedDate"] is not None)
    assert _count(service, "Subscriber", simple("UnsubscribedDate", "isNotNull")) == unsubscribed > 0
    assert (
        _count(service, "Subscriber", simple("UnsubscribedDate", "isNull")) == data.count("Subscriber") - unsubscribed
    )


def test_nested_complex_filters(service, data):
    march = between("2025-03-01T00:00:00", "2025-03-31T23:59:59")
    either = complex_(simple("EventType", "equals", "SoftBounce"), "OR", simple("EventType", "equals", "OtherBounce"))
    n = _count(service, "BounceEvent", complex_(march, "AND", either), ("EventType", "EventDate"))
    lo, hi = parse_sfmc_datetime("2025-03-01T00:00:00"), parse_sfmc_datetime("2025-03-31T23:59:59")
    expected = data.count(
        "BounceEvent", lambda r: lo <= r["EventDate"] <= hi and r["EventType"] in ("SoftBounce", "OtherBounce")
    )
    assert n == expected > 0


def test_between_needs_two_values(service):
    answer = call(
        service, envelope(retrieve("SentEvent", EVENT_PROPS, filter_xml=simple("EventDate", "between", "2025-01-01")))
    )
    assert answer.status.startswith("Error: ")


# --- paging -----------------------------------------------------------------------------------------------


def test_pages_hold_2500_and_add_up_exactly(service, data):
    pages = all_pages(
        service, retrieve("SentEvent", EVENT_PROPS, filter_xml=between("2025-03-01T00:00:00Z", "2025-03-31T00:00:00Z"))
    )
    sizes = [len(p.results) for p in pages]
    expected = data.events_between("SentEvent", datetime(2025, 3, 1), datetime(2025, 3, 31))
    assert len(pages) >= 2 and all(s == 2500 for s in sizes[:-1]) and 0 < sizes[-1] <= 2500
    assert sum(sizes) == expected
    assert [p.status for p in pages] == ["MoreDataAvailable"] * (len(pages) - 1) + ["OK"]


def test_some_30_day_window_needs_several_pages(data):
    starts = [datetime(2025, m, 1) for m in range(1, 7)]
    windows = [data.events_between("SentEvent", s, s + timedelta(days=30)) for s in starts]
    assert max(windows) > 2500
    assert 13_000 < data.count("SentEvent", all_accounts=True) <= 15_000


def _batch(n: int) -> str:
    return f"<Options><BatchSize>{n}</BatchSize></Options>"


@pytest.mark.parametrize(("batch", "page"), [(700, 700), (9999, 2500), (0, 2500)])
def test_batch_size_sets_the_page_size_capped_at_2500(service, batch, page):
    answer = call(service, envelope(retrieve("SentEvent", ["SendID"], extra=_batch(batch))))
    assert len(answer.results) == page


@pytest.mark.parametrize(
    "shape",
    [
        lambda rid: f"<ContinueRequest>{rid}</ContinueRequest>",
        lambda rid: f"<ObjectType/><ContinueRequest>{rid}</ContinueRequest>",
        lambda rid: retrieve("ClickEvent", EVENT_PROPS, extra=f"<ContinueRequest>{rid}</ContinueRequest>"),
    ],
    ids=["alone", "empty-object-type", "whole-request"],
)
def test_three_continue_shapes_page_identically(service, shape):
    inner = retrieve("ClickEvent", EVENT_PROPS, extra=_batch(1000))
    reference = [p.values("EventDate") for p in all_pages(service, inner)]
    assert [p.values("EventDate") for p in all_pages(service, inner, continue_shape=shape)] == reference
    assert len(reference) == 3


def test_retrying_a_continue_returns_the_same_page(service):
    first = call(service, envelope(retrieve("SentEvent", ["SubscriberKey"], extra=_batch(100))))
    again = [call(service, envelope(f"<ContinueRequest>{first.request_id}</ContinueRequest>")) for _ in range(2)]
    assert again[0].values("SubscriberKey") == again[1].values("SubscriberKey")
    assert again[0].request_id != again[1].request_id


def test_unknown_request_id_is_an_error_status_naming_it(service):
    answer = call(service, envelope("<ContinueRequest>0000-nope</ContinueRequest>"))
    assert answer.status.startswith("Error: ") and "0000-nope" in answer.status
    assert not answer.results


def test_expired_request_ids_are_refused_on_continue(service):
    first = call(service, envelope(retrieve("SentEvent", ["SendID"])))
    answer = call(service, envelope(f"<ContinueRequest>{first.request_id}</ContinueRequest>"), expire=True)
    assert answer.status.startswith("Error: ") and first.request_id in answer.status


def test_continuation_state_stays_bounded():
    clock = [0.0]
    store = ContinuationStore(max_entries=3, ttl_s=10, clock=lambda: clock[0])
    service = SoapService(build_soap_data(), store=store)
    ids = [call(service, envelope(retrieve("SentEvent", ["SendID"], extra=_batch(10)))).request_id for _ in range(5)]
    assert len(store) == 3 and store.get(ids[0]) is None and store.get(ids[-1]) is not None
    clock[0] = 11
    assert store.get(ids[-1]) is None


def test_finished_chains_drop_their_older_state(service):
    pages = all_pages(service, retrieve("UnsubEvent", ["SendID"], extra=_batch(50)))
    assert len(pages) == 4
    assert service.store.get(pages[0].request_id) is None
    assert service.store.get(pages[1].request_id) is None
    assert len(service.store) == 1  # the last continued id, kept a minute for a retry


# --- business units ---------------------------------------------------------------------------------------


def test_only_the_tokens_unit_is_returned_without_query_all_accounts(service):
    answer = call(service, envelope(retrieve("List", ["Client.ID"])))
    assert {r.findtext(f"{PARTNER_NS}Client/{PARTNER_NS}ID") for r in answer.results} == {str(MAIN_MID)}


def test_query_all_accounts_returns_every_unit(service):
    answer = call(service, envelope(retrieve("List", ["Client.ID"], extra="<QueryAllAccounts>true</QueryAllAccounts>")))
    units = {int(r.findtext(f"{PARTNER_NS}Client/{PARTNER_NS}ID")) for r in answer.results}
    assert units == set(ALL_MIDS)


def owners(answer: Answer) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for r in answer.results:
        found.setdefault(r.findtext(f"{PARTNER_NS}CustomerKey"), set()).add(
            int(r.findtext(f"{PARTNER_NS}Client/{PARTNER_NS}ID"))
        )
    return found


def test_a_childs_token_lists_its_own_data_extensions_and_the_parents_shared_ones_each_with_its_owner(service):
    listing = envelope(retrieve("DataExtension", ["CustomerKey", "Client.ID"]))
    listed = owners(call(service, listing, unit=CHILD_MIDS[0]))
    assert listed == {"event_log": {CHILD_MIDS[0]}, "store_visits": {CHILD_MIDS[0]}, "SURVEY-Q2-2025": {MAIN_MID}}


def test_the_parents_token_lists_its_own_data_extensions_only(service):
    listed = owners(call(service, envelope(retrieve("DataExtension", ["CustomerKey", "Client.ID"]))))
    assert listed["event_log"] == {MAIN_MID} and "store_visits" not in listed


def test_rows_are_found_by_key_within_the_tokens_unit_its_own_first(service):
    def status(unit: int, key: str, prop: str) -> str:
        request = retrieve(f"DataExtensionObject[{key}]", [prop], extra=_batch(1))
        return call(service, envelope(request), unit=unit).status

    child = CHILD_MIDS[0]
    assert status(child, "event_log", "EventId") == "MoreDataAvailable"  # the child's own event_log
    assert status(MAIN_MID, "event_log", "EventId").startswith("Error: The Request Property(s) EventId")
    assert status(child, "SURVEY-Q2-2025", "ResponseId") == "MoreDataAvailable"  # the parent's shared one
    assert status(child, "orders-2024-eu", "OrderId").startswith("Error: Unable to find a handler")
    assert status(MAIN_MID, "store_visits", "VisitId").startswith("Error: Unable to find a handler")


def test_client_ids_select_units(service):
    extra = f"<ClientIDs><ID>{CHILD_MIDS[0]}</ID></ClientIDs>"
    answer = call(service, envelope(retrieve("Send", ["Client.ID", "ID"], extra=extra)))
    assert answer.results and {r.findtext(f"{PARTNER_NS}Client/{PARTNER_NS}ID") for r in answer.results} == {
        str(CHILD_MIDS[0])
    }


# --- data extensions --------------------------------------------------------------------------------------


def test_data_extensions_have_varied_shapes(data):
    specs = [de.spec for de in data.data_extensions if de.spec.owner == MAIN_MID]
    assert 8 <= len(specs) <= 16
    assert any(s.sendable for s in specs) and any(not s.sendable for s in specs)
    assert any(not any(f.primary_key for f in s.fields) for s in specs)
    assert any(not any(f.field_type == "Date" for f in s.fields) for s in specs)
    types = {f.field_type for s in specs for f in s.fields}
    assert types == {"Text", "Number", "Decimal", "Date", "Boolean", "EmailAddress", "Phone", "Locale"}
    assert max(de.rows.size for de in data.data_extensions) >= 2000


def test_data_extension_fields_filtered_by_data_extension_key(service):
    flt = simple("DataExtension.CustomerKey", "IN", "LoyaltyTiers", "orders-2024-eu")
    answer = call(
        service, envelope(retrieve("DataExtensionField", ["CustomerKey", "Name", "FieldType"], filter_xml=flt))
    )
    assert len(answer.results) == 3 + 7
    assert "[LoyaltyTiers].[Multiplier]" in answer.values("CustomerKey")


def test_all_data_extension_fields_page(service, data):
    pages = all_pages(service, retrieve("DataExtensionField", ["CustomerKey"], extra=_batch(20)))
    fields = data.collections["DataExtensionField"]
    parents = sum(1 for i in range(fields.size) if fields.row(i)["Client.ID"] == MAIN_MID)
    assert sum(len(p.results) for p in pages) == parents
    assert len(pages) == 3


@pytest.mark.parametrize("ref", ["orders-2024-eu", "Orders 2024 (EU)"])
def test_data_extension_rows_by_key_or_name(service, ref):
    answer = call(service, envelope(retrieve(f"DataExtensionObject[{ref}]", ["OrderId", "Amount"], extra=_batch(5))))
    first = answer.results[0]
    assert first.get(XSI_TYPE) == "DataExtensionObject"
    assert first.findtext(f"{PARTNER_NS}Type") == "DataExtensionObject"
    names = [p.findtext(f"{PARTNER_NS}Name") for p in first.iter(f"{PARTNER_NS}Property")]
    assert names == ["OrderId", "Amount"]


def test_data_extension_date_filter_uses_server_time(service, data):
    de = data.data_extension("orders-2024-eu")
    flt = simple("OrderDate", "greaterThanOrEqual", "2025-06-01T00:00:00")
    answer = all_pages(service, retrieve("DataExtensionObject[orders-2024-eu]", ["OrderDate"], filter_xml=flt))
    got = sum(len(p.results) for p in answer)
    cutoff = utc_ms(2025, 6, 1, 6)
    assert got == sum(1 for i in range(de.rows.size) if parse_sfmc_datetime(de.rows.row(i)["OrderDate"]) >= cutoff) > 0


def test_like_is_refused_on_data_extension_rows(service):
    flt = simple("Status", "like", "Ship%")
    answer = call(service, envelope(retrieve("DataExtensionObject[orders-2024-eu]", ["OrderId"], filter_xml=flt)))
    assert answer.status.startswith("Error: ") and not answer.results


def test_unknown_data_extension_field_is_refused(service):
    answer = call(service, envelope(retrieve("DataExtensionObject[orders-2024-eu]", ["OrderId", "Nope"])))
    assert answer.status.startswith("Error: The Request Property(s) Nope")


def test_data_extension_keys_collide_under_naive_normalisation_and_include_non_ascii(data):
    keys = {de.key for de in data.data_extensions}
    assert {"Newsletter_DE", "Newsletter.DE", "顧客マスタ"} <= keys


def test_a_data_extension_can_have_no_listed_fields(service, data):
    listed = call(service, envelope(retrieve("DataExtension", ["CustomerKey"])))
    assert "hidden_fields_de" in listed.values("CustomerKey")
    flt = simple("DataExtension.CustomerKey", "equals", "hidden_fields_de")
    assert not call(service, envelope(retrieve("DataExtensionField", ["Name"], filter_xml=flt))).results


def test_rows_serve_the_hidden_custom_object_key_which_no_field_listing_shows(service):
    answer = call(service, envelope(retrieve("DataExtensionObject[event_log]", ["_CustomObjectKey"], extra=_batch(3))))
    assert [value.text for value in answer.root.iter(f"{PARTNER_NS}Value")] == ["1", "2", "3"]
    flt = simple("DataExtension.CustomerKey", "equals", "event_log")
    fields = call(service, envelope(retrieve("DataExtensionField", ["Name"], filter_xml=flt)))
    assert "_CustomObjectKey" not in fields.values("Name")


def test_decimal_18_8_values_reach_the_edges_and_booleans_use_y_n_and_yes_no(service):
    answer = call(
        service,
        envelope(retrieve("DataExtensionObject[ledger_balances]", ["Balance", "Settled", "Audited"], extra=_batch(8))),
    )
    values = [value.text for value in answer.root.iter(f"{PARTNER_NS}Value")]
    assert {"9999999999.99999999", "-9999999999.99999999", "0", "-0.00000001"} <= set(values)
    assert {v.lower() for v in values if v and v.isalpha()} <= {"y", "n", "yes", "no"}


def test_data_extension_rows_render_dates_like_sfmc(service):
    answer = call(service, envelope(retrieve("DataExtensionObject[Customers]", ["ModifiedDate"], extra=_batch(3))))
    for value in answer.root.iter(f"{PARTNER_NS}Value"):
        assert re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2} [AP]M", value.text)


# --- REST rowset ------------------------------------------------------------------------------------------


def rowset(service, key, *, token="good", token_state="ok", scopes=None, **params):
    status, _headers, body = service.handle_rowset(
        key,
        {f"${k}": v for k, v in params.items()},
        token=token,
        token_state=lambda _t: token_state,
        has_scope=lambda _t, s: scopes is None or s in scopes,
    )
    return status, json.loads(body)


def test_rowset_items_have_lower_cased_keys_and_string_values(service):
    status, page = rowset(service, "orders-2024-eu", pageSize="3")
    assert status == 200 and page["count"] == 2000 and page["pageSize"] == 3 and len(page["items"]) == 3
    item = page["items"][0]
    assert set(item["keys"]) == {"orderid"}
    assert set(item["values"]) == {"customerkey", "orderdate", "amount", "currency", "status", "notes"}
    assert all(isinstance(v, str) for v in [*item["keys"].values(), *item["values"].values()])


def test_rowset_pages_add_up(service):
    seen = []
    for page_no in range(1, 5):
        _, page = rowset(service, "product-catalog", page=str(page_no), pageSize="150")
        seen += [i["keys"]["sku"] for i in page["items"]]
    assert len(seen) == len(set(seen)) == 400


def test_rowset_filter_and_order(service, data):
    _, page = rowset(
        service, "orders-2024-eu", filter="OrderDate gt '2025-06-01' and Currency eq 'GBP'", orderBy="OrderDate DESC"
    )
    dates = [parse_sfmc_datetime(i["values"]["orderdate"]) for i in page["items"]]
    assert dates == sorted(dates, reverse=True) and min(dates) > utc_ms(2025, 6, 1, 6)
    assert {i["values"]["currency"] for i in page["items"]} == {"GBP"}


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [({"token": None}, 401), ({"token_state": "expired"}, 401), ({"scopes": {"email_read"}}, 403)],
)
def test_rowset_auth_errors(service, kwargs, status):
    assert rowset(service, "orders-2024-eu", **kwargs)[0] == status


def test_rowset_unknown_key_is_404(service):
    status, body = rowset(service, "nope")
    assert status == 404 and body["errorcode"] == 10000 and "nope" in body["message"]


# --- data set properties ----------------------------------------------------------------------------------


def test_same_seed_same_results_other_seed_other_results():
    inner = retrieve("ClickEvent", ["SendID", "SubscriberKey", "EventDate", "URL"], extra=_batch(50))

    def results(seed):
        body = call(SoapService(build_soap_data(seed=seed)), envelope(inner)).body
        return body[body.index(b"<Results") :]

    assert results(7) == results(7)
    assert results(7) != results(8)


def test_scale_100_builds_instantly_and_generates_on_demand():
    started = time.perf_counter()
    big = build_soap_data(scale=100)
    assert time.perf_counter() - started < 1.0
    sent = big.collections["SentEvent"]
    assert sent.size == 1_500_000
    assert sent.first_index(utc_ms(2025, 6, 30), after=False) < sent.size
    assert sent.row(sent.size - 1)["EventDate"] < utc_ms(2025, 7, 1)


def test_event_dates_are_monotonic_in_the_index(data):
    for name in ("SentEvent", "OpenEvent", "BounceEvent"):
        coll = data.collections[name]
        keys = [coll.order_key(i) for i in range(coll.size)]
        assert keys == sorted(keys)
        assert keys == [coll.row(i)["EventDate"] for i in range(coll.size)]


def test_object_type_of_reads_requests_and_continuations(service):
    assert service.object_type_of(envelope(retrieve("OpenEvent", EVENT_PROPS))) == "OpenEvent"
    first = call(service, envelope(retrieve("OpenEvent", EVENT_PROPS)))
    assert service.object_type_of(envelope(f"<ContinueRequest>{first.request_id}</ContinueRequest>")) == "OpenEvent"
    assert service.object_type_of(b"<junk/>") is None


def _wsdl_elements() -> dict[str, set[str]]:
    xs = "{http://www.w3.org/2001/XMLSchema}"
    types = {t.get("name"): t for t in ET.parse(wsdl_path()).getroot().iter(f"{xs}complexType") if t.get("name")}

    def names(type_name: str) -> set[str]:
        t = types[type_name]
        ext = t.find(f".//{xs}extension")
        inherited = names(ext.get("base").split(":")[-1]) if ext is not None else set()
        return inherited | {e.get("name") for e in t.iter(f"{xs}element") if e.get("name")}

    return {name: names(name) for name in SCHEMAS}


# Retrievable per PROTOCOL.md although the WSDL type does not declare them; PROTOCOL.md wins.
@requires_wsdl
def test_every_retrievable_property_exists_on_the_wsdl_type():
    wsdl = _wsdl_elements()
    missing = {(obj, p.name) for obj, schema in SCHEMAS.items() for p in schema.props if p.path[0] not in wsdl[obj]}
    assert missing == set()
