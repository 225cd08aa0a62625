"""Windows that shrink: a window SFMC times out on is read in halves, down to an hour; the span is remembered."""

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest
import requests
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from hypothesis import given
from hypothesis import strategies as st

from source_sfmc.errors import SfmcErrorHandler
from source_sfmc.stream_base import WINDOW_END, WINDOW_START
from source_sfmc.window_split import MIN_WINDOW, WindowSpan, halves, span_text
from unit_tests.test_soap_streams import SOAP_URL, retrieve_page, streams, token_endpoint  # noqa: F401 (autouse)

TIMEOUT_FAULT = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>'
    "<faultcode>soap:Server</faultcode><faultstring>Server was unable to process request. ---&gt; Timeout expired.  "
    "The timeout period elapsed prior to completion of the operation or the server is not responding."
    "</faultstring></soap:Fault></soap:Body></soap:Envelope>"
)
_DATE_VALUE = re.compile(r"<DateValue>([^<]+)</DateValue>")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class DenseSfmc:
    """Answers a windowed retrieve with one record, or with SFMC's timeout fault when the window is longer than
    `longest`; records every window it was asked for."""

    def __init__(self, longest: timedelta, answer_timeout=None) -> None:
        self.longest = longest
        self.windows: list[tuple[datetime, datetime]] = []
        self.timed_out: list[tuple[datetime, datetime]] = []
        self.answer_timeout = answer_timeout

    def __call__(self, request, context):
        lower, upper = (at(value) for value in _DATE_VALUE.findall(request.text))
        self.windows.append((lower, upper))
        if upper - lower > self.longest:
            self.timed_out.append((lower, upper))
            if self.answer_timeout:
                raise self.answer_timeout
            context.status_code = 500
            return TIMEOUT_FAULT
        return retrieve_page("OK", "r", int(lower.timestamp()))


def read(stream, lower: str, upper: str):
    window = {WINDOW_START: lower, WINDOW_END: upper}
    return list(stream.read_records(SyncMode.full_refresh, stream_slice=window))


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: None)


def test_a_window_sfmc_times_out_on_is_read_as_two_halves(requests_mock):
    sfmc = DenseSfmc(longest=timedelta(days=15))
    requests_mock.post(SOAP_URL, text=sfmc)
    records = read(streams()["sent_events"], "2025-01-01T00:00:00.000Z", "2025-01-31T00:00:00.000Z")
    assert sfmc.windows == [
        (at("2025-01-01T00:00:00Z"), at("2025-01-31T00:00:00Z")),
        (at("2025-01-01T00:00:00Z"), at("2025-01-16T00:00:00Z")),
        (at("2025-01-16T00:00:00Z"), at("2025-01-31T00:00:00Z")),
    ]
    assert len(records) == 2


def test_halves_split_again_until_sfmc_answers(requests_mock):
    sfmc = DenseSfmc(longest=timedelta(days=4))
    requests_mock.post(SOAP_URL, text=sfmc)
    records = read(streams()["sent_events"], "2025-01-01T00:00:00.000Z", "2025-01-31T00:00:00.000Z")
    answered = [window for window in sfmc.windows if window not in sfmc.timed_out]
    assert answered[0][0] == at("2025-01-01T00:00:00Z") and answered[-1][1] == at("2025-01-31T00:00:00Z")
    assert all(earlier[1] == later[0] for earlier, later in itertools.pairwise(answered))
    assert {upper - lower for lower, upper in answered} == {timedelta(days=3, hours=18)}
    assert len(records) == 8


def test_a_request_that_gets_no_answer_in_time_splits_the_window_too(requests_mock):
    sfmc = DenseSfmc(longest=timedelta(days=15), answer_timeout=requests.exceptions.ReadTimeout("read timed out"))
    requests_mock.post(SOAP_URL, text=sfmc)
    records = read(streams()["sent_events"], "2025-01-01T00:00:00.000Z", "2025-01-31T00:00:00.000Z")
    assert len(sfmc.timed_out) == 1 and len(records) == 2


