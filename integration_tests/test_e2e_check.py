"""`check` (and the config errors a read reports up front) against the sandbox, over real HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from airbyte_cdk.models import AirbyteCatalog, AirbyteConnectionStatus, Status
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput

from integration_tests import harness
from integration_tests.sandbox import Sandbox
from integration_tests.standins import (
    CLIENT_SECRET,
    Answer,
    Received,
    is_token_request,
    json_answer,
    soap_answer,
    stand_in,
    token_answer,
)

StartSandbox = Callable[..., Sandbox]

WRONG_SECRET = "not-the-secret-7f3a9c"


def connection_status(output: EntrypointOutput) -> AirbyteConnectionStatus:
    (message,) = output.connection_status_messages
    return message.connectionStatus


def test_check_succeeds_against_the_sandbox(sandbox: Sandbox) -> None:
    status = connection_status(harness.run_check(sandbox.config()))

    assert status.status == Status.SUCCEEDED, status.message


def test_a_successful_check_says_per_api_family_what_a_sync_will_see(sandbox: Sandbox, catalog: AirbyteCatalog) -> None:
    data_extensions = [stream for stream in catalog.streams if stream.name.startswith("data_extension__")]

    status = connection_status(harness.run_check(sandbox.config()))

    assert data_extensions
    assert status.message.startswith(f"REST: ok; SOAP: ok; data extensions: {len(data_extensions)} found")


def test_a_check_with_rest_scopes_only_says_soap_and_data_extensions_have_none(start_sandbox: StartSandbox) -> None:
    rest_only = start_sandbox(scopes=("campaigns_read",))

    status = connection_status(harness.run_check(rest_only.config()))

    assert status.status == Status.SUCCEEDED
    assert status.message == "REST: ok; SOAP: no scope granted; data extensions: no scope granted"


def test_check_with_a_wrong_secret_fails_with_a_message_that_names_the_credentials(sandbox: Sandbox) -> None:
    output = harness.run_check(sandbox.config(client_secret=WRONG_SECRET))

    status = connection_status(output)
    assert status.status == Status.FAILED
    assert "client_secret" in status.message
    assert harness.error_failure_types(output) == {"config_error"}


def test_check_with_a_wrong_secret_never_shows_a_secret(sandbox: Sandbox) -> None:
    output = harness.run_check(sandbox.config(client_secret=WRONG_SECRET))

    text = harness.all_output_text(output)
    assert WRONG_SECRET not in text
    assert sandbox.client_secret not in text


def test_check_refuses_a_subdomain_outside_marketing_cloud(sandbox: Sandbox) -> None:
    output = harness.run_check(sandbox.config(subdomain="https://evil.example.com"))

    status = connection_status(output)
    assert status.status == Status.FAILED
    assert "'subdomain'" in status.message
    # Refused while the config is validated, before any request: a FAILED status, as the CDK answers a config
    # error there, and no trace of another failure type.
    assert harness.error_failure_types(output) <= {"config_error"}


def test_check_with_no_scope_granted_names_the_missing_scope(start_sandbox: StartSandbox) -> None:
    bare = start_sandbox(scopes=())

    status = connection_status(harness.run_check(bare.config()))

    assert status.status == Status.FAILED
    assert "campaigns_read" in status.message


def test_check_with_only_unrelated_scopes_names_the_scopes_to_grant(start_sandbox: StartSandbox) -> None:
    unrelated = start_sandbox(scopes=("audiences_read", "webhooks_read"))

    status = connection_status(harness.run_check(unrelated.config()))

    assert status.status == Status.FAILED
    assert "tracking_events_read" in status.message
    assert "campaigns_read" in status.message


def test_a_failed_check_says_why_in_a_plain_sentence_not_a_quoted_string(start_sandbox: StartSandbox) -> None:
    bare = start_sandbox(scopes=())

    status = connection_status(harness.run_check(bare.config()))

    assert status.message[:1] not in ("'", '"'), status.message


def test_reading_a_stream_whose_scope_is_missing_fails_naming_the_scope(start_sandbox: StartSandbox) -> None:
    without_tracking = start_sandbox(scopes=("campaigns_read", "email_read"))
    config = without_tracking.config()
    catalog = harness.configured_catalog(harness.run_discover(config), ["campaigns", "open_events"])

    sync = harness.run_read(without_tracking, config, catalog)

    assert sync.records.get("campaigns"), "a stream that is allowed still reads"
    assert any("open_events" in error and "tracking_events_read" in error for error in sync.errors), sync.errors
    assert harness.error_failure_types(sync.output) == {"config_error"}


def test_a_stream_that_needs_start_date_without_it_is_a_config_error_naming_start_date(sandbox: Sandbox) -> None:
    config = {name: value for name, value in sandbox.config().items() if name != "start_date"}
    catalog = harness.configured_catalog(harness.run_discover(config), ["campaigns", "sent_events"])

    sync = harness.run_read(sandbox, config, catalog)

    assert not sync.records
    assert harness.error_failure_types(sync.output) == {"config_error"}
    assert any("'start_date'" in error and "sent_events" in error for error in sync.errors), sync.errors


def test_console_script_check_succeeds_against_the_sandbox(sandbox: Sandbox) -> None:
    exit_code, messages, _ = harness.run_console("check", "--config", "{config}", files={"config": sandbox.config()})

    statuses = [message["connectionStatus"] for message in messages if message["type"] == "CONNECTION_STATUS"]
    assert exit_code == 0
    assert [status["status"] for status in statuses] == ["SUCCEEDED"]


def test_console_script_check_with_a_wrong_secret_fails_without_printing_it(sandbox: Sandbox) -> None:
    config = sandbox.config(client_secret=WRONG_SECRET)

    _, messages, printed = harness.run_console("check", "--config", "{config}", files={"config": config})

    statuses = [message["connectionStatus"] for message in messages if message["type"] == "CONNECTION_STATUS"]
    assert [status["status"] for status in statuses] == ["FAILED"]
    assert WRONG_SECRET not in printed


# -- business units whose token requests fail in different ways (a stand-in token server) ---------------------------
REFUSED_SLOWLY, HANGING, SERVER_FAULT, FINE = 1111111, 2222222, 3333333, 4444444


def _unit_token_server(request: Received) -> Answer:
    """Refuses one unit after a second, lets another's request hang past the timeout, answers 500 for a third."""
    if not is_token_request(request):
        return soap_answer()
    body = json.loads(request.body)
    mid = body.get("account_id")
    if mid == REFUSED_SLOWLY:
        time.sleep(1)
        return json_answer({"error": "unauthorized_client", "error_description": body["client_secret"]}, 401)
    if mid == HANGING:
        time.sleep(6)
    if mid == SERVER_FAULT:
        return json_answer({"error": "server_error", "error_description": body["client_secret"]}, 500)
    return token_answer(f"http://{request.headers['host']}")


