"""The sandbox's HTTP server: routes token, REST and SOAP requests, injects faults, counts requests."""

from __future__ import annotations

import contextlib
import functools
import gzip
import ipaddress
import json
import re
import socket
import struct
import sys
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import faults, rest
from .faults import Channel, Fault, FaultInjector
from .rest_data import FIXED_EPOCH, RestData, build_rest_data
from .soap_accounts import CHILD_MIDS, MAIN_MID
from .tokens import ALL_SCOPES, DEFAULT_ACCOUNT_IDS, TokenEndpoint, TokenStore

Response = tuple[int, dict[str, str], bytes]

DEFAULT_CLIENT_ID = "sandbox-client-id"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"  # a fixed, public test credential
DEFAULT_START_DATE = "2025-01-01T00:00:00Z"  # activity_start(FIXED_EPOCH)
ACTIVITY_DAYS = 181  # activity (sends, tracking events) lies in this many days before the epoch


def activity_start(epoch: date) -> date:
    return epoch - timedelta(days=ACTIVITY_DAYS)


def utc_midnight_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000


def server_today() -> date:
    """Today on SFMC's clock (UTC-6): as an epoch, every generated date lies before now."""
    return (datetime.now(UTC) - timedelta(hours=6)).date()


_TOKEN_PATH = re.compile(r"^/v2/token/?$", re.IGNORECASE)
_USERINFO_PATH = re.compile(r"^/v2/userinfo/?$", re.IGNORECASE)
# Child business units' REST data: a smaller account of its own (another seed), so the same ids occur in several
# units with different content, as they do in SFMC, where ids are unique within a unit only.
CHILD_REST_SCALE = 0.2
_SOAP_PATH = re.compile(r"^/service\.asmx/?$", re.IGNORECASE)
_OBJECT_TYPE = re.compile(rb"<(?:\w+:)?ObjectType\b[^>]*>\s*([^<\s]+)\s*</", re.IGNORECASE)
_REQUEST_ID = re.compile(rb"<(?:\w+:)?RequestID\b[^>]*>\s*([^<\s]+)\s*</", re.IGNORECASE)
_FUELOAUTH_TOKEN = re.compile(rb"<(?:\w+:)?fueloauth\b[^>]*>\s*([^<\s]+)\s*</", re.IGNORECASE)


@dataclass(frozen=True)
class SandboxOptions:
    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 42
    scale: float = 1.0
    latency_ms: float = 0
    faults: str = ""
    token_ttl: float = 1079
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    scopes: tuple[str, ...] = ALL_SCOPES  # what the installed package grants
    slow_seconds: float = 65.0  # how long a `slow` fault stalls
    account_ids: tuple[int, ...] = DEFAULT_ACCOUNT_IDS
    # A Retrieve matching more records than this times out (SFMC's "Timeout expired" fault); None: never.
    timeout_above: int | None = None
    # "Type.Property" members this account cannot retrieve (Describe says so; a Retrieve naming one fails)
    unretrievable: tuple[str, ...] = ()
    # Activity lies in the six months before this day (UTC midnight); FIXED_EPOCH is the data tests are written for
    epoch: date = FIXED_EPOCH
    # Answer gzip-compressed (`Content-Encoding: gzip`) when the request accepts gzip, as HTTP servers in front of
    # Marketing Cloud's APIs do; off by default: SFMC's documentation does not say which answers are compressed.
    gzip: bool = False


@dataclass(frozen=True)
class Continuation:
    object_type: str
    identity: bytes  # the fault-decision identity of the page it asks for


class HeaderMap(Mapping[str, str]):
    """Request headers with case-insensitive names (the SOAP side looks up SOAPAction and friends)."""

    def __init__(self, pairs: Mapping[str, str] | Any) -> None:
        self._items = {name.lower(): (name, value) for name, value in pairs.items()}

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class Stats:
    token: int = 0
    tokens_issued: int = 0
    tokens_by_mid: Counter[int] = field(default_factory=Counter)
    rest: Counter[str] = field(default_factory=Counter)
    soap: Counter[str] = field(default_factory=Counter)
    compressed: int = 0  # answers sent gzip-compressed
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, channel: str, name: str = "") -> None:
        with self.lock:
            if channel == "token":
                self.token += 1
            elif channel == "issued":
                self.tokens_issued += 1
            elif channel == "compressed":
                self.compressed += 1
            else:
                getattr(self, channel)[name] += 1

    def snapshot(self, faults_injected: dict[str, int]) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": {"token": self.token, "rest": dict(self.rest), "soap": dict(self.soap)},
                "tokens_issued": self.tokens_issued,
                "tokens_by_mid": {str(mid): n for mid, n in self.tokens_by_mid.items()},
                "faults_injected": faults_injected,
                "answers_compressed": self.compressed,
            }

    def reset(self) -> None:
        with self.lock:
            self.token = self.tokens_issued = self.compressed = 0
            self.tokens_by_mid.clear()
            self.rest.clear()
            self.soap.clear()


