"""Every malformed config is refused with a config_error naming the field, never a bare traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from airbyte_cdk.models import FailureType, Status
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, _run_command, make_file

from integration_tests.sandbox import Sandbox
from source_sfmc.source import SourceSfmc

CONNECTOR = str(Path(sys.executable).parent / "source-sfmc")
VALID = {
    "client_id": "a-client-id",
    "client_secret": "a-client-secret",
    "subdomain": "http://127.0.0.1:9",
    "start_date": "2025-01-01T00:00:00Z",
}
MISSING = object()


def config_with(field: str, value: Any) -> dict[str, Any]:
    config = dict(VALID)
    if value is MISSING:
        config.pop(field, None)
    else:
        config[field] = value
    return config


# (field named in the message, value; MISSING removes the field)
BAD_CONFIGS: list[tuple[str, Any]] = [
    ("client_id", MISSING),
    ("client_secret", MISSING),
    ("subdomain", MISSING),
    ("client_id", 12345),
    ("client_secret", ["a", "list"]),
    ("subdomain", 42),
    ("client_id", ""),
    ("client_secret", "   "),
    ("subdomain", " "),
    ("account_id", "https://mc123.auth.marketingcloudapis.com/"),
    ("account_id", "72812x"),
    ("account_id", True),
    ("subdomain", "https://mc563885gzs27c5t9-63k636ttgm.auth.marketingcloudapis.com:8443/"),
    ("subdomain", "mc563885gzs27c5t9-63k636ttgm/v2/token"),
    ("subdomain", "https://evil.example.com/"),
    ("subdomain", "http://mc563885gzs27c5t9-63k636ttgm.auth.marketingcloudapis.com/"),
    ("start_date", "01/02/2024"),
    ("start_date", "2024-13-45T00:00:00Z"),
    ("start_date", "yesterday"),
    ("start_date", "2999-01-01T00:00:00Z"),
    ("start_date", 20240101),
    ("window_days", 0),
    ("window_days", 10000),
    ("window_days", "thirty"),
    ("window_days", 1.5),
    ("lookback_hours", -1),
    ("num_workers", 0),
    ("request_timeout_seconds", 0),
    ("query_all_accounts", "yes"),
    ("business_units", "7281234"),
    ("business_units[0]", ["72-81"]),
    ("business_units[1]", ["7281234", True]),
    ("business_units[2]", ["7281234", 7294501, 0]),
    ("business_units[0]", [-7281234]),
    ("business_units[0]", [7281234.5]),
    ("business_units[0]", [{"mid": "7281234"}]),
    ("all_business_units", "yes"),
    ("data_extensions", "not-a-list"),
    ("unknown_setting", "anything"),
    ("link_sends_recent_days", "²"),
    ("link_sends_recent_days", 0),
    ("link_sends_recent_days", 12.5),
]


def run_check(config: dict[str, Any], tmp_path: Path) -> EntrypointOutput:
    return _run_command(SourceSfmc(), ["discover", "--config", make_file(tmp_path / "config.json", config)])


def config_error_text(output: EntrypointOutput) -> str:
    """What the user is told: config_error traces and failed connection statuses."""
    traces = [
        message.trace.error.message
        for message in output.errors
        if message.trace.error.failure_type == FailureType.config_error
    ]
    statuses = [
        message.connectionStatus.message or ""
        for message in output.connection_status_messages
        if message.connectionStatus.status == Status.FAILED
    ]
    return "\n".join(traces + statuses)


@pytest.mark.parametrize(("field", "value"), BAD_CONFIGS, ids=[f"{f}={v!r}"[:60] for f, v in BAD_CONFIGS])
def test_a_malformed_config_is_refused_naming_its_field(field: str, value: Any, tmp_path: Path) -> None:
    output = run_check(config_with(field, value), tmp_path)

    told = config_error_text(output)
    assert f"'{field}'" in told, told or output.get_formatted_error_message()
    assert "Traceback" not in told


def test_the_valid_base_config_passes_validation(sandbox: Sandbox, tmp_path: Path) -> None:
    # Guards the table: the base config is not refused for its form (its credentials and host made the sandbox's,
    # so the discover ends at once instead of retrying a closed port for the whole check budget).
    output = run_check({**VALID, **sandbox.config()}, tmp_path)

    assert "Config field" not in config_error_text(output)


@pytest.mark.parametrize(
    ("verb", "field", "value"),
    [
        ("check", "window_days", 0),
        ("check", "subdomain", "mc1/path"),
        ("check", "client_id", MISSING),
        ("check", "link_sends_recent_days", "²"),
        ("read", "link_sends_recent_days", "²"),
        ("read", "window_days", 0),
        ("read", "subdomain", "mc1/path"),
        ("read", "client_id", MISSING),
    ],
)
def test_the_real_command_names_the_field_without_a_bare_traceback(
    verb: str, field: str, value: Any, tmp_path: Path
) -> None:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config_with(field, value)))
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps({"streams": []}))
    args = [CONNECTOR, verb, "--config", str(config_path)]
    if verb == "read":
        args += ["--catalog", str(catalog_path)]

    completed = subprocess.run(args, capture_output=True, text=True, timeout=60)

    messages = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    told = [
        message["trace"]["error"]["message"]
        for message in messages
        if message["type"] == "TRACE" and message["trace"]["error"].get("failure_type") == "config_error"
    ] + [
        message["connectionStatus"].get("message") or ""
        for message in messages
        if message["type"] == "CONNECTION_STATUS" and message["connectionStatus"]["status"] == "FAILED"
    ]
    assert any(f"'{field}'" in text for text in told), completed.stdout[-2000:] + completed.stderr[-2000:]
    assert not completed.stderr.lstrip().startswith("Traceback")


@pytest.mark.parametrize("field", ["link_sends_recent_days", "window_days", "account_id", "start_date"])
def test_check_takes_an_optional_setting_left_null_as_unset_like_read(field: str, tmp_path: Path) -> None:
    # `read` parses the config alone, where null means "not set"; `check` must not refuse what `read` accepts.
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config_with(field, None)))

    completed = subprocess.run(
        [CONNECTOR, "check", "--config", str(config_path)], capture_output=True, text=True, timeout=60
    )

    assert "Config validation error" not in completed.stdout


# (what the config file holds, words the message must say); None: no file at all
UNREADABLE_CONFIG_FILES: list[tuple[bytes | None, str]] = [
    (b"not json", "not valid JSON"),
    (b'{"client_id": ', "not valid JSON"),
    (b"", "not valid JSON"),
    (b'["client_id", "client_secret"]', "must be a JSON object"),
    (b"42", "must be a JSON object"),
    (b"null", "must be a JSON object"),
    (b"\xff\xfe{}", "not UTF-8"),
    (None, "could not be read"),
]


# Every file with `check`; one of each kind (not JSON, not an object, no file) with `discover` and `read`, which
# read the config file the same way (a subprocess each: about a second apiece).
CASES = [("check", contents, said) for contents, said in UNREADABLE_CONFIG_FILES] + [
    (verb, contents, said)
    for verb in ("discover", "read")
    for contents, said in (UNREADABLE_CONFIG_FILES[0], UNREADABLE_CONFIG_FILES[3], UNREADABLE_CONFIG_FILES[-1])
]


@pytest.mark.parametrize(("verb", "contents", "said"), CASES, ids=[f"{v}-{c!r}"[:40] for v, c, _ in CASES])
def test_a_config_file_that_is_not_a_json_object_is_a_config_error_without_a_traceback(
    verb: str, contents: bytes | None, said: str, tmp_path: Path
) -> None:
    config_path = tmp_path / "config.json"
    if contents is not None:
        config_path.write_bytes(contents)
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(json.dumps({"streams": []}))
    args = [CONNECTOR, verb, "--config", str(config_path)]
    if verb == "read":
        args += ["--catalog", str(catalog_path)]

    completed = subprocess.run(args, capture_output=True, text=True, timeout=60)

    messages = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    (error,) = [message["trace"]["error"] for message in messages if message["type"] == "TRACE"]
    assert error["failure_type"] == "config_error" and said in error["message"]
    assert "Traceback" not in completed.stdout + completed.stderr
    if verb == "check":
        (status,) = [message["connectionStatus"] for message in messages if message["type"] == "CONNECTION_STATUS"]
        assert status["status"] == "FAILED" and said in status["message"]
        assert completed.returncode == 0
    else:
        assert completed.returncode == 1
