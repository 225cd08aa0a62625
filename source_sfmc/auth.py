"""One OAuth 2.0 client-credentials token for the whole sync, shared by every REST and SOAP stream.

The CDK's `AbstractOauth2Authenticator` gives us thread-safe expiry checks, the forced refresh the HTTP client
performs on a 401 / `Token Expired` (REFRESH_TOKEN_THEN_RETRY, at most once per request) and secret masking.
We override the token request itself because SFMC wants a JSON body (the CDK sends a form), answers with the
tenant's instance URLs that every stream needs, and needs its own error wording (`invalid_client` is a config
problem, not a "refresh token" one).
"""

from __future__ import annotations

import copy
import logging
import re
import threading
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.requests_native_auth.abstract_oauth import AbstractOauth2Authenticator
from airbyte_cdk.utils.datetime_helpers import AirbyteDateTime, ab_datetime_now
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_sfmc.config import SfmcConfig, is_trusted_url
from source_sfmc.errors import MAX_RETRY_SECONDS, is_token_rejection, mark_access_denied, retry_after_seconds
from source_sfmc.http_policy import (
    BodyTooLarge,
    RedirectRefused,
    RequestDeadlineExceeded,
    UnreadableBody,
    UntrustedHost,
    policy_session,
)
from source_sfmc.masking import mask, register_secret
from source_sfmc.soap.envelope import with_token

logger = logging.getLogger("airbyte")

# How long before SFMC expires a token it is renewed. SFMC's "API Limits and Guidelines" (help.salesforce.com,
# mc_overview_limits_api.htm) allows one token request every 20 minutes per client machine (a soft limit) and says
# to use expires_in and "request a new token only when the existing token expires"; tokens live 1079 s, so every
# second of margin is a token request sooner. SFMC checks a token when a request arrives, not when it answers: a
# request may take minutes to be answered with a token that expired meanwhile. The margin covers only the time
# from attaching the token to the request reaching SFMC (connect, TLS, sending a body of a few KB: about a second;
# 30 s leaves room for a slow connect), because a token's life is counted from when it was asked for
# (`refresh_access_token`), before SFMC could have started it. A request that still arrives late is refused as
# expired, and the token is renewed and the request retried (`update_from_response`): the margin saves that retry,
# nothing depends on it. One token request per unit every 1049 s (about 17.5 min) instead of 779 s (13 min).
RENEW_MARGIN = timedelta(seconds=30)
TOKEN_REQUEST_ATTEMPTS = 5
CHECK_TOKEN_REQUEST_ATTEMPTS = 2
# Refused tokens renewed, with no request answered since, after which a refusal is denied access, not expiry. A
# token just issued is not refused in SFMC, so one renewal would do; the second rides out a renewed token expiring
# while the answers that prove it worked are still on their way (the sandbox's early-expiry fault does this).
DENIED_AFTER_RENEWALS = 2
# `check` answers within seconds: it waits at most this long for the token endpoint between its attempts.
CHECK_RETRY_SECONDS = 30
_FUELOAUTH = re.compile(rb"<fueloauth\b")
# A bearer token as RFC 6750 section 2.1 defines it (b64token: letters, digits, "-._~+/", then "=" padding). None of
# these characters changes under JSON, XML, repr() or ascii() escaping, nor under any nesting of them (a server that
# quotes our SOAP envelope in its XML fault escapes it twice), so masking the literal text masks every rendering.
_BEARER_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")
_MAX_TOKEN_LENGTH = 8192


class TokenError(AirbyteTracedException):
    pass


