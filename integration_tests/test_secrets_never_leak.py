"""No secret (client secret, access token) reaches stdout or stderr, whatever fails, through the real command."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape as xml_escape

import pytest
from airbyte_cdk.models import ConfiguredAirbyteCatalogSerializer

from integration_tests import harness
from integration_tests.sandbox import Sandbox
from integration_tests.standins import (
    CLIENT_ID,
    Answer,
    Received,
    is_token_request,
    json_answer,
    soap_fault,
    stand_in,
    token_answer,
)
from integration_tests.test_fault_matrix import catalog_of

CONNECTOR = str(Path(sys.executable).parent / "source-sfmc")
CLIENT_SECRET = "s3cr3t-client-secret-that-must-never-be-printed"
STREAMS = ("campaigns", "sent_events")


def issued_tokens(sandbox: Sandbox) -> list[str]:
    """Every access token the sandbox handed out (read from its token store, in-process)."""
    with sandbox.tokens._lock:
        return list(sandbox.tokens._tokens)


def run_connector(tmp_path: Path, verb: str, config: dict, *, catalog: bool) -> str:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    args = [CONNECTOR, verb, "--config", str(config_path)]
    if catalog:
        catalog_path = tmp_path / "catalog.json"
        catalog_path.write_text(json.dumps(ConfiguredAirbyteCatalogSerializer.dump(catalog_of(STREAMS))))
        args += ["--catalog", str(catalog_path)]
    completed = subprocess.run(args, capture_output=True, text=True, timeout=240)
    return completed.stdout + completed.stderr


def assert_no_secret_in(output: str, secrets: list[str]) -> None:
    assert secrets, "no secret to look for: the test would prove nothing"
    for secret in secrets:
        assert secret not in output, "a secret was printed"


# Every kind the sandbox injects into a read this small; request_id_expired needs continuation pages, which the
# fault matrix forces with a small page size.
FAULT_KINDS = ("rate_limit", "server_error", "token_expiry", "connection_reset", "slow", "truncated")


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_a_read_through_a_fault_kind_prints_no_secret(
    start_sandbox: Callable[..., Sandbox], tmp_path: Path, kind: str
) -> None:
    sandbox = start_sandbox(seed=3, scale=0.05, faults=f"{kind}:0.3", slow_seconds=2, client_secret=CLIENT_SECRET)
    config = sandbox.config(window_days=30, request_timeout_seconds=1)

    output = run_connector(tmp_path, "read", config, catalog=True)

    assert '"type":"RECORD"' in output.replace(" ", "")
    assert sandbox.stats()["faults_injected"].get(kind, 0) > 0
    assert_no_secret_in(output, [CLIENT_SECRET, *issued_tokens(sandbox)])


def test_a_read_debug_log_prints_no_secret(start_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    # The debug log shows every request; expiring tokens makes it show several of them (enough requests that
    # this seed expires some: campaign_assets and automations make one per campaign and per automation).
    sandbox = start_sandbox(seed=3, scale=0.05, faults="token_expiry:0.3", client_secret=CLIENT_SECRET)
    config = sandbox.config(window_days=90, request_timeout_seconds=1)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    catalog_path = tmp_path / "catalog.json"
    catalog_path.write_text(
        json.dumps(ConfiguredAirbyteCatalogSerializer.dump(catalog_of(("campaigns", "campaign_assets", "automations"))))
    )

    completed = subprocess.run(
        [CONNECTOR, "read", "--debug", "--config", str(config_path), "--catalog", str(catalog_path)],
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert len(issued_tokens(sandbox)) > 1
    assert_no_secret_in(completed.stdout + completed.stderr, [CLIENT_SECRET, *issued_tokens(sandbox)])


@pytest.mark.parametrize("verb", ["check", "read"])
def test_rejected_credentials_print_no_secret(start_sandbox: Callable[..., Sandbox], tmp_path: Path, verb: str) -> None:
    sandbox = start_sandbox(scale=0.05, client_secret=CLIENT_SECRET)
    config = sandbox.config(client_secret=CLIENT_SECRET + "-but-wrong")

    output = run_connector(tmp_path, verb, config, catalog=verb == "read")

    assert "client_secret" in output  # the message names the field to fix...
    assert_no_secret_in(output, [CLIENT_SECRET, CLIENT_SECRET + "-but-wrong"])  # ...never its value


ECHOED_TOKEN = "echoed-token-0123456789-must-never-be-printed"


def _echo_credentials(base_url: Callable[[], str]) -> Callable[[Received], Answer]:
    """A Marketing Cloud that quotes the request back in its error: the Authorization header (REST) or the whole
    envelope with its fueloauth token (SOAP)."""

    def script(request: Received) -> Answer:
        if is_token_request(request):
            return token_answer(base_url(), access_token=ECHOED_TOKEN)
        if request.headers.get("soapaction"):
            fault = soap_fault(f"bad request: {xml_escape(request.body.decode())}")
            return Answer(500, {"Content-Type": "text/xml"}, fault.encode())
        return json_answer({"message": f"bad header {request.headers.get('authorization')}", "errorcode": 1}, 400)

    return script


@pytest.mark.parametrize("stream", ["campaigns", "sends"])
def test_a_token_the_server_quotes_in_an_error_is_not_printed(tmp_path: Path, stream: str) -> None:
    server_url: list[str] = []
    with stand_in(_echo_credentials(lambda: server_url[0])) as server:
        server_url.append(server.url)
        config_path = tmp_path / "config.json"
        config_path.write_text(json.dumps(server.config(start_date="2024-01-01T00:00:00Z")))
        catalog_path = tmp_path / "catalog.json"
        catalog_path.write_text(json.dumps(ConfiguredAirbyteCatalogSerializer.dump(catalog_of((stream,)))))
        completed = subprocess.run(
            [CONNECTOR, "read", "--config", str(config_path), "--catalog", str(catalog_path)],
            capture_output=True,
            text=True,
            timeout=240,
        )
    output = completed.stdout + completed.stderr
    assert any(request.headers.get("authorization") == f"Bearer {ECHOED_TOKEN}" for request in server.received)
    assert '"failure_type":"system_error"' in output.replace(" ", "")  # the error itself is still reported
    assert_no_secret_in(output, [ECHOED_TOKEN])


# A secret with characters that every encoding changes, and a token with every character RFC 6750 allows.
ODD_CLIENT_SECRET = "s3cr3t/client+secret=\u00fcn\u00efcode value&more"
ODD_TOKEN = "echoed.token/0123+456789~must-never-be-printed=="


def encoded_forms(secret: str, client_id: str) -> dict[str, str]:
    """What a server echoing `secret` back in other forms than its literal text would show (named for failures)."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {
        "quote": quote(secret, safe=""),
        "quote keeping /": quote(secret),
        "quote_plus": quote_plus(secret),
        "quote, lower hex": re.sub(r"%[0-9A-F]{2}", lambda escape: escape.group(0).lower(), quote(secret, safe="")),
        "base64": base64.b64encode(secret.encode()).decode(),
        "base64, url-safe": base64.urlsafe_b64encode(secret.encode()).decode(),
        "Basic header": f"Basic {basic}",
        "json unicode escapes": "".join(f"\\u{ord(character):04x}" for character in secret),
        "json unicode escapes, upper hex": "".join(f"\\u{ord(character):04X}" for character in secret),
        "first 12 characters": secret[:12],
        "last 12 characters": secret[-12:],
        "middle 10 characters": secret[10:20],
    }


