"""`check` (and the config errors a read reports up front) against the sandbox, over real HTTP."""

from __future__ import annotations

from collections.abc import Callable

from airbyte_cdk.models import AirbyteCatalog, AirbyteConnectionStatus, Status
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput

from integration_tests import harness
from integration_tests.sandbox import Sandbox

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
