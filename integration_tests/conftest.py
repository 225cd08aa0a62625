"""Fixtures that run the local SFMC sandbox in-process on a free loopback port."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from airbyte_cdk.models import AirbyteCatalog
from airbyte_cdk.test.standard_tests.pytest_hooks import pytest_addoption as cdk_pytest_addoption

from integration_tests import harness
from integration_tests.harness import Sync
from integration_tests.sandbox import Sandbox
from integration_tests.sandbox import start_sandbox as _start_sandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """One default sandbox (seed 42, scale 1, no faults) shared by the session; use `.config()` for a config."""
    with _start_sandbox(port=0) as running:
        yield running


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes with other options (faults, token TTL, scopes...); all stop after the test."""
    started: list[Sandbox] = []

    def start(**options: Any) -> Sandbox:
        running = _start_sandbox(**{"port": 0, **options})
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


class RecordingSoapSide:
    """Stands in for the SOAP side: records what the server routes to it and answers like SFMC would."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.last_request_id = ""

    def handle(
        self,
        body: bytes,
        headers: Any,
        *,
        token_state: Any,
        has_scope: Any,
        expire_request_ids: bool = False,
        token_mid: Any = None,
    ) -> tuple[int, dict[str, str], bytes]:
        token = body.split(b"<fueloauth", 1)[-1].split(b">", 1)[-1].split(b"<", 1)[0].decode()
        self.calls.append(
            {"body": body, "soap_action": headers.get("soapaction"), "expire_request_ids": expire_request_ids}
        )
        if token_state(token) != "ok":
            return 500, {"Content-Type": "text/xml"}, b"<soap:Fault><faultstring>Token Expired</faultstring>"
        self.last_request_id = str(uuid.uuid4())  # random, as SFMC's are
        answer = "<RetrieveResponseMsg><OverallStatus>MoreDataAvailable</OverallStatus>"
        answer += f"<RequestID>{self.last_request_id}</RequestID></RetrieveResponseMsg>"
        return 200, {"Content-Type": "text/xml; charset=utf-8"}, answer.encode()

    def handle_rowset(
        self, key: str, query: Any, *, token: str | None, token_state: Any, has_scope: Any, token_mid: Any = None
    ) -> tuple[int, dict[str, str], bytes]:
        self.calls.append({"key": key, "query": dict(query), "token_state": token_state(token), "mid": token_mid})
        return 200, {"Content-Type": "application/json; charset=utf-8"}, b'{"items":[]}'


@pytest.fixture
def recording_soap_side() -> RecordingSoapSide:
    return RecordingSoapSide()


def build_envelope(token: str, retrieve: str) -> str:
    return (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>'
        f'<fueloauth xmlns="http://exacttarget.com">{token}</fueloauth></s:Header><s:Body>'
        f'<RetrieveRequestMsg xmlns="http://exacttarget.com/wsdl/partnerAPI"><RetrieveRequest>{retrieve}'
        "</RetrieveRequest></RetrieveRequestMsg></s:Body></s:Envelope>"
    )


@pytest.fixture
def soap_envelope() -> Callable[[str, str], str]:
    """Builds a Retrieve envelope: soap_envelope(token, '<ObjectType>List</ObjectType>...')."""
    return build_envelope


# --- whole-sync reads shared by the end-to-end test modules (each read happens once per session) ----------


@pytest.fixture(scope="session")
def catalog(sandbox: Sandbox) -> AirbyteCatalog:
    return harness.discovered(sandbox)


@pytest.fixture(scope="session")
def everything(sandbox: Sandbox) -> Sync:
    return harness.everything(sandbox)


@pytest.fixture(scope="session")
def early_entities(sandbox: Sandbox) -> Sync:
    return harness.early_entities(sandbox)


# --- `--slow`: full-scale reliability runs (fault matrix, kill-and-resume), left out of CI ---------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", default=False, help="also run tests marked slow (full scale)")
    # The CDK standard suite's own options (--connector-image, --read-scenarios, ...): its hooks module is not a
    # plugin, so they exist only if registered here.
    cdk_pytest_addoption(parser)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--slow"):
        return
    skip_slow = pytest.mark.skip(reason="full-scale run: use --slow")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip_slow)