def _echo_every_form(base_url: Callable[[], str], *, token_refused: bool) -> Callable[[Received], Answer]:
    """A Marketing Cloud that quotes the client secret and the token back in every encoding in its errors: in a
    refused token request's body, in REST error bodies and in SOAP faults."""
    every_form = [*encoded_forms(ODD_CLIENT_SECRET, CLIENT_ID).values(), *encoded_forms(ODD_TOKEN, CLIENT_ID).values()]
    quoted = " | ".join(every_form)

    def script(request: Received) -> Answer:
        if is_token_request(request):
            if token_refused:
                # An error whose description the connector's message quotes (that of invalid_client is not); no
                # token was issued, so only the client secret can be quoted.
                secret_forms = " | ".join(encoded_forms(ODD_CLIENT_SECRET, CLIENT_ID).values())
                return json_answer({"error": "invalid_request", "error_description": f"bad {secret_forms}"}, 400)
            return token_answer(base_url(), access_token=ODD_TOKEN)
        if request.headers.get("soapaction"):
            fault = soap_fault(f"bad request: {xml_escape(quoted)}")
            return Answer(500, {"Content-Type": "text/xml"}, fault.encode())
        return json_answer({"message": f"bad request {quoted}", "errorcode": 1}, 400)

    return script


def assert_no_form_in(output: str, secret: str) -> None:
    for name, form in encoded_forms(secret, CLIENT_ID).items():
        assert form not in output, f"the {name} of a secret was printed"
    assert secret not in output


