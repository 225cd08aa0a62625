"""The HTTP policy over real HTTP against hostile stand-ins: no redirect is followed, no credential leaves, every
request ends within its deadline, and `check` always answers, fast."""

from __future__ import annotations

import time

import pytest
from airbyte_cdk.models import Status
from airbyte_cdk.test.entrypoint_wrapper import read
from airbyte_cdk.test.models.outcome import ExpectedOutcome

from integration_tests.harness import (
    all_output_text,
    configured_catalog,
    discovered,
    error_messages,
    run_check,
    run_console,
)
from integration_tests.sandbox import Sandbox
from integration_tests.standins import (
    CLIENT_SECRET,
    Answer,
    Received,
    StandIn,
    closed_port,
    is_token_request,
    json_answer,
    redirect_to,
    stand_in,
    token_answer,
)
from source_sfmc.source import SourceSfmc


def _nothing(_: Received) -> Answer:
    return Answer(200, {}, b"")


def _read(config: dict, catalog) -> object:  # type: ignore[no-untyped-def]
    return read(SourceSfmc(), config, catalog, None, expected_outcome=ExpectedOutcome.EXPECT_EXCEPTION)


# -- 1. no redirect is followed --------------------------------------------------------------------------------------
def test_a_token_endpoint_redirect_is_not_followed_and_the_secret_reaches_no_other_host() -> None:
    with stand_in(_nothing) as foreign, stand_in(lambda request: redirect_to(f"{foreign.url}/x")) as sfmc:
        output = run_check(sfmc.config())
    assert foreign.received == []
    assert len(sfmc.received) == 1  # refused at once, not retried
    status = output.connection_status_messages[-1].connectionStatus
    assert status.status == Status.FAILED
    assert "307" in status.message and foreign.url in status.message and "redirect" in status.message


def test_a_soap_redirect_is_not_followed_and_the_envelope_with_its_token_is_sent_once(sandbox: Sandbox) -> None:
    with stand_in(_nothing) as foreign:

        def sfmc_script(request: Received) -> Answer:
            if is_token_request(request):
                return token_answer(sfmc.url)
            return redirect_to(f"{foreign.url}/Service.asmx", 308)

        with stand_in(sfmc_script) as sfmc:
            catalog = configured_catalog(discovered(sandbox), ["subscriber_lists"], incremental=False)
            output = _read(sfmc.config(), catalog)
    assert foreign.received == []
    soap_requests = sfmc.retrieves_and_rest()
    assert len(soap_requests) == 1
    assert any("308" in message and foreign.url in message for message in error_messages(output))


def test_a_rest_redirect_is_not_followed_and_the_stream_fails_instead_of_reporting_no_records(
    sandbox: Sandbox,
) -> None:
    with stand_in(lambda request: json_answer({"items": [{"id": "stolen"}], "count": 1})) as foreign:

        def sfmc_script(request: Received) -> Answer:
            if is_token_request(request):
                return token_answer(sfmc.url)
            return redirect_to(f"{foreign.url}/hub/v1/campaigns")

        with stand_in(sfmc_script) as sfmc:
            catalog = configured_catalog(discovered(sandbox), ["campaigns"], incremental=False)
            output = _read(sfmc.config(), catalog)
    assert foreign.received == []
    assert output.records == []
    assert any("307" in message and foreign.url in message for message in error_messages(output))


# -- 2. a token that is not plain text is refused without being quoted --------------------------------------------
def test_a_token_with_a_control_character_is_refused_and_never_printed_in_any_form(sandbox: Sandbox) -> None:
    odd_token = "TOKEN-abc\u0001def"

    def script(request: Received) -> Answer:
        return token_answer(sfmc.url, access_token=odd_token)

    with stand_in(script) as sfmc:
        catalog = configured_catalog(discovered(sandbox), ["campaigns"], incremental=False)
        output = _read(sfmc.config(), catalog)
    text = all_output_text(output)
    assert "not plain printable text" in text
    for form in ("TOKEN-abc", "abc\\x01def", "abc\\u0001def", "def'", odd_token):
        assert form not in text
    assert CLIENT_SECRET not in text


# -- 3. every wait is bounded ------------------------------------------------------------------------------------
def _trickle(seconds_between: float, pieces: int) -> Answer:
    return Answer(200, {"Content-Type": "application/json"}, trickle=[(seconds_between, b" ") for _ in range(pieces)])


def test_a_trickling_token_answer_is_cut_at_the_request_timeout() -> None:
    with stand_in(lambda request: _trickle(0.2, 1000)) as sfmc:
        started = time.monotonic()
        output = run_check(sfmc.config(request_timeout_seconds=1))
        took = time.monotonic() - started
    assert took < 3  # check tries once: the body would take 200 s, the request is cut after 1 s
    assert len(sfmc.received) == 1
    status = output.connection_status_messages[-1].connectionStatus
    assert status.status == Status.FAILED
    assert "within 1 s" in status.message


