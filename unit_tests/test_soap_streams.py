"""The SOAP stream table: every stream's envelopes validate against the WSDL, and its records are keyed and typed."""

import re

import pytest

from source_sfmc.business_units import UnitTokens
from source_sfmc.config import parse_config
from source_sfmc.keys import digest
from source_sfmc.soap.parse import RetrievePage
from source_sfmc.soap.streams import SOAP_OBJECTS, soap_properties, soap_streams
from source_sfmc.stream_base import WINDOW_END, WINDOW_START, SyncContext, load_schema
from unit_tests.wsdl import assert_valid_retrieve

SUBDOMAIN = "mc563885gzs27c5t9-63k636ttgm"
TOKEN_URL = f"https://{SUBDOMAIN}.auth.marketingcloudapis.com/v2/token"
A_WINDOW = {WINDOW_START: "2025-01-01T00:00:00.000Z", WINDOW_END: "2025-01-31T00:00:00.000Z"}


def a_context(*, describe=False, **overrides):
    """A sync's context; unless `describe`, as if Describe had already answered that it knows none of the types
    (so every schema property is requested and no Describe request is made)."""
    config = parse_config(
        {
            "client_id": "a-client-id-0123",
            "client_secret": "a-client-secret-4567",
            "subdomain": SUBDOMAIN,
            "start_date": "2025-01-01",
            **overrides,
        }
    )
    context = SyncContext(config=config, authenticator=UnitTokens(config))
    if not describe:
        for spec in SOAP_OBJECTS:
            context.memo(f"describe:{spec.object_type}", lambda: None)
    return context


@pytest.fixture(autouse=True)
def token_endpoint(requests_mock):
    requests_mock.post(
        TOKEN_URL,
        json={
            "access_token": "tok",
            "expires_in": 1079,
            "rest_instance_url": f"https://{SUBDOMAIN}.rest.marketingcloudapis.com/",
            "soap_instance_url": f"https://{SUBDOMAIN}.soap.marketingcloudapis.com/",
        },
    )


def streams(**overrides):
    return {stream.stream_name: stream for stream in soap_streams(a_context(**overrides))}


STREAM_NAMES = [spec.stream_name for spec in SOAP_OBJECTS]


@pytest.mark.parametrize("name", STREAM_NAMES)
@pytest.mark.parametrize("options", [{}, {"all_business_units": True}, {"account_id": "7281234"}])
def test_first_page_envelope_of_every_stream_is_valid(name, options):
    stream = streams(**options)[name]
    assert_valid_retrieve(stream.envelope({}))
    assert_valid_retrieve(stream.envelope(A_WINDOW))


@pytest.mark.parametrize("name", STREAM_NAMES)
def test_continue_page_envelope_of_every_stream_is_valid(name):
    assert_valid_retrieve(streams()[name].envelope(A_WINDOW, request_id="e5b8151e-5a2c-4b44-9d3f-11e3c7a0f0aa"))


@pytest.mark.parametrize("name", STREAM_NAMES)
def test_properties_come_from_the_schema(name):
    stream = streams()[name]
    assert "entity_id" not in stream.properties
    assert "Client.ID" in stream.properties
    assert set(stream.properties) <= set(_schema_paths(load_schema(name)))


def _schema_paths(schema):
    for field, spec in schema["properties"].items():
        children = spec.get("properties") or spec.get("items", {}).get("properties")
        if children and not spec.get("x-sfmc-map") and not spec.get("x-sfmc-whole"):
            yield from (f"{field}.{child}" for child in children)
        else:
            yield field


def test_a_repeated_nested_object_is_requested_by_its_children():
    assert "ContentAreas.ID" in streams()["emails"].properties


def test_an_object_marked_whole_is_requested_by_its_name():
    properties = streams()["subscribers"].properties
    assert "Addresses" in properties
    assert not [p for p in properties if p.startswith("Addresses.")]


def test_event_window_is_half_open_on_event_date():
    body = streams()["sent_events"].envelope(A_WINDOW).decode()
    assert "<Property>EventDate</Property><SimpleOperator>greaterThanOrEqual</SimpleOperator>" in body
    assert "<SimpleOperator>lessThan</SimpleOperator><DateValue>2025-01-31T00:00:00.000Z</DateValue>" in body


@pytest.mark.parametrize("name", [name for name in STREAM_NAMES if name != "business_units"])
def test_synced_objects_never_cross_business_units_in_one_retrieve(name):
    # Every business unit is read with its own token: a retrieve asking for other units too would read their
    # records twice.
    body = streams(all_business_units=True)[name].envelope({})
    assert b"QueryAllAccounts" not in body and b"ClientIDs" not in body


