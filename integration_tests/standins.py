"""Small hostile stand-in servers on 127.0.0.1: each answers what a test scripts and records what it receives.

They play a Marketing Cloud that misbehaves (redirects, trickles, loops), which the sandbox, a faithful SFMC,
never does. A stand-in answers a token request with instance URLs pointing back at itself, so one stand-in serves
the token, REST and SOAP paths; `answer` decides everything else.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "STANDIN-TOKEN-0123456789abcdef"
CLIENT_ID = "standin-client-id-0123"
CLIENT_SECRET = "standin-client-secret-4567"


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    # When set, the body is sent in these pieces, each after its delay in seconds (a trickle); no Content-Length.
    trickle: Iterable[tuple[float, bytes]] | None = None


Script = Callable[[Received], Answer]
STANDIN_MID = 7281234  # the business unit /v2/userinfo names


class StandIn:
    """A running stand-in. `url` is its base URL; `received` lists every request it got, in order."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.received: list[Received] = []
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with stand_in._lock:
                    stand_in.received.append(request)
                # SOAP Describe gets an answer that describes nothing (every property is then requested), and
                # /v2/userinfo names the token's business unit, so that scripts deal with the token, REST and
                # Retrieve requests only.
                if is_describe(request):
                    answer = describe_answer()
                elif is_userinfo(request):
                    answer = json_answer({"organization": {"member_id": STANDIN_MID, "enterprise_id": STANDIN_MID}})
                else:
                    answer = stand_in.script(request)
                try:
                    self._send(answer)
                except OSError:
                    self.close_connection = True

            do_POST = do_GET

            def _send(self, answer: Answer) -> None:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if answer.trickle is None:
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                    return
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                for delay, piece in answer.trickle:
                    if stand_in._stopping.wait(delay):
                        return
                    self.wfile.write(piece)
                    self.wfile.flush()

        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def config(self, **overrides: Any) -> dict[str, Any]:
        return self.config_for(self.url, **overrides)

    @staticmethod
    def config_for(subdomain: str, **overrides: Any) -> dict[str, Any]:
        return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "subdomain": subdomain, **overrides}

    def paths(self) -> list[str]:
        return [request.path for request in self.received]

    def retrieves_and_rest(self) -> list[Received]:
        """Every request but the token, userinfo and Describe requests."""
        return [
            request
            for request in self.received
            if not is_token_request(request) and not is_describe(request) and not is_userinfo(request)
        ]

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def stand_in(script: Script) -> Iterator[StandIn]:
    running = StandIn(script)
    try:
        yield running
    finally:
        running.stop()


def token_answer(base_url: str, *, access_token: str = TOKEN, scope: str = "") -> Answer:
    """What SFMC's token endpoint answers, with the instance URLs pointing at `base_url`."""
    body = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 1079,
        "scope": scope,
        "rest_instance_url": f"{base_url}/",
        "soap_instance_url": f"{base_url}/",
    }
    return json_answer(body)


def json_answer(body: Any, status: int = 200) -> Answer:
    return Answer(status, {"Content-Type": "application/json"}, json.dumps(body).encode())


def redirect_to(location: str, status: int = 307) -> Answer:
    return Answer(status, {"Location": location}, b"")


def is_token_request(request: Received) -> bool:
    return request.method == "POST" and request.path.rstrip("/").lower() == "/v2/token"


def is_userinfo(request: Received) -> bool:
    return request.method == "GET" and request.path.rstrip("/").lower() == "/v2/userinfo"


def is_describe(request: Received) -> bool:
    return request.headers.get("soapaction", "").strip('"') == "Describe"


def describe_answer() -> Answer:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        '<soap:Body><DefinitionResponseMsg xmlns="http://exacttarget.com/wsdl/partnerAPI"><RequestID>d-1</RequestID>'
        "</DefinitionResponseMsg></soap:Body></soap:Envelope>"
    )
    return Answer(200, {"Content-Type": "text/xml; charset=utf-8"}, body.encode())


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def soap_answer(results_xml: str = "", status: str = "OK", request_id: str = "") -> Answer:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        '<soap:Body><RetrieveResponseMsg xmlns="http://exacttarget.com/wsdl/partnerAPI">'
        f"<OverallStatus>{status}</OverallStatus><RequestID>{request_id}</RequestID>{results_xml}"
        "</RetrieveResponseMsg></soap:Body></soap:Envelope>"
    )
    return Answer(200, {"Content-Type": "text/xml; charset=utf-8"}, body.encode())


def soap_fault(faultstring_xml: str, code: str = "soap:Client") -> str:
    """A SOAP 1.1 Fault envelope; `faultstring_xml` is inserted as is (escape it first)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        f"<soap:Body><soap:Fault><faultcode>{code}</faultcode><faultstring>{faultstring_xml}</faultstring>"
        "</soap:Fault></soap:Body></soap:Envelope>"
    )


def elapsed(run: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = run()
    return result, time.monotonic() - started
