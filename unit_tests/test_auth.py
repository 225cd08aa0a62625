import email.utils
import json
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape as xml_escape

import pytest
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets
from airbyte_cdk.utils.datetime_helpers import ab_datetime_now
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_sfmc.auth import SfmcAuthenticator, TokenError
from source_sfmc.config import parse_config
from source_sfmc.errors import ACCESS_DENIED_ATTRIBUTE
from source_sfmc.masking import register_secret
from source_sfmc.soap.envelope import retrieve_envelope

SUBDOMAIN = "mc563885gzs27c5t9-63k636ttgm"
TOKEN_URL = f"https://{SUBDOMAIN}.auth.marketingcloudapis.com/v2/token"
REST = f"https://{SUBDOMAIN}.rest.marketingcloudapis.com/"
SOAP = f"https://{SUBDOMAIN}.soap.marketingcloudapis.com/"


def a_config(**overrides):
    raw = {"client_id": "the-client-id", "client_secret": "the-secret", "subdomain": SUBDOMAIN, **overrides}
    return parse_config(raw)


def token_answer(token="tok-1", expires_in=1079, rest=REST, soap=SOAP, scope="email_read tracking_events_read"):
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": scope,
        "soap_instance_url": soap,
        "rest_instance_url": rest,
    }


@pytest.fixture
def authenticator():
    return SfmcAuthenticator(a_config())


def test_token_request_is_a_json_client_credentials_body(requests_mock, authenticator):
    requests_mock.post(TOKEN_URL, json=token_answer())
    authenticator.get_access_token()
    assert requests_mock.last_request.json() == {
        "grant_type": "client_credentials",
        "client_id": "the-client-id",
        "client_secret": "the-secret",
    }


def test_account_id_is_sent_with_the_token_request(requests_mock):
    requests_mock.post(TOKEN_URL, json=token_answer())
    SfmcAuthenticator(a_config(account_id="7281234")).get_access_token()
    assert requests_mock.last_request.json()["account_id"] == 7281234


def test_one_token_serves_many_requests(requests_mock, authenticator):
    token_route = requests_mock.post(TOKEN_URL, json=token_answer())
    for _ in range(50):
        authenticator.get_access_token()
    assert token_route.call_count == 1


def test_token_is_renewed_before_it_expires(requests_mock, authenticator):
    token_route = requests_mock.post(TOKEN_URL, [{"json": token_answer("tok-1")}, {"json": token_answer("tok-2")}])
    assert authenticator.get_access_token() == "tok-1"
    # 1079 s tokens are renewed with 300 s left: move the clock to 800 s later.
    authenticator.set_token_expiry_date(ab_datetime_now())
    assert authenticator.get_access_token() == "tok-2"
    assert token_route.call_count == 2


def test_short_lived_token_is_renewed_at_half_its_life(requests_mock, authenticator):
    requests_mock.post(TOKEN_URL, json=token_answer(expires_in=60))
    authenticator.get_access_token()
    remaining = (authenticator.get_token_expiry_date() - ab_datetime_now()).total_seconds()
    assert 25 < remaining <= 30


def test_forced_refresh_fetches_a_new_token(requests_mock, authenticator):
    requests_mock.post(TOKEN_URL, [{"json": token_answer("tok-1")}, {"json": token_answer("tok-2")}])
    authenticator.get_access_token()
    authenticator.refresh_and_set_access_token()
    assert authenticator.get_access_token() == "tok-2"


def test_instance_urls_come_from_the_token_answer(requests_mock, authenticator):
    requests_mock.post(TOKEN_URL, json=token_answer())
    assert authenticator.rest_base_url == REST
    assert authenticator.soap_endpoint == f"{SOAP}Service.asmx"


@pytest.mark.parametrize("field", ["rest_instance_url", "soap_instance_url"])
@pytest.mark.parametrize("hostile", ["https://evil.example.com/", "http://mc1.rest.marketingcloudapis.com/"])
def test_token_answer_pointing_elsewhere_is_refused(requests_mock, authenticator, field, hostile):
    requests_mock.post(TOKEN_URL, json={**token_answer(), field: hostile})
    with pytest.raises(AirbyteTracedException) as raised:
        authenticator.get_access_token()
    assert "marketingcloudapis.com" in raised.value.message


