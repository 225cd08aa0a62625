"""Compressed answers end to end: the `source-sfmc` command reads gzip-encoded REST and SOAP answers over real
HTTP exactly as it reads plain ones, and refuses a gzip bomb whose decoded body passes the 256 MB cap."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from airbyte_cdk.models import ConfiguredAirbyteCatalogSerializer

from integration_tests import harness
from integration_tests.sandbox import Sandbox
from integration_tests.sandbox.server import accepts_gzip
from integration_tests.standins import Answer, Received, is_token_request, stand_in, token_answer
from integration_tests.test_fault_matrix import catalog_of
from source_sfmc.http_policy import MAX_BODY_BYTES

REST_AND_SOAP = ("campaigns", "sends", "sent_events")


def read_through_the_command(sandbox: Sandbox, streams: tuple[str, ...]) -> tuple[int, list[dict[str, Any]]]:
    files = {
        "config": sandbox.config(window_days=90),
        "catalog": ConfiguredAirbyteCatalogSerializer.dump(catalog_of(streams)),
    }
    exit_code, messages, _ = harness.run_console("read", "--config", "{config}", "--catalog", "{catalog}", files=files)
    return exit_code, messages


def records(messages: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(m["record"]["stream"], m["record"]["data"]) for m in messages if m["type"] == "RECORD"]


def answers(sandbox: Sandbox) -> int:
    requests = sandbox.stats()["requests"]
    return requests["token"] + sum(requests["rest"].values()) + sum(requests["soap"].values())


def test_a_read_of_gzip_compressed_rest_and_soap_answers_emits_what_a_plain_read_emits(
    start_sandbox: Callable[..., Sandbox],
) -> None:
    compressing = start_sandbox(seed=5, scale=0.05, gzip=True)
    plain = start_sandbox(seed=5, scale=0.05)

    compressed_exit, compressed_messages = read_through_the_command(compressing, REST_AND_SOAP)
    plain_exit, plain_messages = read_through_the_command(plain, REST_AND_SOAP)

    assert compressed_exit == plain_exit == 0
    assert {stream for stream, _ in records(compressed_messages)} == set(REST_AND_SOAP)
    assert sorted(map(repr, records(compressed_messages))) == sorted(map(repr, records(plain_messages)))
    stats = compressing.stats()
    assert stats["requests"]["rest"] and stats["requests"]["soap"]
    assert stats["answers_compressed"] == answers(compressing)  # every answer, token, REST and SOAP, went gzipped
    assert plain.stats()["answers_compressed"] == 0


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip, deflate", True),
        ("gzip, deflate, br, zstd", True),
        ("GZIP", True),
        ("deflate, gzip;q=0.5", True),
        ("*", True),
        ("identity", False),
        ("gzip;q=0", False),
        ("*, gzip;q=0", False),
        ("", False),
        (None, False),
    ],
)
def test_the_sandbox_compresses_only_for_a_request_that_accepts_gzip(header: str | None, accepted: bool) -> None:
    assert accepts_gzip(header) is accepted


def gzip_bomb(decoded_bytes: int) -> bytes:
    """A gzip body of `decoded_bytes` zero bytes, built piecewise (a few hundred KB on the wire)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip header and trailer
    piece = b"\0" * (4 * 1024 * 1024)
    parts = [compressor.compress(piece) for _ in range(decoded_bytes // len(piece))]
    return b"".join([*parts, compressor.flush()])


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return gzip_bomb(MAX_BODY_BYTES + 16 * 1024 * 1024)


def _bomb_for_every_answer(base_url: Callable[[], str], bomb: bytes) -> Callable[[Received], Answer]:
    def script(request: Received) -> Answer:
        if is_token_request(request):
            return token_answer(base_url())
        return Answer(200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, bomb)

    return script


@pytest.fixture
def bombing_server(bomb: bytes) -> Iterator[Any]:
    url: list[str] = []
    with stand_in(_bomb_for_every_answer(lambda: url[0], bomb)) as server:
        url.append(server.url)
        yield server


def test_a_gzip_bomb_past_the_decoded_cap_fails_the_stream_once_without_retrying(bombing_server: Any) -> None:
    files = {
        "config": bombing_server.config(start_date="2024-01-01T00:00:00Z"),
        "catalog": ConfiguredAirbyteCatalogSerializer.dump(catalog_of(("campaigns",))),
    }

    exit_code, messages, output = harness.run_console(
        "read", "--config", "{config}", "--catalog", "{catalog}", files=files
    )

    assert exit_code != 0
    assert f"larger than {MAX_BODY_BYTES // (1024 * 1024)} MB once decoded" in output
    assert not records(messages)
    campaign_requests = [r for r in bombing_server.received if r.path.startswith("/hub/v1/campaigns")]
    assert len(campaign_requests) == 1  # refused, never retried
