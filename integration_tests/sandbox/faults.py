"""Fault injection: which request fails, how, and the bodies SFMC (or its gateway) answers with.

Decisions are deterministic for a seed: each is a hash of (seed, the request's identity, how many times
that identity has been seen), so they do not depend on thread timing. A request's identity leaves out the
access token, so a retry after a token renewal is the same logical request (and the server names a SOAP
continuation by its first page's identity and position, not by its random RequestID); a logical request is
never faulted more than `MAX_CONSECUTIVE_FAULTS` times in a row, so retries always get through.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum

KINDS: tuple[str, ...] = (
    "rate_limit",
    "server_error",
    "token_expiry",
    "connection_reset",
    "slow",
    "truncated",
    "request_id_expired",
)
DEFAULT_RATE = 0.1
MAX_CONSECUTIVE_FAULTS = 2
TOKEN_RATE_FACTOR = 0.2  # token requests fail rarely, and only by rate_limit / server_error


class Channel(Enum):
    TOKEN = "token"
    REST = "rest"
    SOAP = "soap"
    SOAP_CONTINUE = "soap_continue"  # a Retrieve that continues an earlier one by RequestID


_ALL_BUT_TOKEN = frozenset({Channel.REST, Channel.SOAP, Channel.SOAP_CONTINUE})
APPLIES_TO: dict[str, frozenset[Channel]] = {
    "rate_limit": frozenset(Channel),
    "server_error": frozenset(Channel),
    "token_expiry": _ALL_BUT_TOKEN,
    "connection_reset": _ALL_BUT_TOKEN,
    "slow": _ALL_BUT_TOKEN,
    "truncated": _ALL_BUT_TOKEN,
    "request_id_expired": frozenset({Channel.SOAP_CONTINUE}),
}


def parse_fault_spec(spec: str) -> dict[str, float]:
    """`rate_limit:0.1,server_error` -> {kind: rate}; `all[:RATE]` names every kind."""
    rates: dict[str, float] = {}
    for part in (piece.strip() for piece in (spec or "").split(",")):
        if not part:
            continue
        name, _, raw_rate = part.partition(":")
        name = name.strip().lower()
        try:
            rate = float(raw_rate) if raw_rate.strip() else DEFAULT_RATE
        except ValueError:
            raise ValueError(f"fault rate must be a number: {part!r}") from None
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1: {part!r}")
        if name == "all":
            rates.update(dict.fromkeys(KINDS, rate))
        elif name in KINDS:
            rates[name] = rate
        else:
            raise ValueError(f"unknown fault kind {name!r}; known: all, {', '.join(KINDS)}")
    return rates


@dataclass(frozen=True)
class Fault:
    kind: str
    variant: int  # a deterministic number that picks among a kind's shapes


@dataclass
class FaultInjector:
    """Decides per request whether to inject a fault, and counts what was injected."""

    rates: dict[str, float]
    seed: int = 42
    injected: Counter[str] = field(default_factory=Counter)
    _seen: Counter[bytes] = field(default_factory=Counter)
    _consecutive: Counter[bytes] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        total = sum(self.rates.values())
        if total > 1.0:  # more than certain: keep the proportions
            self.rates = {kind: rate / total for kind, rate in self.rates.items()}

    @classmethod
    def from_spec(cls, spec: str, seed: int = 42) -> FaultInjector:
        return cls(parse_fault_spec(spec), seed)

    def decide(self, channel: Channel, identity: bytes) -> Fault | None:
        if not self.rates:
            return None
        key = hashlib.sha256(identity).digest()
        with self._lock:
            attempt = self._seen[key]
            self._seen[key] += 1
            if self._consecutive[key] >= MAX_CONSECUTIVE_FAULTS:
                self._consecutive[key] = 0
                return None
            fault = self._draw(channel, key, attempt)
            self._consecutive[key] = self._consecutive[key] + 1 if fault else 0
            return fault

    def _draw(self, channel: Channel, key: bytes, attempt: int) -> Fault | None:
        digest = hashlib.sha256(f"{self.seed}|{attempt}|".encode() + key).digest()
        roll = int.from_bytes(digest[:8], "big") / 2**64
        variant = int.from_bytes(digest[8:12], "big")
        factor = TOKEN_RATE_FACTOR if channel is Channel.TOKEN else 1.0
        threshold = 0.0
        for kind in KINDS:
            threshold += self.rates.get(kind, 0.0) * factor
            if roll < threshold:
                return Fault(kind, variant) if channel in APPLIES_TO[kind] else None
        return None

    def record(self, fault: Fault) -> None:
        """Count a fault that was actually served."""
        with self._lock:
            self.injected[fault.kind] += 1

    def forgive(self, identity: bytes) -> None:
        """A decided fault could not be served (e.g. no live token to expire): not a consecutive fault."""
        with self._lock:
            key = hashlib.sha256(identity).digest()
            self._consecutive[key] = max(self._consecutive[key] - 1, 0)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {kind: self.injected.get(kind, 0) for kind in KINDS}

    def reset_counts(self) -> None:
        with self._lock:
            self.injected.clear()


# --- request identity ---------------------------------------------------------------------------

_FUELOAUTH = re.compile(rb"(<(?:\w+:)?fueloauth\b[^>]*>).*?(</(?:\w+:)?fueloauth>)", re.DOTALL | re.IGNORECASE)
_CONTINUE = re.compile(rb"<(?:\w+:)?ContinueRequest\b[^>]*>\s*([^<\s]+)\s*</", re.IGNORECASE)


def request_identity(method: str, target: str, body: bytes) -> bytes:
    """What makes two requests the same logical request: never the token (header or SOAP envelope)."""
    return method.encode() + b" " + target.encode() + b"\n" + _FUELOAUTH.sub(rb"\1\2", body)


def continued_request_id(body: bytes) -> bytes | None:
    """The RequestID a SOAP Retrieve continues, or None for a first page."""
    found = _CONTINUE.search(body)
    return found.group(1) if found else None


def is_continue_request(body: bytes) -> bool:
    return continued_request_id(body) is not None


# --- response shapes ----------------------------------------------------------------------------

Response = tuple[int, dict[str, str], bytes]
_JSON = {"Content-Type": "application/json; charset=utf-8"}
_HTML = {"Content-Type": "text/html"}
_XML = {"Content-Type": "text/xml; charset=utf-8"}
RETRY_AFTER_SECONDS = 1
_REST_DOCS = "https://developer.salesforce.com/docs/atlas.en-us.mc-apis.meta/mc-apis/error-handling.htm"


def rest_rate_limit(variant: int) -> Response:
    # Both bodies carry the three keys of every REST error ("Handle Errors in REST API", error-handling.htm).
    if variant % 4 == 3:  # SFMC's other throttle answer: a block, without Retry-After
        body = {"message": "Your requests are temporarily blocked.", "errorcode": 50200, "documentation": _REST_DOCS}
        return 429, dict(_JSON), json.dumps(body).encode()
    body = {
        "message": "Rate limit exceeded",
        "errorcode": 50100,
        "documentation": _REST_DOCS,
        "retryAfter": RETRY_AFTER_SECONDS,
    }
    return 429, {**_JSON, "Retry-After": str(RETRY_AFTER_SECONDS)}, json.dumps(body).encode()


def rest_server_error(variant: int) -> Response:
    """What a failing SFMC stack answers: its own JSON 500, or the gateway's HTML 502/503."""
    choice = variant % 3
    if choice == 0:
        body = {"message": "Internal Server Error", "errorcode": 0, "documentation": _REST_DOCS}
        return 500, dict(_JSON), json.dumps(body).encode()
    status, reason = (502, "Bad Gateway") if choice == 1 else (503, "Service Unavailable")
    title = f"{status} {reason}"
    html = f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center></body></html>\r\n"
    return status, dict(_HTML), html.encode()


