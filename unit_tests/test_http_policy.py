"""The one HTTP client policy, tried against small loopback servers: trusted hosts only, no redirects, a deadline
for the whole request, body included."""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time

import pytest
import requests

from integration_tests.standins import Answer, Received, closed_port, redirect_to, stand_in
from source_sfmc import http_policy
from source_sfmc.auth import TOKEN_REQUEST_ATTEMPTS, SfmcAuthenticator, TokenError
from source_sfmc.config import parse_config
from source_sfmc.http_policy import (
    BodyTooLarge,
    RedirectRefused,
    RequestDeadlineExceeded,
    UntrustedHost,
    policy_session,
)


def a_config(subdomain: str, **overrides):
    raw = {"client_id": "a-client-id-0123", "client_secret": "a-client-secret-4567", "subdomain": subdomain}
    return parse_config({**raw, **overrides})


def _ok(_: Received) -> Answer:
    return Answer(200, {"Content-Type": "application/json"}, b"{}")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_no_redirect_is_followed_and_the_error_names_the_host_it_pointed_at(status: int) -> None:
    with stand_in(_ok) as foreign, stand_in(lambda _: redirect_to(f"{foreign.url}/x", status)) as server:
        session = policy_session(a_config(server.url))
        with pytest.raises(RedirectRefused) as refused:
            session.post(f"{server.url}/v2/token", json={"client_secret": "a-client-secret-4567"})
    assert foreign.received == []
    assert f"HTTP {status}" in str(refused.value) and foreign.url in str(refused.value)


def test_a_redirect_is_refused_even_when_the_caller_asks_to_follow_redirects() -> None:
    with stand_in(_ok) as foreign, stand_in(lambda _: redirect_to(f"{foreign.url}/x")) as server:
        session = policy_session(a_config(server.url))
        with pytest.raises(RedirectRefused):
            session.get(f"{server.url}/hub/v1/campaigns", allow_redirects=True)
    assert foreign.received == []


def test_a_request_to_a_host_outside_marketing_cloud_is_never_sent() -> None:
    session = policy_session(a_config("mc563885gzs27c5t9-63k636ttgm"))
    with pytest.raises(UntrustedHost) as refused:
        session.get("https://example.com/steal")
    assert "example.com" in str(refused.value)


def test_a_body_trickled_past_the_timeout_is_cut_at_the_timeout() -> None:
    trickle = Answer(200, {"Content-Type": "application/json"}, trickle=[(0.2, b" ")] * 1000)
    with stand_in(lambda _: trickle) as server:
        session = policy_session(a_config(server.url, request_timeout_seconds=1))
        started = time.monotonic()
        with pytest.raises(RequestDeadlineExceeded) as cut:
            session.get(f"{server.url}/hub/v1/campaigns")
        took = time.monotonic() - started
    assert 0.9 < took < 1.5
    assert isinstance(cut.value, requests.exceptions.Timeout)  # so the error policy retries it like any timeout
    assert "within 1 s" in str(cut.value)


def test_a_body_that_arrives_in_time_is_read_whole_and_the_connection_reused() -> None:
    pieces = Answer(200, {"Content-Type": "application/json"}, trickle=[(0.05, b'{"a":'), (0.05, b" 1}")])
    with stand_in(lambda _: pieces) as server:
        session = policy_session(a_config(server.url, request_timeout_seconds=5))
        assert session.get(f"{server.url}/x").json() == {"a": 1}


def test_an_answer_with_a_length_is_read_whole() -> None:
    body = b'{"items": [' + b",".join(b'{"id": %d}' % n for n in range(20_000)) + b"]}"
    with stand_in(lambda _: Answer(200, {"Content-Type": "application/json"}, body)) as server:
        session = policy_session(a_config(server.url))
        assert len(session.get(f"{server.url}/x").json()["items"]) == 20_000
        assert len(session.get(f"{server.url}/x").json()["items"]) == 20_000


def test_read_retries_a_token_request_that_cannot_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("source_sfmc.auth.time.sleep", lambda seconds: None)
    port = closed_port()
    authenticator = SfmcAuthenticator(a_config(f"http://127.0.0.1:{port}"))
    with pytest.raises(TokenError) as failed:
        authenticator.get_access_token()
    assert f"after {TOKEN_REQUEST_ATTEMPTS} attempts" in failed.value.message
    assert f"127.0.0.1:{port}" in failed.value.message and "'subdomain'" in failed.value.message


def test_check_does_not_retry_a_token_request_that_cannot_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("source_sfmc.auth.time.sleep", slept.append)
    port = closed_port()
    authenticator = SfmcAuthenticator(a_config(f"http://127.0.0.1:{port}"), for_check=True)
    with pytest.raises(TokenError) as failed:
        authenticator.get_access_token()
    assert slept == []
    assert "connection refused" in failed.value.message and "'subdomain'" in failed.value.message