class Sandbox:
    """A running fake SFMC on 127.0.0.1. Start with `start_sandbox`; stop with `.stop()` or `with`."""

    def __init__(self, options: SandboxOptions) -> None:
        _require_loopback(options.host)
        self.options = options
        self.rest_data: RestData = _rest_data(options.seed, options.scale, options.epoch)
        # REST answers with the data of the token's business unit (PROTOCOL.md section 7).
        self.rest_data_by_mid: dict[int, RestData] = {MAIN_MID: self.rest_data}
        for n, mid in enumerate(CHILD_MIDS, start=1):
            self.rest_data_by_mid[mid] = _rest_data(
                options.seed + 1000 * n, options.scale * CHILD_REST_SCALE, options.epoch
            )
        self.tokens = TokenStore(options.token_ttl)
        self.token_endpoint = TokenEndpoint(
            self.tokens, options.client_id, options.client_secret, tuple(options.scopes), options.account_ids
        )
        self.injector = FaultInjector.from_spec(options.faults, options.seed)
        self.soap_service, self.soap_unavailable = _load_soap_service(
            options.seed, options.scale, options.unretrievable, options.epoch
        )
        if self.soap_service is not None and options.timeout_above is not None:
            self.soap_service.timeout_above = options.timeout_above
        self.counters = Stats()
        self.stopping = threading.Event()
        self._continuations: dict[bytes, Continuation] = {}
        self._continuations_lock = threading.Lock()
        self._server = _Server((options.host, options.port), _Handler)
        self._server.sandbox = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="sfmc-sandbox", daemon=True
        )

    # --- lifecycle ---

    def start(self) -> Sandbox:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join(timeout=5)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- what tests and the benchmark use ---

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.options.host}:{self.port}"

    @property
    def client_id(self) -> str:
        return self.options.client_id

    @property
    def client_secret(self) -> str:
        return self.options.client_secret

    @property
    def activity_start(self) -> str:
        """The first day of the sandbox's activity (six months before its epoch), as a config start_date."""
        return f"{activity_start(self.options.epoch).isoformat()}T00:00:00Z"

    def config(self, **overrides: Any) -> dict[str, Any]:
        """A connector config pointing at this sandbox."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "subdomain": self.base_url,
            "start_date": self.activity_start,
            **overrides,
        }

    def stats(self) -> dict[str, Any]:
        return self.counters.snapshot(self.injector.counts())

    def reset_stats(self) -> None:
        self.counters.reset()
        self.injector.reset_counts()

    # --- SOAP bookkeeping ---

    def continuation(self, body: bytes) -> Continuation | None:
        """What an earlier answer said about the RequestID this SOAP request continues, if anything."""
        request_id = faults.continued_request_id(body)
        if request_id is None:
            return None
        with self._continuations_lock:
            return self._continuations.get(request_id)

    def soap_object_type(self, body: bytes, continued: Continuation | None) -> str:
        if b"DefinitionRequestMsg" in body:
            return "Describe"  # counted apart from the retrieves of the types it describes
        reported = getattr(self.soap_service, "object_type_of", None)  # the SOAP side knows continuations
        if reported is not None and (name := reported(body)):
            return _object_type_name(name)
        found = _OBJECT_TYPE.search(body)
        if found:
            return _object_type_name(found.group(1).decode("utf-8", errors="replace"))
        if continued is not None:
            return continued.object_type
        return "ContinueRequest" if faults.is_continue_request(body) else "soap"

    def remember_continuation(self, response_body: bytes, object_type: str, identity: bytes) -> None:
        """Name the next page after this one, so its identity does not depend on a random RequestID."""
        found = _REQUEST_ID.search(response_body)
        if found is None:
            return
        with self._continuations_lock:
            if len(self._continuations) > 100_000:
                self._continuations.clear()
            self._continuations[found.group(1)] = Continuation(object_type, identity + b"|next page")


def start_sandbox(
    port: int = 0,
    seed: int = 42,
    scale: float = 1.0,
    latency_ms: float = 0,
    faults: str = "",
    token_ttl: float = 1079,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    *,
    host: str = "127.0.0.1",
    scopes: tuple[str, ...] | list[str] | None = None,
    slow_seconds: float = 65.0,
    account_ids: tuple[int, ...] = DEFAULT_ACCOUNT_IDS,
    timeout_above: int | None = None,
    unretrievable: tuple[str, ...] = (),
    epoch: date = FIXED_EPOCH,
    gzip: bool = False,
) -> Sandbox:
    """Start a sandbox serving in a background thread; `port=0` picks a free port."""
    options = SandboxOptions(
        host=host,
        port=port,
        seed=seed,
        scale=scale,
        latency_ms=latency_ms,
        faults=faults,
        token_ttl=token_ttl,
        client_id=client_id,
        client_secret=client_secret,
        scopes=ALL_SCOPES if scopes is None else tuple(scopes),
        slow_seconds=slow_seconds,
        account_ids=account_ids,
        timeout_above=timeout_above,
        unretrievable=unretrievable,
        epoch=epoch,
        gzip=gzip,
    )
    return Sandbox(options).start()


@functools.lru_cache(maxsize=12)
def _rest_data(seed: int, scale: float, epoch: date = FIXED_EPOCH) -> RestData:
    """Sandboxes started with one seed and scale share their (read-only) data."""
    return build_rest_data(seed, scale, epoch)


def _require_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the sandbox binds loopback addresses only, not {host!r}")


def _object_type_name(name: str) -> str:
    return "DataExtensionObject" if name.startswith("DataExtensionObject[") else name


def _load_soap_service(
    seed: int, scale: float, unretrievable: tuple[str, ...] = (), epoch: date = FIXED_EPOCH
) -> tuple[Any | None, str]:
    """The SOAP side, if its modules are present; otherwise None and why."""
    try:
        from . import soap, soap_data  # type: ignore[attr-defined]
    except ImportError as error:
        return None, f"SOAP API unavailable in this sandbox: {error}"
    by_type: dict[str, list[str]] = {}
    for member in unretrievable:
        object_type, _, name = member.partition(".")
        by_type.setdefault(object_type, []).append(name)
    data = soap_data.build_soap_data(seed=seed, scale=scale, epoch_ms=utc_midnight_ms(epoch))
    return soap.SoapService(data, unretrievable=by_type), ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    sandbox: Sandbox

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake handler threads idling on keep-alive connections so they end with the server."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not self.sandbox.stopping.is_set():
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "sfmc-sandbox"
    timeout = 300  # an idle keep-alive connection is dropped after this long
    server: _Server

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging."""

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    # --- dispatch ---

    @property
    def sandbox(self) -> Sandbox:
        return self.server.sandbox

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
            target = urlsplit(self.path)
            path = target.path
            if path.startswith("/_sandbox/"):
                self._send(self._control(path))
                return
            if self.sandbox.options.latency_ms > 0 and self.sandbox.stopping.wait(
                self.sandbox.options.latency_ms / 1000
            ):
                self._reset()
                return
            if self.command == "POST" and _TOKEN_PATH.match(path):
                self._serve_token(body)
            elif self.command == "GET" and _USERINFO_PATH.match(path):
                self._serve_userinfo()
            elif self.command == "POST" and _SOAP_PATH.match(path):
                self._serve_soap(body)
            else:
                self._serve_rest(path, target.query, body)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self._send(rest.error_response(500, "Sandbox internal error", 0))

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _control(self, path: str) -> Response:
        if self.command == "GET" and path.rstrip("/") == "/_sandbox/stats":
            return rest.json_response(200, self.sandbox.stats())
        if self.command == "POST" and path.rstrip("/") == "/_sandbox/reset-stats":
            self.sandbox.reset_stats()
            return rest.json_response(200, self.sandbox.stats())
        return rest.not_found()

    def _decide(self, channel: Channel, body: bytes, identity: bytes | None = None) -> tuple[Fault | None, bytes]:
        identity = identity or faults.request_identity(self.command, self.path, body)
        return self.sandbox.injector.decide(channel, identity), identity

    def _serve_token(self, body: bytes) -> None:
        sandbox = self.sandbox
        sandbox.counters.count("token")
        fault, _ = self._decide(Channel.TOKEN, body)
        if fault is not None:  # only rate_limit and server_error apply to token requests
            sandbox.injector.record(fault)
            if fault.kind == "rate_limit":
                self._send(faults.rest_rate_limit(fault.variant & ~3))  # the Retry-After shape
            else:
                self._send(faults.rest_server_error(fault.variant))
            return
        response = sandbox.token_endpoint.handle(body, self.headers.get("Content-Type", ""), sandbox.base_url)
        if response[0] == 200:
            sandbox.counters.count("issued")
            issued = json.loads(response[2]).get("access_token")
            with sandbox.counters.lock:
                sandbox.counters.tokens_by_mid[sandbox.tokens.account_of(issued) or 0] += 1
        self._send(response)

    def _serve_userinfo(self) -> None:
        """GET /v2/userinfo: who the token acts for; `organization.member_id` is its business unit's MID."""
        sandbox = self.sandbox
        sandbox.counters.count("rest", "/v2/userinfo")
        token = _bearer(self.headers.get("Authorization"))
        if not token or sandbox.tokens.state(token) != "ok":
            self._send(rest.not_authorized())
            return
        mid = sandbox.tokens.account_of(token)
        organization = {
            "member_id": mid,
            "enterprise_id": MAIN_MID,
            "enterprise_name": "Sandbox Enterprise",
            "account_type": "enterprise_2" if mid == MAIN_MID else "business_unit",
            "stack_key": "S7",
        }
        self._send(rest.json_response(200, {"organization": organization, "user": {"sub": "sandbox-user"}}))

    def _serve_rest(self, path: str, raw_query: str, body: bytes) -> None:
        sandbox = self.sandbox
        matched = rest.match_route(self.command, path)
        sandbox.counters.count("rest", matched[0].template if matched else "unmatched")
        token = _bearer(self.headers.get("Authorization"))
        fault, identity = self._decide(Channel.REST, body)
        if fault is not None and fault.kind in ("rate_limit", "server_error"):
            sandbox.injector.record(fault)
            shape = faults.rest_rate_limit if fault.kind == "rate_limit" else faults.rest_server_error
            self._send(shape(fault.variant))
            return
        if fault is not None and fault.kind == "token_expiry" and not sandbox.tokens.expire(token):
            sandbox.injector.forgive(identity)
            fault = None
        if not self._stall_if_slow(fault):
            return
        pairs = parse_qsl(raw_query, keep_blank_values=True)
        answer = functools.partial(self._rest_response, matched, path, pairs, token, body)
        self._serve_faulted(fault, identity, answer)

    def _rest_response(
        self,
        matched: tuple[rest.Route, dict[str, str]] | None,
        path: str,
        pairs: list[tuple[str, str]],
        token: str | None,
        body: bytes,
    ) -> Response:
        if matched is None:
            return rest.not_found()
        route, params = matched
        sandbox = self.sandbox
        denied = rest.authorize(route, token, sandbox.tokens.state, sandbox.tokens.has_scope)
        if denied is not None:
            return denied
        if route.handler is None:  # data extension rows: the SOAP side owns that data
            if sandbox.soap_service is None:
                return rest.error_response(503, sandbox.soap_unavailable, 0)
            return sandbox.soap_service.handle_rowset(
                params["key"],
                dict(pairs),
                token=token,
                token_state=sandbox.tokens.state,
                has_scope=sandbox.tokens.has_scope,
                token_mid=sandbox.tokens.account_of(token),
            )
        request = rest.RestRequest(self.command, path, {name.lower(): value for name, value in pairs}, body)
        data = sandbox.rest_data_by_mid.get(sandbox.tokens.account_of(token) or MAIN_MID, sandbox.rest_data)
        return rest.handle(data, route, request, params)

    def _serve_soap(self, body: bytes) -> None:
        sandbox = self.sandbox
        continued = sandbox.continuation(body)
        object_type = sandbox.soap_object_type(body, continued)
        sandbox.counters.count("soap", object_type)
        channel = Channel.SOAP_CONTINUE if faults.is_continue_request(body) else Channel.SOAP
        fault, identity = self._decide(channel, body, continued.identity if continued else None)
        if fault is not None and fault.kind in ("rate_limit", "server_error"):
            sandbox.injector.record(fault)
            shape = faults.soap_rate_limit if fault.kind == "rate_limit" else faults.soap_server_error
            self._send(shape(fault.variant))
            return
        if fault is not None and fault.kind == "token_expiry":
            token = _FUELOAUTH_TOKEN.search(body)
            if not sandbox.tokens.expire(token.group(1).decode("ascii", "replace") if token else None):
                sandbox.injector.forgive(identity)
                fault = None
        if not self._stall_if_slow(fault):
            return
        expire_ids = fault is not None and fault.kind == "request_id_expired"
        answer = functools.partial(self._soap_response, body, object_type, identity, expire_ids)
        self._serve_faulted(fault, identity, answer)

    def _soap_response(self, body: bytes, object_type: str, identity: bytes, expire_request_ids: bool) -> Response:
        sandbox = self.sandbox
        if sandbox.soap_service is None:
            return 503, {"Content-Type": "text/plain; charset=utf-8"}, sandbox.soap_unavailable.encode()
        status, headers, response_body = sandbox.soap_service.handle(
            body,
            HeaderMap(self.headers),
            token_state=sandbox.tokens.state,
            has_scope=sandbox.tokens.has_scope,
            expire_request_ids=expire_request_ids,
            token_mid=sandbox.tokens.account_of,
        )
        sandbox.remember_continuation(response_body, object_type, identity)
        return status, dict(headers), response_body

    # --- faults that shape the answer itself ---

    def _stall_if_slow(self, fault: Fault | None) -> bool:
        """Stall for a `slow` fault; False when the server began stopping meanwhile (connection dropped)."""
        if fault is None or fault.kind != "slow":
            return True
        self.sandbox.injector.record(fault)
        if self.sandbox.stopping.wait(self.sandbox.options.slow_seconds):
            self._reset()
            return False
        return True

    def _serve_faulted(self, fault: Fault | None, identity: bytes, answer: Callable[[], Response]) -> None:
        injector = self.sandbox.injector
        if fault is not None and fault.kind == "connection_reset" and fault.variant % 2 == 0:
            injector.record(fault)
            self._reset()  # dropped before any byte of the answer
            return
        status, headers, body = answer()
        if fault is None or fault.kind == "slow":
            self._send((status, headers, body))
        elif fault.kind == "connection_reset":
            injector.record(fault)
            self._send((status, headers, body), cut_to=faults.truncate(body, fault.variant))
        elif fault.kind == "truncated" and status == 200:
            injector.record(fault)
            self._send((status, headers, faults.truncate(body, fault.variant)))
        elif fault.kind in ("token_expiry", "request_id_expired"):
            injector.record(fault)
            self._send((status, headers, body))
        else:  # a truncation of an error answer would not be what SFMC does: serve it whole
            injector.forgive(identity)
            self._send((status, headers, body))

    # --- writing ---

    def _send(self, response: Response, cut_to: bytes | None = None) -> None:
        """Write a response; with `cut_to`, announce the whole body, send that prefix and reset."""
        status, headers, body = response
        if body and self.sandbox.options.gzip and accepts_gzip(self.headers.get("Accept-Encoding")):
            whole = len(body)
            body = gzip.compress(body, compresslevel=1)
            if cut_to is not None:  # the same share of the compressed answer
                cut_to = body[: len(cut_to) * len(body) // whole]
            headers = {**headers, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
            self.sandbox.counters.count("compressed")
        try:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body if cut_to is None else cut_to)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
            return
        if cut_to is not None:
            self._reset()

    def _reset(self) -> None:
        """Drop the connection with a TCP reset."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


def accepts_gzip(header: str | None) -> bool:
    """Whether an `Accept-Encoding` header (RFC 9110 section 12.5.3) accepts gzip: named, or `*`, without q=0."""
    accepted: dict[str, bool] = {}
    for item in (header or "").split(","):
        coding, *parameters = (part.strip().lower() for part in item.split(";"))
        refused = any(parameter.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for parameter in parameters)
        if coding:
            accepted[coding] = not refused
    return accepted.get("gzip", accepted.get("x-gzip", accepted.get("*", False)))


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None