_SOAP_SERVER_MESSAGES = (
    "Server was unable to process request. ---> Timeout expired.  The timeout period elapsed prior to "
    "completion of the operation or the server is not responding.",
    "Server was unable to process request. ---> Object reference not set to an instance of an object.",
    "An error has occurred. Please try again later.",
)


def soap_fault(faultstring: str, detail: str = "") -> bytes:
    message_id = uuid.uuid4()
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">'
        "<soap:Header><wsa:Action>http://schemas.xmlsoap.org/ws/2004/08/addressing/fault</wsa:Action>"
        f"<wsa:MessageID>urn:uuid:{message_id}</wsa:MessageID>"
        f"<wsa:RelatesTo>urn:uuid:{uuid.uuid4()}</wsa:RelatesTo>"
        "<wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To></soap:Header>"
        f"<soap:Body><soap:Fault><faultcode>soap:Server</faultcode><faultstring>{faultstring}</faultstring>"
        f"{detail}</soap:Fault></soap:Body></soap:Envelope>"
    ).encode()


def soap_rate_limit(variant: int) -> Response:
    detail = (
        '<detail><apifault xmlns="urn:fault.partner.exacttarget.com">'
        "<Code>17</Code><Message>Rate Limited</Message></apifault></detail>"
    )
    return 500, dict(_XML), soap_fault("Rate Limited", detail)


def soap_server_error(variant: int) -> Response:
    return 500, dict(_XML), soap_fault(_SOAP_SERVER_MESSAGES[variant % len(_SOAP_SERVER_MESSAGES)])


def truncate(body: bytes, variant: int) -> bytes:
    """Cut a body to 10..90 % of its length (at least one byte shorter)."""
    if len(body) < 2:
        return b""
    keep = len(body) * (10 + variant % 81) // 100
    return body[: min(max(keep, 1), len(body) - 1)]