def test_invalid_client_is_a_config_error_without_the_secret(requests_mock, authenticator):
    requests_mock.post(
        TOKEN_URL,
        status_code=401,
        json={"error": "invalid_client", "error_description": "Client authentication failed."},
    )
    with pytest.raises(AirbyteTracedException) as raised:
        authenticator.get_access_token()
    assert raised.value.failure_type == FailureType.config_error
    assert "client_id" in raised.value.message and "client_secret" in raised.value.message
    assert "the-secret" not in raised.value.message


def test_unknown_tenant_is_reported_as_a_subdomain_problem(requests_mock, authenticator):
    requests_mock.post(TOKEN_URL, status_code=404, text="Not Found")
    with pytest.raises(AirbyteTracedException) as raised:
        authenticator.get_access_token()
    assert raised.value.failure_type == FailureType.config_error
    assert "subdomain" in raised.value.message


def test_unresolvable_host_is_reported_as_a_subdomain_problem(requests_mock, authenticator):
    requests_mock.post(
        TOKEN_URL, exc=requests.exceptions.ConnectionError("NameResolutionError: Name or service not known")
    )
    with pytest.raises(AirbyteTracedException) as raised:
        authenticator.get_access_token()
    assert raised.value.failure_type == FailureType.config_error
    assert "subdomain" in raised.value.message


def test_token_server_errors_are_retried(requests_mock, authenticator, monkeypatch):
    monkeypatch.setattr("source_sfmc.auth.time.sleep", lambda seconds: None)
    requests_mock.post(TOKEN_URL, [{"status_code": 503}, {"status_code": 500}, {"json": token_answer("tok-9")}])
    assert authenticator.get_access_token() == "tok-9"


@pytest.mark.parametrize("broken", [requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError])
def test_a_token_answer_broken_in_transit_is_retried_like_a_server_fault(
    requests_mock, authenticator, monkeypatch, broken
):
    monkeypatch.setattr("source_sfmc.auth.time.sleep", lambda seconds: None)
    requests_mock.post(TOKEN_URL, [{"exc": broken}, {"json": token_answer("tok-9")}])
    assert authenticator.get_access_token() == "tok-9"


def test_a_token_answer_broken_in_transit_every_time_is_a_transient_error_in_words(
    requests_mock, authenticator, monkeypatch
):
    monkeypatch.setattr("source_sfmc.auth.time.sleep", lambda seconds: None)
    requests_mock.post(TOKEN_URL, exc=requests.exceptions.ChunkedEncodingError)
    with pytest.raises(TokenError) as raised:
        authenticator.get_access_token()
    assert raised.value.failure_type == FailureType.transient_error
    assert "incomplete or could not be decoded" in raised.value.message and "Error" not in raised.value.message


# -- the token endpoint's rate limit follows the one error policy --------------------------------------------------
class FakeClock:
    """time.monotonic and time.sleep for the token request: sleeping advances the clock, and is recorded."""

    def __init__(self, monkeypatch):
        self.now = 1000.0
        self.slept: list[float] = []
        monkeypatch.setattr("source_sfmc.auth.time.monotonic", lambda: self.now)
        monkeypatch.setattr("source_sfmc.auth.time.sleep", self.sleep)

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


RATE_LIMITED = {"error": "rate_limited", "error_description": "Too many token requests"}


def test_a_rate_limited_token_request_waits_what_retry_after_says(requests_mock, authenticator, monkeypatch):
    clock = FakeClock(monkeypatch)
    requests_mock.post(
        TOKEN_URL,
        [{"status_code": 429, "headers": {"Retry-After": "40"}, "json": RATE_LIMITED}, {"json": token_answer("tok-2")}],
    )
    assert authenticator.get_access_token() == "tok-2"
    assert clock.slept == [40.0]


def test_a_rate_limited_token_request_reads_retry_after_as_an_http_date(requests_mock, authenticator, monkeypatch):
    clock = FakeClock(monkeypatch)
    later = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=45), usegmt=True)
    requests_mock.post(
        TOKEN_URL,
        [{"status_code": 429, "headers": {"Retry-After": later}, "json": RATE_LIMITED}, {"json": token_answer()}],
    )
    authenticator.get_access_token()
    assert len(clock.slept) == 1 and 40 <= clock.slept[0] <= 45