def test_later_windows_of_the_stream_start_at_the_smaller_span(requests_mock):
    sfmc = DenseSfmc(longest=timedelta(days=8))
    requests_mock.post(SOAP_URL, text=sfmc)
    stream = streams()["sent_events"]
    read(stream, "2025-01-01T00:00:00.000Z", "2025-01-31T00:00:00.000Z")
    timeouts_in_first_window = len(sfmc.timed_out)
    read(stream, "2025-01-31T00:00:00.000Z", "2025-03-02T00:00:00.000Z")
    assert timeouts_in_first_window == 2
    assert len(sfmc.timed_out) == timeouts_in_first_window  # the second window never asked for more than it learned
    assert stream.window_span.span == timedelta(days=7, hours=12)


def test_the_learned_span_belongs_to_one_stream(requests_mock):
    requests_mock.post(SOAP_URL, text=DenseSfmc(longest=timedelta(days=8)))
    by_name = streams()
    read(by_name["sent_events"], "2025-01-01T00:00:00.000Z", "2025-01-31T00:00:00.000Z")
    assert by_name["open_events"].window_span.span is None


def test_a_window_still_timing_out_at_one_hour_fails_with_a_clear_message(requests_mock):
    sfmc = DenseSfmc(longest=timedelta(minutes=10))
    requests_mock.post(SOAP_URL, text=sfmc)
    with pytest.raises(AirbyteTracedException) as failed:
        read(streams()["sent_events"], "2025-01-01T00:00:00.000Z", "2025-01-01T04:00:00.000Z")
    message = failed.value.message
    assert message.startswith("Stream 'sent_events'")
    assert "Marketing Cloud timed out 3 times retrieving SentEvent between 2025-01-01T00:00:00.000Z and " in message
    assert "(a piece of 1 hour; pieces of 1 hour or less are not split further)" in message
    assert failed.value.failure_type.value == "transient_error"
    assert min(upper - lower for lower, upper in sfmc.windows) == MIN_WINDOW


def test_the_failure_names_the_real_span_of_the_piece_that_kept_timing_out(requests_mock):
    # A day halves to 12 h, 6 h, 3 h, 1 h 30 min, then 45 min: shorter than the one-hour floor, not 1 hour.
    sfmc = DenseSfmc(longest=timedelta(minutes=10))
    requests_mock.post(SOAP_URL, text=sfmc)
    with pytest.raises(AirbyteTracedException) as failed:
        read(streams()["sent_events"], "2025-01-01T00:00:00.000Z", "2025-01-02T00:00:00.000Z")
    assert "(a piece of 45 minutes; pieces of 1 hour or less are not split further)" in failed.value.message
    assert "1:00:00" not in failed.value.message
    assert min(upper - lower for lower, upper in sfmc.windows) == timedelta(minutes=45)


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (timedelta(hours=1), "1 hour"),
        (timedelta(minutes=42, seconds=11), "42 minutes 11 seconds"),
        (timedelta(days=3, hours=18), "3 days 18 hours"),
        (timedelta(milliseconds=400), "0 seconds"),
    ],
)
def test_a_span_is_said_as_people_say_it(span, text):
    assert span_text(span) == text


def test_a_timeout_of_a_stream_without_windows_is_retried_not_split(requests_mock):
    route = requests_mock.post(
        SOAP_URL, [{"status_code": 500, "text": TIMEOUT_FAULT}, {"text": retrieve_page("OK", "r", 1)}]
    )
    records = list(streams()["subscribers"].read_records(SyncMode.full_refresh, stream_slice={}))
    assert len(records) == 1 and route.call_count == 2


# -- the error policy tells a timeout apart --------------------------------------------------------------------
def a_fault_response(body: str, status: int = 500, request: requests.PreparedRequest | None = None):
    response = requests.Response()
    response.status_code, response._content, response.request = status, body.encode(), request
    return response