def test_business_units_are_listed_once_across_units_from_the_home_unit():
    stream = streams(all_business_units=True)["business_units"]
    assert b"<QueryAllAccounts>true</QueryAllAccounts>" in stream.envelope({})
    assert stream.units() == (None,)


def test_map_fields_are_requested_by_their_name():
    assert "Attributes" in soap_properties(load_schema("subscribers"))


def an_event(**fields):
    return {
        "SendID": "364147",
        "SubscriberKey": "a@example.com",
        "EventType": "Click",
        "EventDate": "2025-01-03T08:15:27.123",
        "URL": "https://example.com/a",
        "Client": {"ID": "7281234"},
        **fields,
    }


class FakeResponse:
    def __init__(self, page):
        self._sfmc_parsed = page
        self.request = type("Request", (), {"body": b"<RetrieveRequest>"})()


def parse(stream_name, *results):
    """A page's records, as the stream emits them from parsed results (typed while parsing where it does that)."""
    stream = streams()[stream_name]
    if stream.types_while_parsing:
        results = tuple(stream.record(raw) for raw in results)
    return list(stream.parse_response(FakeResponse(RetrievePage("OK", "r-1", list(results)))))


def test_event_records_are_typed_with_utc_dates():
    (record,) = parse("click_events", an_event())
    assert record["SendID"] == 364147
    assert record["Client"] == {"ID": 7281234}
    assert record["EventDate"] == "2025-01-03T14:15:27.123000+00:00"


def test_same_event_gets_the_same_entity_id():
    assert parse("click_events", an_event())[0]["entity_id"] == parse("click_events", an_event())[0]["entity_id"]


def test_clicks_on_different_urls_are_different_events():
    first, second = parse("click_events", an_event(), an_event(URL="https://example.com/b"))
    assert first["entity_id"] != second["entity_id"]


def test_answers_to_one_survey_question_at_once_are_different_events():
    # SFMC's SurveyEvent page: one event per question and answer pair (a question taking several answers).
    question = {"EventType": "Survey", "Question": "Which topics interest you?"}
    first, second = parse("survey_events", an_event(**question, Answer="Sales"), an_event(**question, Answer="Tips"))
    assert first["entity_id"] != second["entity_id"]


def test_entity_id_is_a_digest_of_the_identifying_fields():
    (record,) = parse("sent_events", an_event(EventType="Sent"))
    assert record["entity_id"] == digest("364147", "a@example.com", "Sent", "2025-01-03T08:15:27.123", None)


def test_list_subscriber_is_keyed_by_list_and_subscriber():
    (record,) = parse("list_subscribers", {"ListID": "12", "SubscriberKey": "k1", "Status": "Active"})
    assert record["entity_id"] == "12:k1"


def test_error_status_fails_with_its_text():
    stream = streams()["sent_events"]
    page = RetrievePage(
        "Error: The Request Property(s) Foo do not match with the fields of SentEvent retrieve", "r", []
    )
    with pytest.raises(Exception, match="do not match"):
        list(stream.parse_response(FakeResponse(page)))


SOAP_URL = f"https://{SUBDOMAIN}.soap.marketingcloudapis.com/Service.asmx"


def retrieve_page(status, request_id, *send_ids):
    results = "".join(
        f'<Results xsi:type="SentEvent"><SendID>{send_id}</SendID><SubscriberKey>k{send_id}</SubscriberKey>'
        "<EventDate>2025-01-03T08:15:27.123</EventDate><EventType>Sent</EventType></Results>"
        for send_id in send_ids
    )
    return (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body>'
        '<RetrieveResponseMsg xmlns="http://exacttarget.com/wsdl/partnerAPI">'
        f"<OverallStatus>{status}</OverallStatus><RequestID>{request_id}</RequestID>{results}"
        "</RetrieveResponseMsg></soap:Body></soap:Envelope>"
    )


def read_window(stream_name="sent_events"):
    from airbyte_cdk.models import SyncMode

    return list(streams()[stream_name].read_records(SyncMode.full_refresh, stream_slice=A_WINDOW))


def test_pages_are_continued_with_the_request_id_until_ok(requests_mock):
    route = requests_mock.post(
        SOAP_URL,
        [{"text": retrieve_page("MoreDataAvailable", "r-1", 1, 2)}, {"text": retrieve_page("OK", "r-2", 3)}],
    )
    assert [record["SendID"] for record in read_window()] == [1, 2, 3]
    first, second = (request.text for request in route.request_history)
    assert "<ContinueRequest>" not in first and "<Filter" in first
    assert "<ContinueRequest>r-1</ContinueRequest>" in second
    assert route.request_history[1].headers["SOAPAction"] == "Retrieve"