def test_a_token_rate_limit_that_outlasts_the_attempts_names_the_rate_limit_not_the_subdomain(
    requests_mock, authenticator, monkeypatch
):
    FakeClock(monkeypatch)
    requests_mock.post(TOKEN_URL, status_code=429, headers={"Retry-After": "5"}, json=RATE_LIMITED)
    with pytest.raises(TokenError) as raised:
        authenticator.get_access_token()
    assert raised.value.failure_type == FailureType.transient_error
    assert "rate limit (HTTP 429)" in raised.value.message and "after 5 attempts" in raised.value.message
    assert "subdomain" not in raised.value.message


def test_a_token_retry_after_past_the_retry_budget_fails_at_once_saying_so(requests_mock, authenticator, monkeypatch):
    clock = FakeClock(monkeypatch)
    requests_mock.post(TOKEN_URL, status_code=429, headers={"Retry-After": "400"}, json=RATE_LIMITED)
    with pytest.raises(TokenError) as raised:
        authenticator.get_access_token()
    assert clock.slept == [400.0]  # 400 s fits the 600 s budget; the next 400 s would not
    assert "asked to wait 400 s more, past the 600 s retry budget" in raised.value.message


def test_check_waits_for_the_token_endpoints_rate_limit_only_briefly(requests_mock, monkeypatch):
    clock = FakeClock(monkeypatch)
    requests_mock.post(TOKEN_URL, status_code=429, headers={"Retry-After": "40"}, json=RATE_LIMITED)
    with pytest.raises(TokenError) as raised:
        SfmcAuthenticator(a_config(), for_check=True).get_access_token()
    assert clock.slept == []
    assert "rate limit" in raised.value.message and "after 1 attempt." in raised.value.message


# -- a refused token: expiry, or denied access --------------------------------------------------------------------
def a_refusal(token):
    """A REST 401 to a request that carried `token`."""
    response = requests.Response()
    response.status_code = 401
    response._content = b'{"message": "Not Authorized", "errorcode": 0}'
    response.request = requests.Request("GET", f"{REST}hub/v1/campaigns", headers={"Authorization": f"Bearer {token}"})
    response.request = response.request.prepare()
    return response


def refuse(authenticator, token):
    response = a_refusal(token)
    authenticator.update_from_response(response.request, response)
    return getattr(response, ACCESS_DENIED_ATTRIBUTE, False)


def test_requests_refused_together_with_one_expired_token_count_as_one_renewal(requests_mock, authenticator):
    requests_mock.post(TOKEN_URL, [{"json": token_answer(f"tok-{n}")} for n in range(1, 5)])
    assert authenticator.get_access_token() == "tok-1"
    assert not refuse(authenticator, "tok-1") and not refuse(authenticator, "tok-1")  # in flight together
    assert authenticator.get_access_token() == "tok-2"
    assert not refuse(authenticator, "tok-2")  # a second renewal is still allowed
    assert authenticator.get_access_token() == "tok-3"
    assert refuse(authenticator, "tok-3")  # the third token refused with nothing answered: denied
    assert authenticator.get_access_token() == "tok-3"  # and no further token is asked for


def test_an_answered_request_between_refusals_means_the_tokens_merely_expired(requests_mock, authenticator):
    requests_mock.post(TOKEN_URL, [{"json": token_answer(f"tok-{n}")} for n in range(1, 6)])
    for n in range(1, 5):
        assert authenticator.get_access_token() == f"tok-{n}"
        assert not refuse(authenticator, f"tok-{n}")
        answered = requests.Response()
        answered.status_code = 200
        authenticator.update_from_response(a_refusal(f"tok-{n + 1}").request, answered)
    assert authenticator.get_access_token() == "tok-5"


def test_rest_requests_get_a_bearer_header(requests_mock, authenticator):
    requests_mock.post(TOKEN_URL, json=token_answer("tok-1"))
    prepared = requests.Request("GET", f"{REST}hub/v1/campaigns").prepare()
    assert authenticator(prepared).headers["Authorization"] == "Bearer tok-1"


def test_soap_envelope_gets_the_current_token_on_every_send(requests_mock, authenticator):
    requests_mock.post(TOKEN_URL, [{"json": token_answer("tok-1")}, {"json": token_answer("tok-2")}])
    envelope = retrieve_envelope("stale-token", "SentEvent", ["SendID"])
    prepared = requests.Request("POST", f"{SOAP}Service.asmx", data=envelope).prepare()
    assert b">tok-1<" in authenticator(prepared).body
    authenticator.refresh_and_set_access_token()
    body = authenticator(prepared).body
    assert b">tok-2<" in body and b"tok-1" not in body and b"stale-token" not in body
    assert prepared.headers["Content-Length"] == str(len(body))


