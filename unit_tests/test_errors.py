import email.utils
import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction
from hypothesis import given, settings
from hypothesis import strategies as st

from source_sfmc.errors import MAX_RETRY_SECONDS, RetryAfterBackoff, SfmcErrorHandler, parsed_body, retry_after_seconds

SOAP_NS = 'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"'


def a_response(status=200, body=b"", headers=None, url="https://mc1.rest.marketingcloudapis.com/hub/v1/campaigns"):
    response = requests.Response()
    response.status_code = status
    response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response.headers.update(headers or {})
    response.request = requests.Request("GET", url).prepare()
    return response


def soap_fault(code, message, api_code=None):
    detail = (
        f'<detail><apifault xmlns="urn:fault.partner.exacttarget.com"><Code>{api_code}</Code>'
        f"<Message>{message}</Message></apifault></detail>"
        if api_code
        else ""
    )
    return (
        f"<soap:Envelope {SOAP_NS}><soap:Body><soap:Fault><faultcode>{code}</faultcode>"
        f"<faultstring>{message}</faultstring>{detail}</soap:Fault></soap:Body></soap:Envelope>"
    ).encode()


def retrieve_answer(status="OK", results=""):
    return (
        f'<soap:Envelope {SOAP_NS}><soap:Body><RetrieveResponseMsg xmlns="http://exacttarget.com/wsdl/partnerAPI">'
        f"<OverallStatus>{status}</OverallStatus><RequestID>r-1</RequestID>{results}"
        "</RetrieveResponseMsg></soap:Body></soap:Envelope>"
    ).encode()


rest = SfmcErrorHandler("campaigns", "rest", ("campaigns_read",))
soap = SfmcErrorHandler("sent_events", "soap", ("tracking_events_read",))


def action(handler, response_or_error):
    return handler.interpret_response(response_or_error).response_action


def test_rest_success_keeps_the_parsed_body():
    response = a_response(200, {"items": [1]})
    assert action(rest, response) == ResponseAction.SUCCESS
    assert parsed_body(response) == {"items": [1]}


def test_rest_truncated_json_is_retried():
    assert action(rest, a_response(200, b'{"items": [{"id": 1}, {"id"')) == ResponseAction.RETRY


def test_rest_401_renews_the_token_then_retries():
    assert action(rest, a_response(401, {"message": "Not Authorized", "errorcode": 0})) == (ResponseAction.RETRY)


def test_rest_403_fails_as_config_error_naming_the_scope():
    resolution = rest.interpret_response(a_response(403, {"message": "Insufficient privileges", "errorcode": 20002}))
    assert resolution.response_action == ResponseAction.FAIL
    assert resolution.failure_type == FailureType.config_error
    assert "'campaigns_read'" in resolution.error_message


@pytest.mark.parametrize(
    "response",
    [
        a_response(429, {"message": "Rate limit exceeded", "errorcode": 50100}, {"Retry-After": "5"}),
        a_response(400, {"message": "Your requests are temporarily blocked.", "errorcode": 50200}),
    ],
)
def test_rest_throttling_is_rate_limited(response):
    assert action(rest, response) == ResponseAction.RATE_LIMITED


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_rest_server_errors_are_retried(status):
    assert action(rest, a_response(status, b"<html>Bad gateway</html>")) == ResponseAction.RETRY


def test_rest_client_error_fails_with_sfmc_message():
    resolution = rest.interpret_response(a_response(400, {"message": "Campaign ID is invalid", "errorcode": 10000}))
    assert resolution.response_action == ResponseAction.FAIL
    assert "Campaign ID is invalid" in resolution.error_message


@pytest.mark.parametrize(
    "error",
    [
        requests.exceptions.ConnectionError("reset"),
        requests.exceptions.ReadTimeout("slow"),
        requests.exceptions.ChunkedEncodingError("cut"),
    ],
)
def test_connection_problems_are_retried(error):
    assert action(rest, error) == ResponseAction.RETRY


