"""The failure type Airbyte acts on tells the truth: each per-stream error trace carries its cause's type, and the
sync's closing summary is config_error only when every cause was the user's to fix."""

from __future__ import annotations

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.test.entrypoint_wrapper import read
from airbyte_cdk.test.models.outcome import ExpectedOutcome

from integration_tests.harness import configured_catalog, discovered
from integration_tests.sandbox import Sandbox
from integration_tests.standins import Answer, Received, is_token_request, json_answer, stand_in, token_answer
from source_sfmc.source import SourceSfmc, sync_failure_type

SUMMARY = "did not sync successfully"


def _fail_every_request_with(answer: Answer, sandbox: Sandbox) -> list:  # type: ignore[type-arg]
    def script(request: Received) -> Answer:
        return token_answer(server.url) if is_token_request(request) else answer

    with stand_in(script) as server:
        catalog = configured_catalog(discovered(sandbox), ["campaigns"], incremental=False)
        output = read(SourceSfmc(), server.config(), catalog, None, expected_outcome=ExpectedOutcome.EXPECT_EXCEPTION)
    return [message.trace.error for message in output.errors]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        # the installed package lacks the scope: the user's to fix
        (json_answer({"message": "Insufficient privileges"}, 403), FailureType.config_error),
        # a server fault that outlasts every retry (Retry-After: 1 keeps the retries to a few seconds)
        (Answer(503, {"Retry-After": "1", "Content-Type": "application/json"}, b"{}"), FailureType.transient_error),
        # an answer the connector cannot act on
        (json_answer({"message": "Bad request"}, 400), FailureType.system_error),
    ],
    ids=["config_error", "transient_error", "system_error"],
)
def test_the_stream_trace_and_the_sync_summary_carry_the_type_of_the_cause(
    sandbox: Sandbox, answer: Answer, expected: FailureType
) -> None:
    errors = _fail_every_request_with(answer, sandbox)
    stream_errors = [error for error in errors if SUMMARY not in error.message]
    summaries = [error for error in errors if SUMMARY in error.message]
    assert stream_errors and all(error.failure_type == expected for error in stream_errors)
    assert len(summaries) == 1 and summaries[0].failure_type == expected


def test_a_401_that_persists_through_new_tokens_is_a_config_error_naming_each_stream_after_three_tokens(
    sandbox: Sandbox,
) -> None:
    # The token endpoint issues tokens, but the API refuses every one (the package lost access to the API).
    tokens = []

    def script(request: Received) -> Answer:
        if is_token_request(request):
            tokens.append(request)
            return token_answer(server.url)
        return json_answer({"errorcode": 0, "message": "Not Authorized"}, 401)

    streams = ["campaigns", "journeys", "automations"]
    with stand_in(script) as server:
        catalog = configured_catalog(discovered(sandbox), streams, incremental=False)
        output = read(SourceSfmc(), server.config(), catalog, None, expected_outcome=ExpectedOutcome.EXPECT_EXCEPTION)
    errors = [message.trace.error for message in output.errors]
    stream_errors = [error for error in errors if SUMMARY not in error.message]
    assert {error.failure_type for error in errors} == {FailureType.config_error}
    assert all(any(f"'{stream}'" in error.message for error in stream_errors) for stream in streams)
    assert all("freshly issued access token" in error.message for error in stream_errors)
    assert len(tokens) == 3  # the first and two renewals, for the whole sync


@pytest.mark.parametrize(
    ("causes", "summary"),
    [
        ([FailureType.config_error, FailureType.config_error], FailureType.config_error),
        ([FailureType.config_error, FailureType.transient_error], FailureType.transient_error),
        ([FailureType.transient_error, FailureType.system_error], FailureType.system_error),
        ([], FailureType.system_error),
    ],
)
def test_the_summary_is_config_error_only_when_every_cause_is(causes: list, summary: FailureType) -> None:  # type: ignore[type-arg]
    assert sync_failure_type(causes) == summary