@pytest.mark.parametrize(
    "render",
    [
        str,
        lambda text: repr(text)[1:-1],
        lambda text: ascii(text)[1:-1],
        lambda text: json.dumps(text)[1:-1],
        xml_escape,
    ],
    ids=["literal", "repr", "ascii", "json", "xml"],
)
def test_every_rendering_of_a_secret_is_masked(render):
    secret = 'Se<cr>et&"back\\slash\u00e9-\x01'
    register_secret(secret)
    assert filter_secrets(f"before {render(secret)} after") == "before **** after"


def failing_token_requests(monkeypatch, authenticator: SfmcAuthenticator) -> list[int]:
    """Every token request of `authenticator` fails as one whose attempts ran out; the list counts them."""
    calls: list[int] = []

    def ask():
        calls.append(1)
        raise TokenError(message="Could not get an access token: timed out", failure_type=FailureType.transient_error)

    monkeypatch.setattr(authenticator, "_ask_for_token", ask)
    return calls


def test_a_business_units_failed_token_request_fails_later_requests_at_once(monkeypatch) -> None:
    unit = SfmcAuthenticator(a_config(), account_id=7294502)
    calls = failing_token_requests(monkeypatch, unit)
    for _ in range(3):
        with pytest.raises(TokenError, match="timed out"):
            unit.get_access_token()
    assert len(calls) == 1


def test_the_home_units_token_request_is_asked_again_after_a_failure(monkeypatch) -> None:
    home = SfmcAuthenticator(a_config())
    calls = failing_token_requests(monkeypatch, home)
    for _ in range(2):
        with pytest.raises(TokenError):
            home.get_access_token()
    assert len(calls) == 2


@pytest.mark.parametrize(
    "token",
    [
        # XML and JSON escaping change these, and nested escaping (a fault quoting our envelope) changes them again
        'tok&amp<x>"quoted"',
        "tok\\with\\backslashes",
        "tok'quote'",
        "tok with spaces",
        "tok%41percent",
        "tok=not-only-at-the-end",
        "jwt.header.payload" + "x" * 8192,
    ],
)
def test_a_token_outside_the_bearer_token_alphabet_is_refused_without_being_quoted(requests_mock, token):
    requests_mock.post(TOKEN_URL, json=token_answer(token))
    with pytest.raises(AirbyteTracedException) as raised:
        SfmcAuthenticator(a_config()).get_access_token()
    assert raised.value.failure_type == FailureType.system_error
    assert "RFC 6750" in raised.value.message and token[:6] not in raised.value.message.replace("token", "")


@pytest.mark.parametrize(
    "token",
    ["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "abc-_~+/.XYZ09==", "x" * 8192],
)
def test_a_bearer_token_of_rfc_6750_characters_is_accepted(requests_mock, token):
    requests_mock.post(TOKEN_URL, json=token_answer(token))
    assert SfmcAuthenticator(a_config()).get_access_token() == token


def _unit_authenticator():
    return SfmcAuthenticator(a_config(business_units=["7281234", "7294501"], account_id="7281234"), account_id=7294501)


@pytest.mark.parametrize("error", [{"code": 7}, ["denied"], 401, None])
def test_a_units_refusal_whose_error_is_not_text_is_still_a_refusal_naming_the_unit(requests_mock, error):
    requests_mock.post(TOKEN_URL, status_code=401, json={"error": error, "error_description": {"x": 1}})
    with pytest.raises(TokenError) as raised:
        _unit_authenticator().get_access_token()
    assert raised.value.failure_type == FailureType.config_error
    assert "refused a token for business unit 7294501 (HTTP 401)" in raised.value.message


def test_a_refusals_error_text_is_quoted_short_and_never_with_part_of_the_secret(requests_mock):
    secret = "a-secret-of-enough-length-0123456789"
    authenticator = SfmcAuthenticator(
        a_config(client_secret=secret, business_units=["7281234", "7294501"], account_id="7281234"),
        account_id=7294501,
    )
    requests_mock.post(TOKEN_URL, status_code=401, json={"error": "x" * 100 + secret + "y" * 5000})
    with pytest.raises(TokenError) as raised:
        authenticator.get_access_token()
    assert len(raised.value.message) < 400
    assert secret[:8] not in raised.value.message
