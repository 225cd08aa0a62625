"""Fault injection: each kind appears at its rate, in SFMC's shape, deterministically, and never forever."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import requests

from integration_tests.sandbox import Sandbox
from integration_tests.sandbox.faults import (
    KINDS,
    Channel,
    FaultInjector,
    is_continue_request,
    parse_fault_spec,
)

SOAP_ENV = "{http://schemas.xmlsoap.org/soap/envelope/}"
API_FAULT = "{urn:fault.partner.exacttarget.com}"
SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "Retrieve"}
CONNECTION_FAILURES = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)


# --- builders -----------------------------------------------------------------------------------


def new_token(sandbox: Sandbox) -> str:
    """A token, retried like a client would when token requests themselves are throttled or fail."""
    body = {"grant_type": "client_credentials", "client_id": sandbox.client_id, "client_secret": sandbox.client_secret}
    for _ in range(3):
        response = requests.post(f"{sandbox.base_url}/v2/token", json=body, timeout=5)
        if response.status_code == 200:
            return response.json()["access_token"]
    raise AssertionError(f"no token after 3 attempts: {response.status_code} {response.text}")


def campaigns_page(sandbox: Sandbox, token: str, page: int, timeout: float = 5) -> requests.Response:
    """One distinct logical request per page number."""
    return requests.get(
        f"{sandbox.base_url}/hub/v1/campaigns",
        params={"$page": page, "$pageSize": 5},
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout,
    )


def post_soap(sandbox: Sandbox, envelope: str) -> requests.Response:
    return requests.post(f"{sandbox.base_url}/Service.asmx", data=envelope, headers=SOAP_HEADERS, timeout=5)


def soap_fault_parts(response: requests.Response) -> tuple[str, str, ET.Element | None]:
    fault = ET.fromstring(response.content).find(f"{SOAP_ENV}Body/{SOAP_ENV}Fault")
    assert fault is not None
    return fault.findtext("faultcode"), fault.findtext("faultstring"), fault.find("detail")


def statuses_of(sandbox: Sandbox, pages: range) -> list[int | str]:
    token = new_token(sandbox)
    outcomes: list[int | str] = []
    for page in pages:
        try:
            outcomes.append(campaigns_page(sandbox, token, page).status_code)
        except CONNECTION_FAILURES:
            outcomes.append("reset")
    return outcomes


# --- the fault specification --------------------------------------------------------------------


def test_fault_spec_defaults_each_rate_to_a_tenth() -> None:
    assert parse_fault_spec("rate_limit:0.25, server_error") == {"rate_limit": 0.25, "server_error": 0.1}


def test_fault_spec_all_names_every_kind() -> None:
    assert parse_fault_spec("all:0.05") == dict.fromkeys(KINDS, 0.05)


@pytest.mark.parametrize("spec", ["gremlins:0.1", "rate_limit:lots", "slow:1.5"])
def test_fault_spec_rejects_unknown_kinds_and_bad_rates(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_fault_spec(spec)


def test_request_id_expiry_applies_to_continue_requests_only() -> None:
    injector = FaultInjector({"request_id_expired": 1.0})
    assert injector.decide(Channel.SOAP, b"first page") is None
    assert injector.decide(Channel.SOAP_CONTINUE, b"next page").kind == "request_id_expired"


def test_continue_requests_are_recognised_with_any_prefix_but_not_empty() -> None:
    assert is_continue_request(b"<q1:ContinueRequest>abc-123</q1:ContinueRequest>")
    assert is_continue_request(b"<ContinueRequest xmlns='x'> abc </ContinueRequest>")
    assert not is_continue_request(b"<ContinueRequest/><ObjectType>List</ObjectType>")
    assert not is_continue_request(b"<ContinueRequest></ContinueRequest>")


# --- rates and determinism ----------------------------------------------------------------------


REST_FAULT_KINDS = ["rate_limit", "server_error", "truncated", "connection_reset", "slow", "token_expiry"]


@pytest.mark.parametrize("kind", REST_FAULT_KINDS)
def test_each_rest_fault_kind_appears_at_its_rate(start_sandbox: Any, kind: str) -> None:
    running = start_sandbox(faults=f"{kind}:0.2", slow_seconds=0.001)
    token = new_token(running)
    for page in range(1, 101):
        try:
            if campaigns_page(running, token, page).status_code == 401:
                token = new_token(running)
        except CONNECTION_FAILURES:
            pass
    injected = running.stats()["faults_injected"]
    assert 0.1 <= injected[kind] / 100 <= 0.3
    assert sum(injected.values()) == injected[kind]


def test_faults_are_the_same_for_the_same_seed_and_requests(start_sandbox: Any) -> None:
    spec = "rate_limit:0.3,server_error:0.3"
    first = statuses_of(start_sandbox(faults=spec, seed=3), range(1, 41))
    again = statuses_of(start_sandbox(faults=spec, seed=3), range(1, 41))
    other_seed = statuses_of(start_sandbox(faults=spec, seed=4), range(1, 41))
    assert first == again != other_seed


def soap_chain_statuses(running: Sandbox, soap_side: Any, soap_envelope: Any, steps: int) -> list[int]:
    """Walk a Retrieve's pages (retrying failed pages) and note every answer's status."""
    running.soap_service = soap_side
    token = new_token(running)
    statuses, request_id = [], None
    for _ in range(steps):
        retrieve = f"<ContinueRequest>{request_id}</ContinueRequest>" if request_id else "<ObjectType>List</ObjectType>"
        answer = post_soap(running, soap_envelope(token, retrieve))
        statuses.append(answer.status_code)
        if answer.status_code == 200:
            request_id = soap_side.last_request_id
    return statuses


def test_faults_on_soap_continuations_do_not_depend_on_random_request_ids(
    start_sandbox: Any, recording_soap_side: Any, soap_envelope: Any
) -> None:
    runs = [
        soap_chain_statuses(start_sandbox(faults="rate_limit:0.4", seed=9), recording_soap_side, soap_envelope, 30)
        for _ in range(2)
    ]
    assert runs[0] == runs[1] and 500 in runs[0]


def test_a_request_is_never_faulted_more_than_twice_in_a_row(start_sandbox: Any) -> None:
    running = start_sandbox(faults="server_error:1.0")
    token = new_token(running)
    assert [campaigns_page(running, token, 1).status_code >= 500 for _ in range(3)] == [True, True, False]


def test_token_requests_escape_faults_other_than_throttling_and_server_errors(start_sandbox: Any) -> None:
    running = start_sandbox(faults="connection_reset:0.5,truncated:0.5")
    for _ in range(20):
        new_token(running)
    assert sum(running.stats()["faults_injected"].values()) == 0


def test_token_requests_fail_only_rarely(start_sandbox: Any) -> None:
    running = start_sandbox(faults="server_error:1.0")
    body = {"grant_type": "client_credentials", "client_id": running.client_id, "client_secret": running.client_secret}
    failures = sum(
        requests.post(f"{running.base_url}/v2/token", json={**body, "scope": f"s{n}"}, timeout=5).status_code >= 500
        for n in range(100)
    )
    assert 5 <= failures <= 40


# --- REST shapes --------------------------------------------------------------------------------


REST_ERROR_DOCS = "https://developer.salesforce.com/docs/atlas.en-us.mc-apis.meta/mc-apis/error-handling.htm"


def test_rest_rate_limit_answers_429_in_both_sfmc_shapes(start_sandbox: Any) -> None:
    running = start_sandbox(faults="rate_limit:1.0")
    token = new_token(running)
    answers = [campaigns_page(running, token, page) for page in range(1, 21)]
    assert {answer.status_code for answer in answers} == {429}
    with_retry = [answer for answer in answers if "Retry-After" in answer.headers]
    blocked = [answer for answer in answers if "Retry-After" not in answer.headers]
    assert with_retry and blocked
    assert {answer.headers["Retry-After"] for answer in with_retry} == {"1"}
    # Every REST error carries message, errorcode and documentation ("Handle Errors in REST API").
    assert with_retry[0].json() == {
        "message": "Rate limit exceeded",
        "errorcode": 50100,
        "documentation": REST_ERROR_DOCS,
        "retryAfter": 1,
    }
    assert blocked[0].json() == {
        "message": "Your requests are temporarily blocked.",
        "errorcode": 50200,
        "documentation": REST_ERROR_DOCS,
    }


def test_rest_server_errors_are_json_500s_or_gateway_html(start_sandbox: Any) -> None:
    running = start_sandbox(faults="server_error:1.0")
    token = new_token(running)
    answers = {answer.status_code: answer for answer in (campaigns_page(running, token, p) for p in range(1, 31))}
    assert set(answers) == {500, 502, 503}
    assert answers[500].json()["message"] == "Internal Server Error"
    assert answers[502].headers["Content-Type"] == "text/html" and b"502 Bad Gateway" in answers[502].content


def test_token_expiry_expires_the_presented_token_once_it_has_been_accepted(start_sandbox: Any) -> None:
    running = start_sandbox(faults="token_expiry:1.0")
    token = new_token(running)
    # SFMC expires tokens by age: a token just issued is accepted, and only then can a fault expire it.
    assert campaigns_page(running, token, 1).status_code == 200
    faulted = campaigns_page(running, token, 2)
    assert faulted.status_code == 401 and faulted.json()["message"] == "Not Authorized"
    assert campaigns_page(running, token, 3).status_code == 401  # the token stays expired
    assert running.stats()["faults_injected"]["token_expiry"] == 1


def test_connection_resets_drop_before_or_during_the_answer(start_sandbox: Any) -> None:
    running = start_sandbox(faults="connection_reset:1.0")
    token = new_token(running)
    failures = set()
    for page in range(1, 13):
        with pytest.raises(CONNECTION_FAILURES) as caught:
            campaigns_page(running, token, page)
        failures.add(type(caught.value))
    assert failures == set(CONNECTION_FAILURES)


def test_truncated_answers_are_200s_cut_short_with_a_matching_length(start_sandbox: Any) -> None:
    whole = start_sandbox()
    expected = campaigns_page(whole, new_token(whole), 1).content
    running = start_sandbox(faults="truncated:1.0")
    answer = campaigns_page(running, new_token(running), 1)
    assert answer.status_code == 200
    assert int(answer.headers["Content-Length"]) == len(answer.content) < len(expected)
    assert expected.startswith(answer.content)
    with pytest.raises(ValueError):
        answer.json()


def test_slow_answers_outlast_the_client_and_end_with_the_server(start_sandbox: Any) -> None:
    running = start_sandbox(faults="slow:1.0", slow_seconds=30)
    token = new_token(running)
    with pytest.raises(requests.exceptions.ReadTimeout):
        campaigns_page(running, token, 1, timeout=0.3)
    started = time.perf_counter()
    running.stop()
    assert time.perf_counter() - started < 2


def test_latency_applies_to_token_requests(start_sandbox: Any) -> None:
    running = start_sandbox(latency_ms=120)
    started = time.perf_counter()
    new_token(running)
    assert time.perf_counter() - started >= 0.12


# --- SOAP shapes --------------------------------------------------------------------------------


def test_soap_rate_limit_is_a_server_fault_with_apifault_code_17(start_sandbox: Any, soap_envelope: Any) -> None:
    running = start_sandbox(faults="rate_limit:1.0")
    answer = post_soap(running, soap_envelope(new_token(running), "<ObjectType>SentEvent</ObjectType>"))
    code, message, detail = soap_fault_parts(answer)
    assert answer.status_code == 500 and b"<soap:Fault>" in answer.content
    assert (code, message) == ("soap:Server", "Rate Limited")
    assert detail.findtext(f"{API_FAULT}apifault/{API_FAULT}Code") == "17"


def test_soap_server_errors_are_server_faults(start_sandbox: Any, soap_envelope: Any) -> None:
    running = start_sandbox(faults="server_error:1.0")
    answer = post_soap(running, soap_envelope(new_token(running), "<ObjectType>List</ObjectType>"))
    code, message, _ = soap_fault_parts(answer)
    assert answer.status_code == 500 and code == "soap:Server" and message


def test_soap_token_expiry_expires_the_envelopes_token_before_the_soap_side_answers(
    start_sandbox: Any, recording_soap_side: Any, soap_envelope: Any
) -> None:
    running = start_sandbox(faults="token_expiry:1.0")
    running.soap_service = recording_soap_side
    token = new_token(running)
    assert post_soap(running, soap_envelope(token, "<ObjectType>List</ObjectType>")).status_code == 200
    answer = post_soap(running, soap_envelope(token, "<ObjectType>List</ObjectType>"))
    assert answer.status_code == 500 and b"Token Expired" in answer.content
    assert running.stats()["faults_injected"]["token_expiry"] == 1


def test_request_id_expiry_asks_the_soap_side_to_expire_request_ids(
    start_sandbox: Any, recording_soap_side: Any, soap_envelope: Any
) -> None:
    running = start_sandbox(faults="request_id_expired:1.0")
    running.soap_service = recording_soap_side
    token = new_token(running)
    post_soap(running, soap_envelope(token, "<ObjectType>List</ObjectType>"))
    post_soap(
        running, soap_envelope(token, f"<ContinueRequest>{recording_soap_side.last_request_id}</ContinueRequest>")
    )
    assert [call["expire_request_ids"] for call in recording_soap_side.calls] == [False, True]
    assert running.stats()["faults_injected"]["request_id_expired"] == 1