def test_soap_success_keeps_the_parsed_page():
    response = a_response(200, retrieve_answer("MoreDataAvailable"))
    assert action(soap, response) == ResponseAction.SUCCESS
    assert parsed_body(response).overall_status == "MoreDataAvailable"


def test_soap_truncated_envelope_is_retried():
    assert action(soap, a_response(200, retrieve_answer()[:-40])) == ResponseAction.RETRY


@pytest.mark.parametrize("message", ["Token Expired", "Login failed"])
def test_soap_security_faults_renew_the_token(message):
    assert action(soap, a_response(500, soap_fault("q0:Security", message))) == ResponseAction.RETRY


def test_soap_rate_limited_fault_backs_off():
    assert action(soap, a_response(500, soap_fault("soap:Server", "Rate Limited", 17))) == ResponseAction.RATE_LIMITED


def test_soap_server_fault_is_retried_with_its_text():
    resolution = soap.interpret_response(a_response(500, soap_fault("soap:Server", "System.OutOfMemoryException")))
    assert resolution.response_action == ResponseAction.RETRY
    assert "System.OutOfMemoryException" in resolution.error_message


def test_soap_client_fault_fails():
    assert action(soap, a_response(500, soap_fault("soap:Client", "Server did not recognize SOAPAction"))) == (
        ResponseAction.FAIL
    )


def test_backoff_honours_retry_after_header():
    assert RetryAfterBackoff().backoff_time(a_response(429, {}, {"Retry-After": "7"}), 1) == 7.0


def test_backoff_honours_retry_after_in_the_body():
    assert RetryAfterBackoff().backoff_time(a_response(429, {"retryAfter": 3}), 1) == 3.0


def test_backoff_without_a_hint_defers_to_the_exponential_default():
    assert RetryAfterBackoff().backoff_time(a_response(503, b""), 1) is None


@pytest.mark.parametrize("header", ["²", "١٢", " 7x"])
def test_a_retry_after_header_that_is_not_ascii_seconds_defers_to_the_default(header):
    assert RetryAfterBackoff().backoff_time(a_response(429, {}, {"Retry-After": header}), 1) is None


NOW = datetime(2026, 11, 29, 21, 0, 0, tzinfo=UTC)


def test_a_retry_after_http_date_waits_until_that_date():
    # RFC 9110, 10.2.3: Retry-After = HTTP-date / delay-seconds.
    assert retry_after_seconds("Sun, 29 Nov 2026 21:00:12 GMT", now=NOW) == 12.0


def test_a_retry_after_http_date_in_the_obsolete_forms_is_read_too():
    assert retry_after_seconds("Sunday, 29-Nov-26 21:00:12 GMT", now=NOW) == 12.0
    assert retry_after_seconds("Sun Nov 29 21:00:12 2026", now=NOW) == 12.0


def test_backoff_reads_a_retry_after_http_date_from_the_response():
    later = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= RetryAfterBackoff().backoff_time(a_response(429, {}, {"Retry-After": later}), 1) <= 30


def test_a_retry_after_in_the_body_given_as_text_is_honoured():
    assert RetryAfterBackoff().backoff_time(a_response(429, {"retryAfter": "9"}), 1) == 9.0


@pytest.mark.parametrize(
    "header", ["Sun, 29 Nov 2026 20:59:00 GMT", "0", "Sun, 29 Nov 1994 08:49:37 GMT", "Sun, 29 Nov 99999 21:00 GMT"]
)
def test_a_retry_after_already_past_or_unreadable_defers_to_the_default(header):
    assert retry_after_seconds(header, now=NOW) is None


@pytest.mark.parametrize("body_value", [-5, 0, float("nan"), "-5", True, [3]])
def test_a_body_retry_after_that_is_not_a_positive_wait_defers_to_the_default(body_value):
    assert retry_after_seconds(None, body_value, now=NOW) is None