def test_a_status_line_and_headers_trickled_past_the_timeout_are_cut_at_the_timeout() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        stop = threading.Event()

        def trickle_headers() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
                    if stop.wait(0.1):
                        return
                    with contextlib.suppress(OSError):
                        connection.sendall(bytes([byte]))

        server = threading.Thread(target=trickle_headers, daemon=True)
        server.start()
        session = policy_session(a_config(f"http://127.0.0.1:{port}", request_timeout_seconds=1))
        started = time.monotonic()
        with pytest.raises(RequestDeadlineExceeded):
            session.get(f"http://127.0.0.1:{port}/hub/v1/campaigns")
        took = time.monotonic() - started
        stop.set()
    assert took < 1.5


def test_a_gzip_encoded_answer_is_decoded() -> None:
    body = gzip.compress(b'{"access_token": "x"}')
    answer = Answer(200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, body)
    with stand_in(lambda _: answer) as server:
        session = policy_session(a_config(server.url))
        assert session.get(f"{server.url}/x").json() == {"access_token": "x"}


def test_a_gzip_encoded_answer_trickled_in_pieces_is_decoded() -> None:
    body = gzip.compress(b'{"items": [' + b",".join(b"%d" % n for n in range(50_000)) + b"]}")
    pieces = [(0.01, body[start : start + 4096]) for start in range(0, len(body), 4096)]
    answer = Answer(200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, trickle=pieces)
    with stand_in(lambda _: answer) as server:
        session = policy_session(a_config(server.url, request_timeout_seconds=10))
        assert len(session.get(f"{server.url}/x").json()["items"]) == 50_000


def test_a_gzip_bomb_is_refused_once_its_decoded_body_passes_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_policy, "MAX_BODY_BYTES", 4 * 1024 * 1024)
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))  # 64 KB on the wire
    answer = Answer(200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, bomb)
    with stand_in(lambda _: answer) as server:
        session = policy_session(a_config(server.url))
        with pytest.raises(BodyTooLarge) as refused:
            session.get(f"{server.url}/x")
    assert "larger than 4 MB" in str(refused.value)


def test_a_token_answer_too_large_to_read_fails_the_token_request_without_retrying(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(http_policy, "MAX_BODY_BYTES", 1024 * 1024)
    bomb = gzip.compress(b" " * (8 * 1024 * 1024))
    answer = Answer(200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, bomb)
    with stand_in(lambda _: answer) as server, pytest.raises(TokenError) as failed:
        SfmcAuthenticator(a_config(server.url)).get_access_token()
    assert len(server.received) == 1
    assert "larger than 1 MB" in failed.value.message


def test_a_redirect_to_a_relative_location_names_the_host_it_resolves_to() -> None:
    with stand_in(lambda _: redirect_to("/elsewhere", 302)) as server:
        session = policy_session(a_config(server.url))
        with pytest.raises(RedirectRefused) as refused:
            session.get(f"{server.url}/hub/v1/campaigns")
    assert str(refused.value).count(server.url) == 2  # from that host, to that host
    assert len(server.received) == 1


@pytest.mark.parametrize("coding", ["br", "xz", "gzip, br"])
def test_an_answer_in_a_coding_not_asked_for_is_refused_naming_the_coding(coding: str) -> None:
    answer = Answer(200, {"Content-Type": "application/json", "Content-Encoding": coding}, b"\x1b\x11\x00\x00")
    with stand_in(lambda _: answer) as server:
        session = policy_session(a_config(server.url))
        with pytest.raises(requests.exceptions.ContentDecodingError) as refused:
            session.get(f"{server.url}/hub/v1/campaigns")
    assert "cannot decode" in str(refused.value) and coding.split(", ")[-1] in str(refused.value)


def test_an_answer_that_is_not_in_its_declared_coding_says_so() -> None:
    answer = Answer(200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, b'{"items": []}')
    with stand_in(lambda _: answer) as server:
        session = policy_session(a_config(server.url))
        with pytest.raises(requests.exceptions.ContentDecodingError) as refused:
            session.get(f"{server.url}/hub/v1/campaigns")
    assert (
        str(refused.value) == f"the answer from {server.url} could not be decoded as its Content-Encoding (gzip) says"
    )


@pytest.mark.parametrize(
    "answer",
    [
        Answer(200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, b'{"access_token": "x"}'),
        # Content-Length promises more than is sent before the connection closes.
        Answer(200, {"Content-Type": "application/json", "Content-Length": "500"}, trickle=[(0, b'{"access')]),
    ],
    ids=["not-gzip", "cut-short"],
)
def test_a_token_answer_that_cannot_be_read_is_tried_again_and_said_in_words(answer: Answer) -> None:
    with stand_in(lambda _: answer) as server, pytest.raises(TokenError) as failed:
        SfmcAuthenticator(a_config(server.url), for_check=True).get_access_token()
    assert len(server.received) == 2  # both of check's attempts
    assert "after 2 attempts" in failed.value.message
    assert "could not be decoded" in failed.value.message or "dropped in the middle" in failed.value.message