class SfmcAuthenticator(AbstractOauth2Authenticator):
    """Bearer header for REST; for SOAP requests also the `fueloauth` token inside the envelope.

    The HTTP client re-applies the authenticator to a request before each retry, so a SOAP request retried
    after a renewal carries the new token in its body, not the one it was first built with.
    """

    def __init__(
        self,
        config: SfmcConfig,
        session: requests.Session | None = None,
        *,
        for_check: bool = False,
        account_id: int | object | None = ...,
    ) -> None:
        super().__init__()
        self._config = config
        # The business unit (MID) this token acts in: `account_id` from the config unless a unit is named.
        self._account_id: int | None = config.account_id if account_id is ... else account_id  # type: ignore[assignment]
        self._session = session or policy_session(config)
        register_secret(config.client_secret)
        # `read` rides out a host that is briefly unreachable; `check` answers within seconds: it says at once that
        # nothing answers there, and tries a failing server only twice.
        self._retry_connection_errors = not for_check
        self._attempts = CHECK_TOKEN_REQUEST_ATTEMPTS if for_check else TOKEN_REQUEST_ATTEMPTS
        self._access_token: str | None = None
        self._expiry: AirbyteDateTime = ab_datetime_now() - timedelta(days=1)
        self._rest_base_url: str | None = None
        self._soap_base_url: str | None = None
        self._scopes: frozenset[str] = frozenset()
        self._asked_at: AirbyteDateTime = ab_datetime_now()  # when the last token request was sent
        self._lock = threading.Lock()
        self.tokens_fetched = 0
        self._failure: TokenError | None = None
        # Tokens dropped because Marketing Cloud refused them since it last answered a request of this unit: for
        # telling an expired token from denied access (`update_from_response`).
        self._renewals_unanswered = 0

    # -- what streams use ---------------------------------------------------------------------------------
    @property
    def rest_base_url(self) -> str:
        self.get_access_token()
        assert self._rest_base_url is not None
        return self._rest_base_url

    @property
    def soap_endpoint(self) -> str:
        self.get_access_token()
        assert self._soap_base_url is not None
        return f"{self._soap_base_url}Service.asmx"

    @property
    def granted_scopes(self) -> frozenset[str]:
        self.get_access_token()
        return self._scopes

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self.get_access_token()
        request.headers["Authorization"] = f"Bearer {token}"
        body = request.body
        if isinstance(body, bytes) and _FUELOAUTH.search(body, 0, 512):
            request.body = with_token(body, token)
            request.headers["Content-Length"] = str(len(request.body))
        return request

    def update_from_response(self, request: requests.PreparedRequest, response: requests.Response) -> None:
        """Drop a token Marketing Cloud refused, so the retry of this request and every later one gets a new one;
        but when new tokens keep being refused, mark the refusal as denied access instead.

        The HTTP client shows us every response (the CDK's `ResponseAwareAuthenticator`), before the error handler
        reads it. Only the token the request carried is dropped: when another thread has already renewed it, nothing
        more is fetched. A token expires; tokens just issued are not refused one after the other. So once
        `DENIED_AFTER_RENEWALS` tokens fetched to replace refused ones have been refused too, with no request of
        this business unit answered in between, the refusal is denied access (`mark_access_denied`: the error
        handler fails the stream with a config_error instead of retrying), and the token is kept: fetching more
        would be refused the same, a token request per retry of every request of every stream.
        """
        if not is_token_rejection(response):
            if 200 <= response.status_code < 300 and self._renewals_unanswered:
                with self._lock:
                    self._renewals_unanswered = 0
            return
        sent = str(request.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        with self._lock:
            if not sent or sent != self._access_token or self._expiry <= ab_datetime_now():
                return  # a token already renewed, or already dropped by another refusal: counted once
            if self._renewals_unanswered >= DENIED_AFTER_RENEWALS:
                mark_access_denied(response)
                return
            self._renewals_unanswered += 1
            self._expiry = ab_datetime_now() - timedelta(seconds=1)

    # -- AbstractOauth2Authenticator ----------------------------------------------------------------------
    def refresh_access_token(self) -> tuple[str, AirbyteDateTime]:
        answer = self._request_token()
        asked_at = self._asked_at  # when the request that got this answer was sent
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise TokenError(
                message="The token answer from Marketing Cloud had no access_token.",
                failure_type=FailureType.system_error,
            )
        if len(token) > _MAX_TOKEN_LENGTH or not _BEARER_TOKEN.fullmatch(token):
            # Never quoted, not even escaped or cut: the CDK masks a secret's literal text only, so any other
            # rendering of it (a repr with \x01, a header error) would print it in the clear.
            raise TokenError(
                message="Refusing the token answer from Marketing Cloud: its access_token is not plain printable "
                "text of the characters a bearer token is made of (RFC 6750); it is not shown here.",
                failure_type=FailureType.system_error,
            )
        lifetime = timedelta(seconds=_int(answer.get("expires_in"), 1079))
        # Masked in every form until it has expired and the answer to the last request that carried it has come
        # (the request timeout later); its literal text stays masked for good.
        register_secret(
            token, retire_at=time.monotonic() + lifetime.total_seconds() + self._config.request_timeout_seconds
        )
        self._rest_base_url = self._instance_url(answer, "rest_instance_url")
        self._soap_base_url = self._instance_url(answer, "soap_instance_url")
        self._scopes = frozenset(str(answer.get("scope") or "").split())
        # A short-lived token (tests, or an unusual tenant) is renewed after half its life instead.
        margin = RENEW_MARGIN if lifetime > 2 * RENEW_MARGIN else lifetime / 2
        self.tokens_fetched += 1
        # Counted from the asking, not the answer: SFMC started the token's life somewhere in between.
        return token, asked_at + lifetime - margin

    def get_token_refresh_endpoint(self) -> str:
        return self._config.token_url

    def get_client_id(self) -> str:
        return self._config.client_id

    def get_client_secret(self) -> str:
        return self._config.client_secret

    def get_refresh_token(self) -> str | None:
        return None

    def get_scopes(self) -> list[str]:
        return []

    def get_token_expiry_date(self) -> AirbyteDateTime:
        return self._expiry

    def set_token_expiry_date(self, value: AirbyteDateTime) -> None:  # type: ignore[override]
        self._expiry = value

    def get_refresh_request_body(self) -> Mapping[str, Any]:
        return {}

    def get_refresh_request_headers(self) -> Mapping[str, Any]:
        return {}

    def get_grant_type(self) -> str:
        return "client_credentials"

    @property
    def access_token(self) -> str:
        return self._access_token or ""

    @access_token.setter
    def access_token(self, value: str) -> None:
        self._access_token = value

    # -- the token request --------------------------------------------------------------------------------
    def _request_token(self) -> Mapping[str, Any]:
        """The token answer; for a unit other than the config's own, a failure (its attempts spent, or a refusal)
        is remembered and fails the sync's later requests in that unit at once: otherwise every window of every
        stream of a unit whose token request hangs would wait out every attempt again, for hours, while the
        other units wait to be read. Raises TokenError."""
        if self._failure is not None:
            raise copy.copy(self._failure)
        try:
            return self._ask_for_token()
        except TokenError as error:
            if self._account_id is not None and self._account_id != self._config.account_id:
                self._failure = copy.copy(error)
            raise

    def _ask_for_token(self) -> Mapping[str, Any]:
        body: dict[str, Any] = {
            "grant_type": "client_credentials",
            "client_id": self._config.client_id,
            "client_secret": self._config.client_secret,
        }
        if self._account_id is not None:
            body["account_id"] = self._account_id
        url = self._config.token_url
        host = _host_of(url)
        last_problem = ""
        # Whether the last failure was the host's (a connection or time-out: the subdomain may be wrong) or an
        # answer from Marketing Cloud (a rate limit, a server error: the subdomain is right, the service is not).
        hint = "If this persists, check the 'subdomain' config field."
        started = time.monotonic()
        budget = CHECK_RETRY_SECONDS if not self._retry_connection_errors else MAX_RETRY_SECONDS
        for attempt in range(1, self._attempts + 1):
            wait: float | None = None
            self._asked_at = ab_datetime_now()
            try:
                response = self._session.post(
                    url, json=body, timeout=self._config.request_timeout_seconds, allow_redirects=False
                )
            except (RedirectRefused, UntrustedHost, BodyTooLarge) as error:
                # Not retried: the client secret must not be offered to whatever the answer pointed at, and an
                # answer too large to read would be as large again.
                raise TokenError(
                    message=f"Could not get an access token from Marketing Cloud: {error}",
                    failure_type=FailureType.system_error,
                ) from None
            except requests.exceptions.ConnectionError as error:
                if _is_name_resolution_failure(error):
                    raise TokenError(
                        message=(
                            f"Could not reach {host}: the host name does not resolve. "
                            "Check the 'subdomain' config field against your tenant's Authentication Base URI."
                        ),
                        failure_type=FailureType.config_error,
                    ) from None
                if not self._retry_connection_errors:
                    raise TokenError(
                        message=(
                            f"Could not connect to {host} ({_connection_problem(error)}). "
                            "Check the 'subdomain' config field against your tenant's Authentication Base URI."
                        ),
                        failure_type=FailureType.config_error,
                    ) from None
                last_problem = f"could not connect ({_connection_problem(error)})"
                hint = "If this persists, check the 'subdomain' config field."
            except requests.exceptions.Timeout as error:
                if not self._retry_connection_errors:
                    raise TokenError(
                        message=f"Could not get an access token from {host}: {_timeout_problem(error, self._config)}",
                        failure_type=FailureType.transient_error,
                    ) from None
                last_problem = _timeout_problem(error, self._config)
                hint = "If this persists, check the 'subdomain' config field, or raise 'request_timeout_seconds'."
            except requests.exceptions.RequestException as error:
                # An answer broken in transit (cut off mid-body, chunks that are not chunks, a body its declared
                # encoding cannot decode): a server fault like a 5xx, tried again; it escaped as an unexpected
                # error (ChunkedEncodingError) with a traceback, not naming the business unit. A compression not
                # asked for (`br`) is named.
                last_problem = (
                    str(error)
                    if isinstance(error, UnreadableBody)
                    else "its answer was incomplete or could not be decoded"
                )
                hint = "Marketing Cloud's authentication service is failing; try again later."
            else:
                answer = _json_or_none(response)
                if response.status_code == 200 and isinstance(answer, dict):
                    return answer
                if response.status_code == 429:
                    # The one error policy's rate-limit rule (errors.py): wait what Retry-After (RFC 9110, seconds
                    # or an HTTP-date) or `retryAfter` says, within the same retry budget as every other request.
                    wait = retry_after_seconds(
                        response.headers.get("Retry-After"),
                        answer.get("retryAfter") if isinstance(answer, dict) else None,
                    )
                    last_problem = "it refused the token request for its rate limit (HTTP 429)"
                    hint = (
                        "Too many token requests are being made with this installed package's credentials (every "
                        "integration using them counts); try again later."
                    )
                elif response.status_code >= 500 or (response.status_code == 200 and answer is None):
                    wait = retry_after_seconds(response.headers.get("Retry-After"))
                    last_problem = (
                        f"its authentication service answered HTTP {response.status_code}"
                        if response.status_code >= 500
                        else "its answer was not complete JSON"
                    )
                    hint = "Marketing Cloud's authentication service is failing; try again later."
                else:
                    raise self._rejection(response, answer)
            if attempt < self._attempts:
                delay = wait if wait is not None else min(2**attempt, 30)
                if time.monotonic() - started + delay > budget:
                    last_problem += f" (asked to wait {delay:.0f} s more, past the {budget} s retry budget)"
                    break
                time.sleep(delay)
        raise TokenError(
            message=f"Could not get an access token from {host}: {last_problem}, after {attempt} attempt"
            f"{'s' if attempt > 1 else ''}. {hint}",
            failure_type=FailureType.transient_error,
        )

    def _rejection(self, response: requests.Response, answer: Any) -> TokenError:
        error = _answer_text(answer, "error")
        if response.status_code == 404:
            return TokenError(
                message=(
                    f"{self._config.token_url} answered 404 Not Found: the 'subdomain' config field does not name "
                    "a Marketing Cloud tenant. Copy it from the Authentication Base URI of your installed package."
                ),
                failure_type=FailureType.config_error,
            )
        if self._account_id is not None and self._account_id != self._config.account_id:
            # A unit from 'business_units' or the listing of every unit: SFMC answers 401 for a MID the package is
            # not enabled for (PROTOCOL.md section 7); the credentials themselves worked for the home unit.
            return TokenError(
                message=(
                    f"Marketing Cloud refused a token for business unit {self._account_id} (HTTP "
                    f"{response.status_code}{' ' + error if error else ''}): enable the installed package for that "
                    "business unit (the package's Access tab in Setup)"
                    + (
                        "; 'all_business_units' listed it."
                        if self._config.all_business_units
                        else ", or remove it from 'business_units'."
                    )
                ),
                failure_type=FailureType.config_error,
            )
        if error == "invalid_client" or response.status_code == 401:
            return TokenError(
                message=(
                    "Marketing Cloud rejected the client credentials: check the 'client_id' and 'client_secret' "
                    "config fields, and that the installed package is enabled and has a Server-to-Server API "
                    "integration" + (" with access to the business unit in 'account_id'." if self._account_id else ".")
                ),
                failure_type=FailureType.config_error,
            )
        if error == "invalid_grant" or (error and self._account_id is not None):
            return TokenError(
                message=(
                    f"Marketing Cloud refused the token request ({error}): check that the business unit in "
                    "'account_id' exists and that the installed package has access to it."
                ),
                failure_type=FailureType.config_error,
            )
        description = _answer_text(answer, "error_description")
        return TokenError(
            message=f"Marketing Cloud refused the token request: HTTP {response.status_code}"
            + (f" {error}: {description}" if error else ""),
            failure_type=FailureType.config_error,
        )

    def _instance_url(self, answer: Mapping[str, Any], key: str) -> str:
        url = answer.get(key)
        if not isinstance(url, str) or not url:
            raise TokenError(
                message=f"The token answer from Marketing Cloud had no {key}.", failure_type=FailureType.system_error
            )
        if not url.endswith("/"):
            url += "/"
        if not is_trusted_url(url, allow_loopback=self._config.is_loopback):
            # A token answer is trusted only as far as it points back at Marketing Cloud: anything else would
            # receive our bearer token with every request.
            raise TokenError(
                message=f"Refusing the token answer: its {key} is not an https://*.marketingcloudapis.com address.",
                failure_type=FailureType.system_error,
            )
        return url


# How much of a refusal's `error` or `error_description` a message quotes.
_MAX_QUOTED = 120


def _answer_text(answer: Any, key: str) -> str | None:
    """A refusal's `error` or `error_description` as short printable text; None when it is not text.

    OAuth 2.0 makes both strings (RFC 6749 section 5.2), but a server may answer with an object there: it was
    added to the message as text and raised a TypeError, which `check` reported as an unexpected error."""
    value = answer.get(key) if isinstance(answer, dict) else None
    if not isinstance(value, str):
        return None
    # Secrets are masked before the text is cut: a secret cut in two is no longer masked by the CDK's filter.
    text = mask("".join(character if character.isprintable() else " " for character in value)).strip()
    return (text if len(text) <= _MAX_QUOTED else text[: _MAX_QUOTED - 3] + "...") or None


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _host_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _timeout_problem(error: requests.exceptions.Timeout, config: SfmcConfig) -> str:
    if isinstance(error, RequestDeadlineExceeded):
        return str(error)
    return f"no answer within {config.request_timeout_seconds} s (request_timeout_seconds)"


def _connection_problem(error: BaseException) -> str:
    text = repr(error)
    if "Connection refused" in text or "ConnectionRefusedError" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "connection timed out"
    return f"connection failed: {type(error).__name__}"


def _is_name_resolution_failure(error: BaseException) -> bool:
    text = repr(error)
    return any(
        marker in text
        for marker in ("NameResolutionError", "Name or service not known", "nodename nor servname", "getaddrinfo")
    )