def _check_units(*mids: int) -> tuple[AirbyteConnectionStatus, list[str], str]:
    """`check` of these units: its status, the failure types of its error traces, and everything it printed."""
    with stand_in(_unit_token_server) as running:
        output = harness.run_check(running.config(business_units=[str(m) for m in mids], request_timeout_seconds=2))
    printed = "\n".join(str(message) for message in [*output.logs, *output.errors, *output.connection_status_messages])
    return connection_status(output), [m.trace.error.failure_type.value for m in output.errors], printed


def test_a_check_with_a_refused_a_hanging_and_a_failing_unit_names_each_with_what_happened() -> None:
    status, failure_types, _ = _check_units(FINE, REFUSED_SLOWLY, HANGING, SERVER_FAULT)
    assert status.status == Status.FAILED
    message = status.message
    # The refusal is the user's to fix: it is not hidden behind the other units' server faults.
    assert f"refused a token for business unit of 'business_units': {REFUSED_SLOWLY}." in message
    assert f"Business unit {HANGING} could not be checked: " in message and "within 2 s" in message
    assert f"Business unit {SERVER_FAULT} could not be checked: " in message and "HTTP 500" in message
    assert message.endswith(f"The package can read business unit {FINE}.")
    assert failure_types == ["config_error"]


def test_a_check_whose_units_meet_server_faults_only_names_each_unit_and_is_not_a_config_error() -> None:
    status, failure_types, _ = _check_units(FINE, HANGING, SERVER_FAULT)
    assert status.status == Status.FAILED
    assert status.message.startswith(f"Business unit {HANGING} could not be checked: ")
    assert f"Business unit {SERVER_FAULT} could not be checked: " in status.message
    assert "refused" not in status.message and failure_types == []


def test_a_check_of_failing_units_never_shows_the_secret_a_token_server_echoes() -> None:
    _, _, printed = _check_units(FINE, REFUSED_SLOWLY, SERVER_FAULT)
    assert CLIENT_SECRET not in printed


BROKEN_IN_TRANSIT = 5555555


def _broken_token_answers(request: Received) -> Answer:
    """Answers the token request of one unit with a body broken in transit (chunks that are not chunks)."""
    if not is_token_request(request):
        return soap_answer()
    if json.loads(request.body).get("account_id") == BROKEN_IN_TRANSIT:
        return Answer(
            200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}, trickle=[(0, b"zz\r\n")]
        )
    return token_answer(f"http://{request.headers['host']}")


def test_a_check_whose_token_answer_breaks_in_transit_names_the_unit_and_what_happened() -> None:
    # It was "The connection check failed with an unexpected error (ChunkedEncodingError)", with a traceback.
    with stand_in(_broken_token_answers) as running:
        output = harness.run_check(running.config(business_units=[str(FINE), str(BROKEN_IN_TRANSIT)]))
    status = connection_status(output)
    assert status.status == Status.FAILED
    assert status.message.startswith(f"Business unit {BROKEN_IN_TRANSIT} could not be checked: "), status.message
    assert "incomplete" in status.message and "Error" not in status.message
    assert not [log for log in output.logs if "Traceback" in log.log.message]
