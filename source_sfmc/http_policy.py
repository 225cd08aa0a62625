"""One policy for every HTTP request the connector sends: token, REST and SOAP alike.

Every request goes through `SfmcTransport`, a `requests` transport adapter mounted on each session the
connector uses (the token client's, and each stream's HTTP client's). At that level a request cannot bypass it:

- Only trusted hosts: a request to anything but `https://*.marketingcloudapis.com` (or the loopback sandbox the
  config names) is refused before a byte is sent, whatever URL a token answer or a page handed us.
- No redirects: SFMC's APIs do not redirect. A 3xx answer is refused with an error naming the host it pointed
  at; it is never followed, so neither the client secret (token request body), the access token (REST header,
  SOAP `<fueloauth>` inside the envelope) nor anything else is re-sent elsewhere. `requests` follows redirects
  in `Session.send`, after the transport returns, so raising here is what stops it.
- A deadline for the whole request: `request_timeout_seconds` bounds connect, send, the wait for the answer and
  the complete body. A server that trickles a byte at a time cannot keep a request open past it: the body is read
  one receive at a time, each allowed only the time left, and a watchdog shuts the connection's socket down at
  the deadline whatever phase the request is in (a trickled status line or headers included). An overrun is a
  `requests` Timeout, which the error policy retries like any other timeout, within the retry budget.
- A bounded body: an answer is decoded as it is read (Marketing Cloud gzips its answers to a client that accepts
  gzip, as `requests` says it does), and one whose decoded body passes `MAX_BODY_BYTES` is refused, so a small
  compressed answer cannot expand into all of the machine's memory.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError
from urllib3.exceptions import SSLError as Urllib3SSLError

from source_sfmc.config import SfmcConfig, is_trusted_url

POOL_SIZE = 20  # the CDK's own pool size for one stream's session
_CHUNK = 256 * 1024
# A SOAP page holds at most 2,500 objects and a REST page at most a few hundred items: tens of MB at the very most.
MAX_BODY_BYTES = 256 * 1024 * 1024


class RedirectRefused(requests.exceptions.RequestException):
    """A 3xx answer: never followed. Its message names both hosts and no credential."""


class UntrustedHost(requests.exceptions.RequestException):
    """A request to a host outside Marketing Cloud (or the configured loopback sandbox): never sent."""


class BodyTooLarge(requests.exceptions.RequestException):
    """An answer whose decoded body is larger than `MAX_BODY_BYTES` (e.g. a gzip bomb): never retried."""


class UnreadableBody(requests.exceptions.ContentDecodingError):
    """An answer whose body cannot be decoded as its `Content-Encoding` says (a coding we did not ask for, such as
    `br`, or a body that is not what its coding claims). Its message names the host and the coding only."""


class RequestDeadlineExceeded(requests.exceptions.ReadTimeout):
    """The whole request (connect to last byte of the body) took longer than `request_timeout_seconds`."""


class _Watch:
    """The connection one request uses, so that its watchdog can cut it at the deadline."""

    def __init__(self) -> None:
        self.connection: Any = None
        self.fired = False

    def cut(self) -> None:
        self.fired = True
        sock = getattr(self.connection, "sock", None)
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


_current = threading.local()


class _WatchedPoolMixin:
    """A urllib3 pool that tells the request in flight on this thread which connection it got."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        connection = super()._get_conn(timeout)  # type: ignore[misc]
        watch = getattr(_current, "watch", None)
        if watch is not None:
            watch.connection = connection
        return connection


class _WatchedHTTPPool(_WatchedPoolMixin, HTTPConnectionPool):
    pass


class _WatchedHTTPSPool(_WatchedPoolMixin, HTTPSConnectionPool):
    pass


class SfmcTransport(HTTPAdapter):
    """The transport every connector request goes through; see the module docstring for what it enforces."""

    def __init__(self, *, timeout_seconds: float, allow_loopback: bool) -> None:
        super().__init__(pool_connections=POOL_SIZE, pool_maxsize=POOL_SIZE)
        self.timeout_seconds = float(timeout_seconds)
        self.allow_loopback = allow_loopback

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        url = request.url or ""
        if not is_trusted_url(url, allow_loopback=self.allow_loopback):
            raise UntrustedHost(
                f"Refused to send a request to {_host(url)}: it is not a Marketing Cloud host "
                "(https://*.marketingcloudapis.com).",
                request=request,
            )
        deadline = time.monotonic() + self.timeout_seconds
        watch = _Watch()
        watchdog = threading.Timer(self.timeout_seconds, watch.cut)
        watchdog.daemon = True
        _current.watch = watch
        watchdog.start()
        try:
            response = self._send_by(request, deadline, stream, verify, cert, proxies)
        except requests.exceptions.RequestException as error:
            if watch.fired and not isinstance(error, RequestDeadlineExceeded):
                raise self._overrun(request) from error
            raise
        finally:
            watchdog.cancel()
            _current.watch = None
        if watch.fired:  # cut at the deadline just as the answer ended: what arrived may be a truncated body
            response.close()
            raise self._overrun(request)
        return response

    def _send_by(
        self, request: requests.PreparedRequest, deadline: float, stream: bool, verify: Any, cert: Any, proxies: Any
    ) -> requests.Response:
        url = request.url or ""
        # Whatever a caller asked for, no phase may wait longer than the whole request is allowed.
        response = super().send(
            request,
            stream=True,
            timeout=(self.timeout_seconds, self.timeout_seconds),
            verify=verify,
            cert=cert,
            proxies=proxies,
        )
        if 300 <= response.status_code < 400:
            location = response.headers.get("Location") or ""
            response.close()
            raise RedirectRefused(
                f"{_host(url)} answered HTTP {response.status_code} redirecting to "
                f"{_host(urljoin(url, location)) if location else 'no location'}; Marketing Cloud's APIs do not "
                "redirect, so the redirect was not followed and nothing was sent there.",
                request=request,
                response=None,
            )
        if not stream:
            _refuse_unknown_coding(response)
            _read_body_by(response, deadline, self.timeout_seconds)
        return response

    def _overrun(self, request: requests.PreparedRequest) -> RequestDeadlineExceeded:
        return RequestDeadlineExceeded(
            f"the answer from {_host(request.url or '')} was not complete within {self.timeout_seconds:g} s "
            "(request_timeout_seconds)",
            request=request,
        )