@pytest.mark.parametrize(
    ("header", "body_value"), [("99999999999999999999", None), ("Fri, 31 Dec 9999 23:59:59 GMT", None), (None, 1e308)]
)
def test_a_retry_after_beyond_the_retry_budget_is_cut_to_it(header, body_value):
    assert retry_after_seconds(header, body_value, now=NOW) == MAX_RETRY_SECONDS


@settings(max_examples=300, deadline=None)
@given(
    wait=st.integers(min_value=1, max_value=10 * MAX_RETRY_SECONDS),
    form=st.sampled_from(["delta-seconds", "HTTP-date", "body number", "body text"]),
)
def test_any_retry_after_in_either_form_waits_that_long_within_the_budget(wait, form):
    date = email.utils.format_datetime(NOW + timedelta(seconds=wait), usegmt=True)
    header, body_value = {
        "delta-seconds": (str(wait), None),
        "HTTP-date": (date, None),
        "body number": (None, wait),
        "body text": (None, str(wait)),
    }[form]
    assert retry_after_seconds(header, body_value, now=NOW) == min(wait, MAX_RETRY_SECONDS)


def test_an_answer_too_deep_to_parse_is_retried_with_its_cause():
    body = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><RetrieveResponseMsg>'
        b"<OverallStatus>OK</OverallStatus><Results>" + b"<N>" * 200_000 + b"x" + b"</N>" * 200_000 + b"</Results>"
        b"</RetrieveResponseMsg></soap:Body></soap:Envelope>"
    )
    resolution = soap.interpret_response(a_response(200, body))
    assert resolution.response_action == ResponseAction.RETRY
    assert "nested more than 64 levels deep" in resolution.error_message


def a_retrieve_answer(object_type_asked: str) -> requests.Response:
    from source_sfmc.soap.envelope import retrieve_envelope

    body = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><RetrieveResponseMsg>'
        b"<OverallStatus>OK</OverallStatus><Results><ID>7</ID></Results></RetrieveResponseMsg></soap:Body>"
        b"</soap:Envelope>"
    )
    response = a_response(200, body)
    response.request = requests.Request(
        "POST",
        "https://mc1.soap.marketingcloudapis.com/Service.asmx",
        data=retrieve_envelope("t", object_type_asked, ["ID"]),
    ).prepare()
    return response


def test_a_retrieve_of_the_streams_own_object_is_typed_while_it_is_parsed():
    handler = SfmcErrorHandler("emails", "soap", ("email_read",), {"Email": lambda raw: {"id": int(raw["ID"])}})
    response = a_retrieve_answer("Email")
    handler.interpret_response(response)
    assert parsed_body(response).results == [{"id": 7}]


def test_a_retrieve_of_another_object_stays_plain():
    handler = SfmcErrorHandler("emails", "soap", ("email_read",), {"Email": lambda raw: {"id": int(raw["ID"])}})
    response = a_retrieve_answer("DataExtensionField")
    handler.interpret_response(response)
    assert parsed_body(response).results == [{"ID": "7"}]


def test_a_retrieve_asked_for_side_retrieve_stays_plain_even_of_the_streams_own_object():
    from source_sfmc.errors import side_retrieve

    handler = SfmcErrorHandler("folders", "soap", ("email_read",), {"Email": lambda raw: {"id": int(raw["ID"])}})
    response = a_retrieve_answer("Email")
    with side_retrieve():
        handler.interpret_response(response)
    assert parsed_body(response).results == [{"ID": "7"}]


def test_a_body_retry_after_too_large_for_a_float_is_cut_to_the_budget():
    # JSON reads 400 digits as a Python int; float() of it overflowed and the request failed with a traceback.
    body = b'{"retryAfter": ' + b"9" * 400 + b"}"
    assert RetryAfterBackoff().backoff_time(a_response(429, body), 1) == MAX_RETRY_SECONDS


@pytest.mark.parametrize(("header", "body_value"), [(None, "2.5"), ("2.5", None), (None, 2.5)])
def test_a_fractional_retry_after_is_waited_for_as_text_or_number_alike(header, body_value):
    assert retry_after_seconds(header, body_value, now=NOW) == 2.5