@pytest.mark.slow  # ~40 s of back-off; the deadline itself is pinned in CI by the test above and the unit tests
def test_a_trickling_rest_answer_is_cut_at_the_request_timeout_and_retried(sandbox: Sandbox) -> None:
    def script(request: Received) -> Answer:
        if is_token_request(request):
            return token_answer(sfmc.url)
        return _trickle(0.5, 10_000)  # an endless trickle: one byte every half second

    with stand_in(script) as sfmc:
        catalog = configured_catalog(discovered(sandbox), ["campaigns"], incremental=False)
        started = time.monotonic()
        output = _read(sfmc.config(request_timeout_seconds=1), catalog)
        took = time.monotonic() - started
    listings = sfmc.retrieves_and_rest()
    assert len(listings) == 6  # the first attempt and its five retries, each cut after 1 s
    assert took < 6 * 1.5 + 60  # the attempts plus the CDK's exponential back-off between them
    assert any("within 1 s" in message for message in error_messages(output))


# -- 11. check always answers, fast --------------------------------------------------------------------------------
def test_check_against_a_closed_port_fails_fast_naming_the_host_and_the_subdomain_field() -> None:
    port = closed_port()
    started = time.monotonic()
    code, messages, _ = run_console(
        "check", "--config", "{config}", files={"config": StandIn.config_for(f"http://127.0.0.1:{port}")}
    )
    took = time.monotonic() - started
    assert took < 10
    statuses = [message["connectionStatus"] for message in messages if message.get("type") == "CONNECTION_STATUS"]
    assert statuses and statuses[-1]["status"] == "FAILED"
    assert f"127.0.0.1:{port}" in statuses[-1]["message"] and "'subdomain'" in statuses[-1]["message"]
    assert code == 0


def test_check_against_a_host_that_does_not_resolve_fails_fast_naming_the_host_and_the_subdomain_field() -> None:
    started = time.monotonic()
    output = run_check(StandIn.config_for("mcdoesnotexist0000000000000000"))
    took = time.monotonic() - started
    assert took < 10
    status = output.connection_status_messages[-1].connectionStatus
    assert status.status == Status.FAILED
    assert "mcdoesnotexist0000000000000000.auth.marketingcloudapis.com" in status.message
    assert "'subdomain'" in status.message


def test_check_answers_with_a_connection_status_when_the_server_keeps_failing() -> None:
    with stand_in(lambda request: json_answer({"message": "boom"}, 503)) as sfmc:
        output = run_check(sfmc.config())
    status = output.connection_status_messages[-1].connectionStatus
    assert status.status == Status.FAILED
    assert "HTTP 503" in status.message


@pytest.mark.slow  # 30 s of back-off; unit_tests/test_http_policy.py pins the same rule without waiting
def test_read_still_retries_a_token_request_that_cannot_connect(sandbox: Sandbox) -> None:
    port = closed_port()
    catalog = configured_catalog(discovered(sandbox), ["campaigns"], incremental=False)
    started = time.monotonic()
    output = _read(StandIn.config_for(f"http://127.0.0.1:{port}"), catalog)
    assert time.monotonic() - started > 2 + 4 + 8  # it waited between attempts
    assert any("after 5 attempts" in message and "'subdomain'" in message for message in error_messages(output))


# -- the token endpoint's rate limit ---------------------------------------------------------------------------------
def test_a_rate_limited_token_endpoint_is_waited_for_as_its_retry_after_says_and_the_sync_completes(
    sandbox: Sandbox,
) -> None:
    wait = 3
    token_requests: list[float] = []

    def script(request: Received) -> Answer:
        if is_token_request(request):
            token_requests.append(time.monotonic())
            if time.monotonic() - token_requests[0] < wait:
                return Answer(
                    429,
                    {"Content-Type": "application/json", "Retry-After": str(wait)},
                    b'{"error": "rate_limited", "error_description": "Too many token requests"}',
                )
            return token_answer(sfmc.url)
        return json_answer({"count": 1, "page": 1, "pageSize": 50, "items": [{"id": "1", "name": "c"}]})

    with stand_in(script) as sfmc:
        catalog = configured_catalog(discovered(sandbox), ["campaigns"], incremental=False)
        output = read(SourceSfmc(), sfmc.config(), catalog, None)
    assert len(token_requests) == 2 and token_requests[1] - token_requests[0] >= wait
    assert [record.record.data["id"] for record in output.records] == ["1"]
    assert error_messages(output) == []