def policy_session(config: SfmcConfig) -> requests.Session:
    """A `requests` session for the token client whose every request follows the policy."""
    session = requests.Session()
    apply_policy(session, config)
    return session


def apply_policy(session: requests.Session, config: SfmcConfig) -> None:
    """Mount the policy's transport for every scheme of `session` and stop it following redirects."""
    transport = SfmcTransport(timeout_seconds=config.request_timeout_seconds, allow_loopback=config.is_loopback)
    session.mount("https://", transport)
    session.mount("http://", transport)
    session.max_redirects = 0  # belt and braces: the transport already refuses every 3xx


# The codings urllib3 decodes here (brotli and zstd only with packages this connector does not install); requests
# asks for `gzip, deflate`, and Marketing Cloud gzips.
_DECODED_CODINGS = frozenset({"", "identity", "gzip", "x-gzip", "deflate"})


def _refuse_unknown_coding(response: requests.Response) -> None:
    """An answer in a coding urllib3 would hand over undecoded (`br`, `xz`): refused, naming the coding, rather
    than parsed as if it were plain text and reported as malformed JSON or XML, or as an HTTP 200 that failed."""
    codings = [coding.strip().lower() for coding in (response.headers.get("Content-Encoding") or "").split(",")]
    unknown = [coding for coding in codings if coding not in _DECODED_CODINGS]
    if unknown:
        response.close()
        raise UnreadableBody(
            f"the answer from {_host(response.url)} is compressed as {', '.join(unknown)!r} (Content-Encoding), "
            "which the connector did not ask for and cannot decode",
            request=response.request,
        )


def _read_body_by(response: requests.Response, deadline: float, timeout_seconds: float) -> None:
    """Read the whole body into `response` before `deadline`, one socket receive at a time."""
    raw = response.raw
    sock = _socket_of(raw)
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RequestDeadlineExceeded(
                    f"the answer from {_host(response.url)} was not complete within {timeout_seconds:g} s "
                    "(request_timeout_seconds)",
                    request=response.request,
                )
            if sock is not None:
                sock.settimeout(remaining)
            # Decoded here (requests asks urllib3 for the raw bytes and decodes only in iter_content, which this
            # read replaces); urllib3 decodes at most _CHUNK bytes per call, so the cap below bounds memory.
            chunk = raw.read1(_CHUNK, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise BodyTooLarge(
                    f"the answer from {_host(response.url)} is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB "
                    "once decoded; it was not read further",
                    request=response.request,
                )
            chunks.append(chunk)
    except (TimeoutError, ReadTimeoutError) as error:
        response.close()
        raise RequestDeadlineExceeded(
            f"the answer from {_host(response.url)} was not complete within {timeout_seconds:g} s "
            "(request_timeout_seconds)",
            request=response.request,
        ) from error
    except (RequestDeadlineExceeded, BodyTooLarge):
        response.close()
        raise
    except ProtocolError as error:
        response.close()
        raise requests.exceptions.ChunkedEncodingError(error, request=response.request) from error
    except DecodeError as error:
        response.close()
        coding = response.headers.get("Content-Encoding")
        raise UnreadableBody(
            f"the answer from {_host(response.url)} could not be decoded as its Content-Encoding ({coding}) says",
            request=response.request,
        ) from error
    except Urllib3SSLError as error:
        response.close()
        raise requests.exceptions.SSLError(error, request=response.request) from error
    response._content = b"".join(chunks)
    response._content_consumed = True
    if sock is not None:
        sock.settimeout(timeout_seconds)  # the connection goes back to the pool with its usual timeout
    raw.release_conn()  # the body is read to its end: the connection can be reused


def _socket_of(raw: Any) -> socket.socket | None:
    connection = getattr(raw, "connection", None) or getattr(raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _host(url: str) -> str:
    """The scheme and host of a URL, for messages: never its path, query or credentials."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "an unreadable address"
    return f"{parts.scheme or '?'}://{host}{port}" if parts.scheme else host