@pytest.mark.parametrize(
    "outcome",
    [
        pytest.param(lambda: a_fault_response(TIMEOUT_FAULT), id="timeout fault"),
        pytest.param(lambda: requests.exceptions.ReadTimeout("read timed out"), id="no answer in time"),
    ],
)
def test_a_timeout_is_a_window_split_for_a_stream_that_can_split(outcome):
    handler = SfmcErrorHandler("sent_events", "soap", ("tracking_events_read",), split_on_timeout=True)
    assert handler.interpret_response(outcome()).response_action == ResponseAction.SPLIT_REQUEST_WINDOW


@pytest.mark.parametrize(
    "outcome",
    [
        pytest.param(lambda: a_fault_response(TIMEOUT_FAULT), id="timeout fault"),
        pytest.param(lambda: requests.exceptions.ReadTimeout("read timed out"), id="no answer in time"),
    ],
)
def test_a_timeout_is_retried_for_a_stream_that_cannot_split(outcome):
    handler = SfmcErrorHandler("subscribers", "soap", ("list_and_subscribers_read",))
    assert handler.interpret_response(outcome()).response_action == ResponseAction.RETRY


def test_a_connection_that_cannot_be_made_in_time_is_retried_not_split():
    handler = SfmcErrorHandler("sent_events", "soap", ("tracking_events_read",), split_on_timeout=True)
    resolution = handler.interpret_response(requests.exceptions.ConnectTimeout("connect timed out"))
    assert resolution.response_action == ResponseAction.RETRY


def test_other_server_faults_are_still_retried():
    other = TIMEOUT_FAULT.replace("Timeout expired", "Object reference not set to an instance of an object")
    handler = SfmcErrorHandler("sent_events", "soap", ("tracking_events_read",), split_on_timeout=True)
    assert handler.interpret_response(a_fault_response(other)).response_action == ResponseAction.RETRY


def test_only_event_and_modified_date_streams_split_their_windows():
    splitting = {name for name, stream in streams().items() if stream.can_split_windows}
    assert "sent_events" in splitting and "emails" in splitting
    assert "subscribers" not in splitting and "list_sends" not in splitting
    assert "link_sends" not in splitting  # read per send with its own read_slice


# -- window arithmetic -----------------------------------------------------------------------------------------
instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))