def test_an_expired_request_id_rereads_the_window_from_its_first_page(requests_mock, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    expired = "Error: Unable to continue the retrieve: RequestID r-1 is unknown or has expired."
    route = requests_mock.post(
        SOAP_URL,
        [
            {"text": retrieve_page("MoreDataAvailable", "r-1", 1, 2)},
            {"text": retrieve_page(expired, "r-x")},
            {"text": retrieve_page("MoreDataAvailable", "r-3", 1, 2)},
            {"text": retrieve_page("OK", "r-4", 3)},
        ],
    )
    assert [record["SendID"] for record in read_window()] == [1, 2, 1, 2, 3]
    assert "<ContinueRequest>" not in route.request_history[2].text


def test_a_token_expired_fault_gets_a_new_token_into_the_retried_envelope(requests_mock, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    requests_mock.post(
        TOKEN_URL,
        [
            {
                "json": {
                    "access_token": f"tok-{n}",
                    "expires_in": 1079,
                    "soap_instance_url": SOAP_URL[:-12],
                    "rest_instance_url": f"https://{SUBDOMAIN}.rest.marketingcloudapis.com/",
                }
            }
            for n in (1, 2)
        ],
    )
    fault = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>'
        "<faultcode>q0:Security</faultcode><faultstring>Token Expired</faultstring>"
        "</soap:Fault></soap:Body></soap:Envelope>"
    )
    # The HTTP client re-sends the same prepared request, so record each body as it is sent.
    sent_bodies = []
    answers = iter([(500, fault), (200, retrieve_page("OK", "r", 1))])

    def answer(request, context):
        sent_bodies.append(request.text)
        context.status_code, body = next(answers)
        return body

    requests_mock.post(SOAP_URL, text=answer)
    assert len(read_window()) == 1
    assert ">tok-1<" in sent_bodies[0]
    assert ">tok-2<" in sent_bodies[1] and "tok-1" not in sent_bodies[1]


def soap_answer(status, request_id, results):
    return (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body>'
        '<RetrieveResponseMsg xmlns="http://exacttarget.com/wsdl/partnerAPI">'
        f"<OverallStatus>{status}</OverallStatus><RequestID>{request_id}</RequestID>{results}"
        "</RetrieveResponseMsg></soap:Body></soap:Envelope>"
    )


def a_send(send_id):
    return f'<Results xsi:type="Send"><ID>{send_id}</ID><SendDate>2025-01-03T08:15:27.123</SendDate></Results>'


def a_link_send(send_id, link_id):
    return (
        f'<Results xsi:type="LinkSend"><ID>{link_id}</ID><SendID>{send_id}</SendID>'
        f"<Link><ID>{link_id}</ID><TotalClicks>3</TotalClicks><URL>https://example.com/{link_id}</URL></Link></Results>"
    )


@pytest.mark.parametrize(
    ("send_ids", "batches_asked", "more_links"),
    [
        (list(map(str, range(1, 51))), [(50, "IN")], []),
        ([*map(str, range(1, 51)), "S-51"], [(50, "IN"), (1, "equals")], []),
        ([*map(str, range(1, 52)), "S-52"], [(50, "IN"), (2, "IN")], ["51:5100"]),
    ],
    ids=["50 sends", "51 sends, the last id not a number", "52 sends"],
)
def test_link_sends_asks_for_the_links_of_50_sends_at_a_time(requests_mock, send_ids, batches_asked, more_links):
    # Only the first two sends of a batch have links (the others none); the first batch's answer needs a
    # ContinueRequest, which brings send 3's link.
    batches = []

    def answer(request, _):
        body = request.text
        assert_valid_retrieve(request.body)
        if "<ObjectType>Send</ObjectType>" in body:
            return soap_answer("OK", "r-s", "".join(map(a_send, send_ids)))
        if "<ContinueRequest>r-1</ContinueRequest>" in body:
            return soap_answer("OK", "r-2", a_link_send("3", 300))
        asked = re.findall(r"<Value>([^<]*)</Value>", body)
        batches.append((len(asked), re.search(r"<SimpleOperator>(\w+)</SimpleOperator>", body).group(1)))
        links = "".join(a_link_send(send_id, int(send_id) * 100) for send_id in asked[:2] if send_id.isdigit())
        return soap_answer("MoreDataAvailable" if len(batches) == 1 else "OK", "r-1", links)

    requests_mock.post(SOAP_URL, text=answer)

    records = read_window("link_sends")

    assert batches == batches_asked
    assert [record["entity_id"] for record in records] == ["1:100", "2:200", "3:300", *more_links]
    assert {record["SendDate"] for record in records} == {"2025-01-03T14:15:27.123000+00:00"}


def test_sends_without_an_id_get_no_link_request_and_one_warning(requests_mock, caplog):
    asked = []

    def answer(request, _):
        body = request.text
        if "<ObjectType>Send</ObjectType>" in body:
            blank = '<Results xsi:type="Send"><ID> </ID><SendDate>2025-01-03T08:15:27.123</SendDate></Results>'
            return soap_answer("OK", "r-s", a_send("7") + blank + a_send(""))
        asked.extend(re.findall(r"<Value>([^<]*)</Value>", body))
        return soap_answer("OK", "r-1", a_link_send("7", 700))

    requests_mock.post(SOAP_URL, text=answer)

    records = read_window("link_sends")

    assert asked == ["7"]
    assert [record["entity_id"] for record in records] == ["7:700"]
    (warning,) = [r.getMessage() for r in caplog.records if "had no 'ID'" in r.getMessage()]
    assert "'link_sends'" in warning and "2 sends" in warning


def a_describe_answer(object_type, retrievable, not_retrievable=()):
    properties = "".join(
        f"<Properties><Name>{name}</Name><IsRetrievable>{str(ok).lower()}</IsRetrievable></Properties>"
        for names, ok in ((retrievable, True), (not_retrievable, False))
        for name in names
    )
    return (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        '<DefinitionResponseMsg xmlns="http://exacttarget.com/wsdl/partnerAPI">'
        f"<ObjectDefinition><ObjectType>{object_type}</ObjectType>{properties}</ObjectDefinition>"
        "<RequestID>d-1</RequestID></DefinitionResponseMsg></soap:Body></soap:Envelope>"
    )


def test_a_property_describe_marks_not_retrievable_is_not_requested_and_is_null(requests_mock, caplog):
    from airbyte_cdk.models import SyncMode

    stream = soap_streams(a_context(describe=True))[[s.stream_name for s in SOAP_OBJECTS].index("sent_events")]
    wanted = [name for name in stream.properties if name != "TriggeredSendDefinitionObjectID"]
    sent = []

    def answer(request, context):
        sent.append((request.headers["SOAPAction"], request.text))
        if request.headers["SOAPAction"] == "Describe":
            return a_describe_answer("SentEvent", wanted, ["TriggeredSendDefinitionObjectID"])
        return retrieve_page("OK", "r", 1, 2)

    requests_mock.post(SOAP_URL, text=answer)
    records = list(stream.read_records(SyncMode.full_refresh, stream_slice=A_WINDOW))
    records += list(stream.read_records(SyncMode.full_refresh, stream_slice=A_WINDOW))
    assert [action for action, _ in sent] == ["Describe", "Retrieve", "Retrieve"]
    assert "<ObjectType>SentEvent</ObjectType>" in sent[0][1]
    assert all("TriggeredSendDefinitionObjectID" not in body for _, body in sent[1:])
    assert all("<Properties>SendID</Properties>" in body for _, body in sent[1:])
    assert [record["TriggeredSendDefinitionObjectID"] for record in records] == [None] * 4
    assert caplog.text.count("SentEvent.TriggeredSendDefinitionObjectID cannot be retrieved") == 1


def test_a_type_whose_properties_are_all_unretrievable_fails_as_a_config_error(requests_mock):
    from airbyte_cdk.utils.traced_exception import AirbyteTracedException

    stream = soap_streams(a_context(describe=True))[0]
    requests_mock.post(SOAP_URL, text=a_describe_answer(stream.spec.object_type, [], stream.properties))
    with pytest.raises(AirbyteTracedException, match="deselect the stream") as raised:
        stream.envelope({})
    assert raised.value.failure_type.value == "config_error"


def test_a_describe_that_failed_is_not_sent_again_by_the_streams_later_windows(requests_mock):
    from airbyte_cdk.models import SyncMode

    stream = soap_streams(a_context(describe=True))[[s.stream_name for s in SOAP_OBJECTS].index("sent_events")]
    fault = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>'
        "<faultcode>soap:Client</faultcode><faultstring>Unable to describe SentEvent</faultstring>"
        "</soap:Fault></soap:Body></soap:Envelope>"
    )
    route = requests_mock.post(SOAP_URL, text=fault, status_code=500)
    later = {WINDOW_START: "2025-01-31T00:00:00.000Z", WINDOW_END: "2025-03-02T00:00:00.000Z"}
    for window in (A_WINDOW, later):
        with pytest.raises(Exception, match="Unable to describe SentEvent") as raised:
            list(stream.read_records(SyncMode.full_refresh, stream_slice=window))
        assert f"window {window[WINDOW_START]} to" in str(raised.value.message)  # each failure names its window
    assert route.call_count == 1