@pytest.mark.parametrize(
    ("verb", "stream", "token_refused"),
    [
        ("check", None, True),
        ("read", "campaigns", True),
        ("check", None, False),
        ("read", "campaigns", False),
        ("read", "sends", False),
        ("discover", None, True),
        ("discover", None, False),
    ],
    ids=[
        "check-token-error",
        "read-token-error",
        "check-api-errors",
        "read-rest-errors",
        "read-soap-errors",
        "discover-token-error",
        "discover-soap-errors",
    ],
)
def test_a_secret_or_token_a_server_echoes_encoded_or_cut_is_not_printed(
    tmp_path: Path, verb: str, stream: str | None, token_refused: bool
) -> None:
    server_url: list[str] = []
    with stand_in(_echo_every_form(lambda: server_url[0], token_refused=token_refused)) as server:
        server_url.append(server.url)
        config = server.config(client_secret=ODD_CLIENT_SECRET, start_date="2024-01-01T00:00:00Z")
        config_path = tmp_path / "config.json"
        config_path.write_text(json.dumps(config))
        args = [CONNECTOR, verb, "--debug", "--config", str(config_path)]
        if stream:
            catalog_path = tmp_path / "catalog.json"
            catalog_path.write_text(json.dumps(ConfiguredAirbyteCatalogSerializer.dump(catalog_of((stream,)))))
            args += ["--catalog", str(catalog_path)]
        completed = subprocess.run(args, capture_output=True, text=True, timeout=240)
    output = completed.stdout + completed.stderr
    assert "failure_type" in output or "FAILED" in output  # the failure itself is still reported
    assert_no_form_in(output, ODD_CLIENT_SECRET)
    assert_no_form_in(output, ODD_TOKEN)


def test_a_token_echoed_in_a_utf16_answer_is_not_printed_by_the_debug_log(tmp_path: Path) -> None:
    """A UTF-16 error body without a charset: `requests` reads it one byte per character, so the debug log of the
    answer had a NUL between every two characters of the token."""
    server_url: list[str] = []

    def script(request: Received) -> Answer:
        if is_token_request(request):
            return token_answer(server_url[0], access_token=ECHOED_TOKEN)
        body = json.dumps({"message": f"bad header {request.headers.get('authorization')}", "errorcode": 1})
        return Answer(400, {"Content-Type": "application/json"}, body.encode("utf-16-le"))

    with stand_in(script) as server:
        server_url.append(server.url)
        config_path = tmp_path / "config.json"
        config_path.write_text(json.dumps(server.config()))
        catalog_path = tmp_path / "catalog.json"
        catalog_path.write_text(json.dumps(ConfiguredAirbyteCatalogSerializer.dump(catalog_of(("campaigns",)))))
        completed = subprocess.run(
            [CONNECTOR, "read", "--debug", "--config", str(config_path), "--catalog", str(catalog_path)],
            capture_output=True,
            text=True,
            timeout=240,
        )
    output = completed.stdout + completed.stderr
    assert "Receiving response" in output  # the debug log of the answer is there
    runs = [ECHOED_TOKEN[start : start + 8] for start in range(len(ECHOED_TOKEN) - 7)]
    for run in runs:
        assert "\\u0000".join(run) not in output and "\\\\x00".join(run) not in output, "a token was printed"


def test_a_record_holding_the_secret_or_a_token_is_emitted_intact(tmp_path: Path) -> None:
    """Records are the account's data, never masked: a value that holds the client secret, a token or a run of
    either reaches the destination as Marketing Cloud sent it (masking it would corrupt the data)."""
    server_url: list[str] = []
    name = f"{ODD_CLIENT_SECRET} | {ECHOED_TOKEN} | {ODD_CLIENT_SECRET[3:14]} | {quote(ECHOED_TOKEN, safe='')}"

    def script(request: Received) -> Answer:
        if is_token_request(request):
            return token_answer(server_url[0], access_token=ECHOED_TOKEN)
        campaign = {"id": 1, "name": name, "modifiedDate": "2024-01-02T00:00:00Z"}
        return json_answer({"items": [campaign], "page": 1, "pageSize": 50, "count": 1})

    with stand_in(script) as server:
        server_url.append(server.url)
        files = {
            "config": server.config(client_secret=ODD_CLIENT_SECRET),
            "catalog": ConfiguredAirbyteCatalogSerializer.dump(catalog_of(("campaigns",))),
        }
        exit_code, messages, _ = harness.run_console(
            "read", "--config", "{config}", "--catalog", "{catalog}", files=files
        )
    assert exit_code == 0
    assert [m["record"]["data"]["name"] for m in messages if m["type"] == "RECORD"] == [name]