@given(lower=instants, milliseconds=st.integers(min_value=2, max_value=400 * 86_400_000))
def test_halves_are_adjacent_cover_the_window_and_split_on_a_millisecond(lower, milliseconds):
    lower = lower.replace(microsecond=lower.microsecond // 1000 * 1000)
    upper = lower + timedelta(milliseconds=milliseconds)
    (a, b), (c, d) = halves(lower, upper)
    assert a == lower and b == c and d == upper
    assert a < b < d and b.microsecond % 1000 == 0
    assert abs((b - a) - (d - c)) <= timedelta(milliseconds=1)


def test_the_span_only_shrinks():
    span = WindowSpan()
    span.shrink_to(timedelta(days=2))
    span.shrink_to(timedelta(days=5))
    assert span.span == timedelta(days=2)


def test_an_empty_piece_lets_the_span_grow_again(requests_mock):
    sfmc = DenseSfmc(longest=timedelta(days=8))
    requests_mock.post(SOAP_URL, text=sfmc)
    stream = streams()["sent_events"]
    read(stream, "2025-01-01T00:00:00.000Z", "2025-01-31T00:00:00.000Z")
    quiet = requests_mock.post(SOAP_URL, text=retrieve_page("OK", "r"))  # a month without records
    read(stream, "2025-01-31T00:00:00.000Z", "2025-03-02T00:00:00.000Z")
    assert quiet.call_count == 3  # 7.5 days, then 15, then the 7.5 left
    assert stream.window_span.span >= timedelta(days=30)


def test_checks_probe_is_retried_on_a_timeout_not_split(requests_mock):
    route = requests_mock.post(
        SOAP_URL, [{"status_code": 500, "text": TIMEOUT_FAULT}, {"text": retrieve_page("OK", "r", 1)}]
    )
    streams()["sent_events"].probe()
    assert route.call_count == 2


def test_checks_probe_that_keeps_timing_out_says_so(requests_mock):
    requests_mock.post(SOAP_URL, status_code=500, text=TIMEOUT_FAULT)
    with pytest.raises(AirbyteTracedException, match="timed out 3 times answering a one-page SentEvent retrieve"):
        streams()["sent_events"].probe()


# -- requests outside a window are retried, whatever stream sends them -------------------------------------------
@pytest.mark.parametrize(
    "outcome",
    [
        pytest.param({"status_code": 500, "text": TIMEOUT_FAULT}, id="timeout fault"),
        pytest.param({"exc": requests.exceptions.ReadTimeout("read timed out")}, id="no answer in time"),
    ],
)
def test_a_side_listing_of_a_splitting_stream_is_retried_on_a_timeout_not_split(requests_mock, outcome):
    route = requests_mock.post(SOAP_URL, [outcome, {"text": retrieve_page("OK", "r", 1)}])
    folders = streams()["folders"]
    assert folders.can_split_windows
    assert len(list(folders.retrieve("DataFolder", ("ID", "Name")))) == 1
    assert route.call_count == 2


@pytest.mark.parametrize(
    "outcome",
    [
        pytest.param(lambda request: a_fault_response(TIMEOUT_FAULT, request=request), id="timeout fault"),
        pytest.param(lambda request: requests.exceptions.ReadTimeout("slow", request=request), id="no answer in time"),
    ],
)
def test_a_describe_timing_out_is_retried_not_split(outcome):
    describe = requests.Request(
        "POST", SOAP_URL, headers={"SOAPAction": "Describe"}, data=b"<DefinitionRequestMsg/>"
    ).prepare()
    handler = SfmcErrorHandler("sent_events", "soap", ("tracking_events_read",), split_on_timeout=True)
    assert handler.interpret_response(outcome(describe)).response_action == ResponseAction.RETRY


def test_a_timeout_on_a_continuation_page_rereads_the_window_in_halves_and_loses_nothing(requests_mock):
    route = requests_mock.post(
        SOAP_URL,
        [
            {"text": retrieve_page("MoreDataAvailable", "r-1", 1, 2)},
            {"status_code": 500, "text": TIMEOUT_FAULT},
            {"text": retrieve_page("OK", "r-2", 1)},
            {"text": retrieve_page("OK", "r-3", 2, 3)},
        ],
    )
    records = read(streams()["sent_events"], "2025-01-01T00:00:00.000Z", "2025-01-03T00:00:00.000Z")
    assert [r["SendID"] for r in records] == [1, 2, 1, 2, 3]  # the first pages again, deduplicated by entity_id
    assert b"ContinueRequest" in route.request_history[1].body
    halves = [_DATE_VALUE.findall(request.text) for request in route.request_history[2:]]
    assert halves == [
        ["2025-01-01T00:00:00.000Z", "2025-01-02T00:00:00.000Z"],
        ["2025-01-02T00:00:00.000Z", "2025-01-03T00:00:00.000Z"],
    ]


def test_a_span_widened_by_any_number_of_empty_pieces_never_overflows():
    span = WindowSpan()
    span.shrink_to(timedelta(hours=1))
    for _ in range(64):
        span.widen()
    assert timedelta(hours=1) < span.span < timedelta(days=999_999_999)


def test_windows_read_after_many_empty_pieces_are_read_whole(requests_mock):
    # Many empty windows (quiet business units of an every-unit sync) doubled the span until the next window's
    # `start + span` passed year 9999: the stream failed with OverflowError.
    sfmc = DenseSfmc(longest=timedelta(days=8))
    requests_mock.post(SOAP_URL, text=sfmc)
    stream = streams()["sent_events"]
    read(stream, "2025-01-01T00:00:00.000Z", "2025-01-31T00:00:00.000Z")
    quiet = requests_mock.post(SOAP_URL, text=retrieve_page("OK", "r"))
    for _ in range(40):
        read(stream, "2025-01-31T00:00:00.000Z", "2025-03-02T00:00:00.000Z")
    before = quiet.call_count
    read(stream, "2025-03-02T00:00:00.000Z", "2025-04-01T00:00:00.000Z")
    assert quiet.call_count == before + 1
