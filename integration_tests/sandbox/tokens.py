"""The OAuth 2.0 client-credentials endpoint (POST /v2/token) and the store of issued tokens."""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from .soap_accounts import ALL_MIDS

TokenState = Literal["ok", "expired", "invalid"]
Response = tuple[int, dict[str, str], bytes]

# Scopes an installed package with "read" on everything the connector touches would be granted.
ALL_SCOPES: tuple[str, ...] = (
    "email_read",
    "email_write",
    "email_send",
    "documents_and_images_read",
    "saved_content_read",
    "automations_read",
    "journeys_read",
    "list_and_subscribers_read",
    "data_extensions_read",
    "tracking_events_read",
    "campaigns_read",
    "accounts_read",
    "audiences_read",
)

# MIDs of the business units the sandbox knows: the parent (owner of the installed package) and two
# children. A token request naming any other MID is refused like a client the server does not know.
DEFAULT_ACCOUNT_IDS: tuple[int, ...] = ALL_MIDS

JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
ERROR_URI = "https://developer.salesforce.com/docs"
INVALID_CLIENT = {
    "error": "invalid_client",
    "error_description": "Client authentication failed. Make sure that the client ID and client secret are valid "
    "and that the package is installed and enabled.",
    "error_uri": ERROR_URI,
}
INVALID_REQUEST = {"error": "invalid_request", "error_description": "Malformed request body.", "error_uri": ERROR_URI}
UNSUPPORTED_GRANT_TYPE = {
    "error": "unsupported_grant_type",
    "error_description": 'Use "authorization_code" or "refresh_token" or "client_credentials" or '
    '"urn:ietf:params:oauth:grant-type:jwt-bearer" as the grant type value.',
    "error_uri": ERROR_URI,
}


@dataclass
class _Token:
    issued_at: float
    scopes: frozenset[str]
    account_id: int
    revoked: bool = False
    accepted: bool = False  # a request carrying it has been served


@dataclass
class TokenStore:
    """Issued tokens, their age and scopes. Thread-safe; `clock` is injectable for tests."""

    ttl_seconds: float
    clock: Callable[[], float] = time.monotonic
    _tokens: dict[str, _Token] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, scopes: Iterable[str], account_id: int) -> str:
        token = secrets.token_urlsafe(96)
        with self._lock:
            self._tokens[token] = _Token(self.clock(), frozenset(scopes), account_id)
        return token

    @property
    def issued_count(self) -> int:
        with self._lock:
            return len(self._tokens)

    def state(self, token: str | None) -> TokenState:
        with self._lock:
            record = self._tokens.get(token or "")
            if record is None:
                return "invalid"
            if record.revoked or self.clock() - record.issued_at >= self.ttl_seconds:
                return "expired"
            record.accepted = True
            return "ok"

    def expire(self, token: str | None) -> bool:
        """Expire a live token before its time; True if it was live and has already been accepted.

        SFMC expires a token by its age (`expires_in`, 20 minutes): one just issued and never yet accepted is not
        expired, and a refusal of it stands for denied access, which clients may rightly stop retrying. So a fault
        only ever expires a token that has served at least one request."""
        with self._lock:
            record = self._tokens.get(token or "")
            if record is None or record.revoked or not record.accepted:
                return False
            if self.clock() - record.issued_at >= self.ttl_seconds:
                return False
            record.revoked = True
            return True

    def account_of(self, token: str | None) -> int | None:
        """The business unit (MID) a token acts in, live or not; None for a token never issued."""
        with self._lock:
            record = self._tokens.get(token or "")
            return None if record is None else record.account_id

    def has_scope(self, token: str | None, scope: str) -> bool:
        with self._lock:
            record = self._tokens.get(token or "")
            return record is not None and scope in record.scopes


@dataclass(frozen=True)
class TokenEndpoint:
    """Answers POST /v2/token the way SFMC's auth server does."""

    store: TokenStore
    client_id: str
    client_secret: str
    granted_scopes: tuple[str, ...] = ALL_SCOPES
    account_ids: tuple[int, ...] = DEFAULT_ACCOUNT_IDS

    def handle(self, body: bytes, content_type: str, base_url: str) -> Response:
        params = _parse_body(body, content_type)
        if params is None:
            return _json(400, INVALID_REQUEST)
        if params.get("grant_type") != "client_credentials":
            return _json(400, UNSUPPORTED_GRANT_TYPE)
        if not (
            secrets.compare_digest(str(params.get("client_id", "")), self.client_id)
            and secrets.compare_digest(str(params.get("client_secret", "")), self.client_secret)
        ):
            return _json(401, INVALID_CLIENT)
        account_id = self._account_id(params.get("account_id"))
        if account_id is None:
            return _json(401, INVALID_CLIENT)
        scopes = self._scopes(params.get("scope"))
        token = self.store.issue(scopes, account_id)
        return _json(
            200,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": int(self.store.ttl_seconds),
                "scope": " ".join(scopes),
                "soap_instance_url": f"{base_url}/",
                "rest_instance_url": f"{base_url}/",
            },
        )

    def _account_id(self, raw: object) -> int | None:
        """The MID asked for; None when it is not an integer-like MID of a known business unit."""
        if raw is None or raw == "":
            return self.account_ids[0]
        if isinstance(raw, bool):
            return None
        try:
            account_id = int(str(raw).strip())
        except ValueError:
            return None
        return account_id if account_id in self.account_ids else None

    def _scopes(self, requested: object) -> list[str]:
        """A scope request narrows the token to the granted scopes it names; it never widens it."""
        if not isinstance(requested, str) or not requested.strip():
            return list(self.granted_scopes)
        wanted = set(requested.split())
        return [scope for scope in self.granted_scopes if scope in wanted]


def _parse_body(body: bytes, content_type: str) -> dict[str, object] | None:
    text = body.decode("utf-8", errors="replace")
    if "application/x-www-form-urlencoded" in content_type.lower():
        return dict(urllib.parse.parse_qsl(text, keep_blank_values=True))
    try:
        parsed = json.loads(text) if text.strip() else {}
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _json(status: int, payload: object) -> Response:
    return status, dict(JSON_HEADERS), json.dumps(payload).encode("utf-8")
