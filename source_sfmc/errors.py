"""One error policy for every request: retry, back off, renew the token, or fail with a message a user can act on.

The HTTP client asks `interpret_response` about every answer, successful ones included. We use that to parse
bodies once, here: a 200 whose JSON or XML is cut short or malformed is a transient failure to retry, never a
page to take partial records from. The parsed body is kept on the response for the stream to use.

A rejected token (REST 401, SOAP `Token Expired` / `Login failed`) is an ordinary retry, not the CDK's
REFRESH_TOKEN_THEN_RETRY: the authenticator sees the same response (`update_from_response`) and drops the token, so
the retry carries a new one (the CDK's refresh would be per request, not per token, and name no cause). A token just
issued does not expire, though: when Marketing Cloud keeps refusing fresh ones the authenticator marks the answer as
denied access (`auth.DENIED_AFTER_RENEWALS`), and the stream fails with a config_error naming it and what to check,
instead of asking for a new token on every retry of every request (SFMC-SDK likewise renews once on a 401 and then
gives up).
"""

from __future__ import annotations

import email.utils
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy, ErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction

from source_sfmc.http_policy import (
    BodyTooLarge,
    RedirectRefused,
    RequestDeadlineExceeded,
    UnreadableBody,
    UntrustedHost,
)
from source_sfmc.soap.describe import DESCRIBE_HEADERS, parse_describe
from source_sfmc.soap.envelope import requested_object_type
from source_sfmc.soap.parse import MalformedResponse, SoapFault, parse_fault, parse_retrieve

# Documented in the README: each request is tried at most 1 + MAX_RETRIES times and retried for at most
# MAX_RETRY_SECONDS; a rate limit waits what Retry-After says.
MAX_RETRIES = 5
MAX_RETRY_SECONDS = 600
_SECONDS_TEXT = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
PARSED_ATTRIBUTE = "_sfmc_parsed"

_TRANSIENT_EXCEPTIONS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


# Set around a Retrieve sent on the side of a stream's windows (`side_retrieve`). A context variable is per
# thread, and the error handler runs in the thread that sends the request.
_SIDE_RETRIEVE: ContextVar[bool] = ContextVar("sfmc_side_retrieve", default=False)


@contextmanager
def side_retrieve() -> Iterator[None]:
    """Requests sent inside this block retrieve objects on the side of the stream's date windows (data extension
    fields, folders): their results stay plain dicts, never typed records, even of the stream's own object type,
    and a timeout is retried, not split, since they read no window to split."""
    token = _SIDE_RETRIEVE.set(True)
    try:
        yield
    finally:
        _SIDE_RETRIEVE.reset(token)


ACCESS_DENIED_ATTRIBUTE = "_sfmc_access_denied"


def mark_access_denied(response: requests.Response) -> None:
    """Mark a token refusal as denied access: Marketing Cloud refused a freshly issued token (the authenticator
    decides, in `update_from_response`, which the HTTP client calls before the error handler)."""
    setattr(response, ACCESS_DENIED_ATTRIBUTE, True)


def parsed_body(response: requests.Response) -> Any:
    """The body as the error handler parsed it (JSON value or `RetrievePage`)."""
    return getattr(response, PARSED_ATTRIBUTE)


def _retry(message: str) -> ErrorResolution:
    return ErrorResolution(ResponseAction.RETRY, FailureType.transient_error, message)


def _fail(message: str, failure_type: FailureType = FailureType.system_error) -> ErrorResolution:
    return ErrorResolution(ResponseAction.FAIL, failure_type, message)


def _split(message: str) -> ErrorResolution:
    return ErrorResolution(ResponseAction.SPLIT_REQUEST_WINDOW, FailureType.transient_error, message)


_SUCCESS = ErrorResolution(ResponseAction.SUCCESS)


class SfmcErrorHandler(ErrorHandler):
    """Shared by REST and SOAP; `api` selects how a body is read.

    `records` maps a SOAP object type to the function that turns one of its parsed results into the stream's
    record; a Retrieve of that object type is typed during its one parsing pass (other object types, which a
    stream may retrieve on the side, stay plain dicts).

    With `split_on_timeout` (streams that read date windows and can split them), a request that times out, by
    getting no answer in time or by SFMC's "Timeout expired" fault, is SPLIT_REQUEST_WINDOW rather than retried:
    the same dense window would most likely time out again (`window_split.py`). Requests that read no window of
    the stream are retried on a timeout like any other stream's: a Describe, and retrieves on the side."""

    def __init__(
        self,
        stream_name: str,
        api: str,
        scopes: tuple[str, ...],
        records: Mapping[str, Callable[[dict], Any]] | None = None,
        *,
        split_on_timeout: bool = False,
    ) -> None:
        self._stream_name = stream_name
        self._api = api
        self._scopes = scopes
        self._records = dict(records or {})
        self._split_on_timeout = split_on_timeout

    @property
    def max_retries(self) -> int:
        return MAX_RETRIES

    @property
    def max_time(self) -> int:
        return MAX_RETRY_SECONDS

    def interpret_response(self, response_or_exception: requests.Response | Exception | None) -> ErrorResolution:
        if isinstance(response_or_exception, requests.exceptions.ReadTimeout) and self._splits(
            response_or_exception.request
        ):
            return _split(f"{self._stream_name}: no answer before the request timeout")
        if isinstance(response_or_exception, _TRANSIENT_EXCEPTIONS):
            return _retry(f"{self._stream_name}: {_describe_exception(response_or_exception)}")
        if isinstance(response_or_exception, RedirectRefused | UntrustedHost | BodyTooLarge):
            # Never retried: a retry would ask the same host, which would point elsewhere (or answer as much) again.
            return _fail(f"{self._stream_name}: {response_or_exception}")
        if not isinstance(response_or_exception, requests.Response):
            return _fail(f"{self._stream_name}: request failed: {type(response_or_exception).__name__}")
        response = response_or_exception
        if self._api == "soap":
            return self._interpret_soap(response)
        return self._interpret_rest(response)

    # -- REST -----------------------------------------------------------------------------------------------
    def _interpret_rest(self, response: requests.Response) -> ErrorResolution:
        status = response.status_code
        if 200 <= status < 300:
            try:
                setattr(response, PARSED_ATTRIBUTE, json.loads(response.content) if response.content else None)
            except ValueError:
                return _retry(f"{self._stream_name}: the answer was not complete JSON (cut short or malformed)")
            return _SUCCESS
        body = _json_or_empty(response)
        sfmc_message = str(body.get("message") or "").strip()
        if status == 401:
            return self._token_rejected(response, sfmc_message or "Not Authorized")
        if status == 403:
            return _fail(self._missing_scope_message(sfmc_message), FailureType.config_error)
        if status == 429 or body.get("errorcode") in (50100, 50200):
            return ErrorResolution(
                ResponseAction.RATE_LIMITED, FailureType.transient_error, f"{self._stream_name}: rate limited"
            )
        if status >= 500:
            return _retry(f"{self._stream_name}: Marketing Cloud answered HTTP {status}")
        if status == 404:
            path = response.request.path_url.split("?")[0]
            return _fail(
                f"{self._stream_name}: Marketing Cloud answered 404 Not Found for {path}"
                " (the feature may not be enabled for this account)"
            )
        return _fail(
            f"{self._stream_name}: Marketing Cloud refused the request (HTTP {status})"
            + (f": {sfmc_message}" if sfmc_message else "")
        )

    # -- SOAP -----------------------------------------------------------------------------------------------
    def _interpret_soap(self, response: requests.Response) -> ErrorResolution:
        status = response.status_code
        if status == 200:
            # A Describe answers a DefinitionResponseMsg; everything else we send is a Retrieve.
            describing = _is_describe(response.request)
            try:
                parsed = (
                    parse_describe(response.content)
                    if describing
                    else parse_retrieve(response.content, self._record_of(response))
                )
                setattr(response, PARSED_ATTRIBUTE, parsed)
            except MalformedResponse as error:
                return _retry(f"{self._stream_name}: the SOAP answer was not a complete envelope ({error})")
            return _SUCCESS
        fault = _fault_or_none(response.content)
        if fault is None:
            if status == 401:
                return self._token_rejected(response, "Not Authorized")
            if status == 403:
                return _fail(self._missing_scope_message(""), FailureType.config_error)
            if status == 429 or status >= 500:
                return _retry(f"{self._stream_name}: Marketing Cloud answered HTTP {status}")
            return _fail(f"{self._stream_name}: Marketing Cloud answered HTTP {status} to a SOAP request")
        text = fault.message.strip()
        lowered = text.lower()
        if _is_token_fault(fault):
            return self._token_rejected(response, text)
        if fault.api_code == 17 or "rate limit" in lowered:
            return ErrorResolution(
                ResponseAction.RATE_LIMITED, FailureType.transient_error, f"{self._stream_name}: {text}"
            )
        if fault.code.endswith("Client"):
            return _fail(f"{self._stream_name}: Marketing Cloud rejected the SOAP request: {text}")
        if is_timeout_fault(fault) and self._splits(response.request):
            return _split(f"{self._stream_name}: Marketing Cloud timed out ({text})")
        return _retry(f"{self._stream_name}: SOAP fault {fault.code}: {text}")

    def _splits(self, request: Any) -> bool:
        """Whether a timeout of `request` splits its window: only a Retrieve (or its continuation) of the stream's
        own windows does."""
        if not self._split_on_timeout or _SIDE_RETRIEVE.get():
            return False
        return not _is_describe(request)

    def _record_of(self, response: requests.Response) -> Callable[[dict], Any] | None:
        if not self._records or response.request is None or _SIDE_RETRIEVE.get():
            return None
        return self._records.get(requested_object_type(response.request.body) or "")

    def _token_rejected(self, response: requests.Response, sfmc_message: str) -> ErrorResolution:
        if getattr(response, ACCESS_DENIED_ATTRIBUTE, False):
            return _fail(self._access_denied_message(sfmc_message), FailureType.config_error)
        return _retry(f"{self._stream_name}: Marketing Cloud rejected the access token ({sfmc_message})")

    def _access_denied_message(self, sfmc_message: str) -> str:
        scopes = " and ".join(f"'{scope}'" for scope in self._scopes)
        return (
            f"Marketing Cloud refused stream '{self._stream_name}' a freshly issued access token ({sfmc_message}): "
            f"the installed package is not allowed this API. Check in Setup > Installed Packages that its API "
            f"integration has the {scopes} scope{'s' if len(self._scopes) > 1 else ''}, that the package is enabled "
            "for the business unit read, and that the API user's permissions allow it; or deselect the stream."
        )

    def _missing_scope_message(self, sfmc_message: str) -> str:
        scopes = " and ".join(f"'{scope}'" for scope in self._scopes)
        return (
            f"Marketing Cloud denied access to stream '{self._stream_name}'"
            + (f" ({sfmc_message})" if sfmc_message else "")
            + f": the installed package's API integration needs the {scopes} scope"
            + ("s" if len(self._scopes) > 1 else "")
            + ". Add it in Setup > Installed Packages, or deselect the stream."
        )


class RetryAfterBackoff(BackoffStrategy):
    """Wait what SFMC asks for (`Retry-After` header or `retryAfter` in the body); else the CDK's exponential."""

    def backoff_time(
        self, response_or_exception: requests.Response | requests.RequestException | None, attempt_count: int
    ) -> float | None:
        if not isinstance(response_or_exception, requests.Response):
            return None
        return retry_after_seconds(
            response_or_exception.headers.get("Retry-After"), _json_or_empty(response_or_exception).get("retryAfter")
        )


def retry_after_seconds(header: Any, body_value: Any = None, now: datetime | None = None) -> float | None:
    """Seconds to wait before a retry, from a `Retry-After` header or else a `retryAfter` body value; None when
    neither says (the caller's exponential back-off applies).

    RFC 9110, 10.2.3 "Retry-After": the value is either delta-seconds (ASCII digits) or an HTTP-date; both are read,
    the date with the standard library's RFC 5322 date parser. The body value is read the same way, as a JSON
    number or as text. A date already past, zero, or a negative number is None (retry on the ordinary back-off); a
    wait longer than the retry budget (MAX_RETRY_SECONDS) is cut to it, since the request would give up by then.
    """
    for value in (header, body_value):
        seconds = _retry_after_value(value, now)
        if seconds is not None:
            return seconds
    return None


def _retry_after_value(value: Any, now: datetime | None) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        # A JSON integer has any number of digits; float() of one past ~1e308 overflows.
        seconds = float(min(value, MAX_RETRY_SECONDS))
    elif isinstance(value, float):
        seconds = value
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if _SECONDS_TEXT.fullmatch(text):
            # delta-seconds (RFC 9110), or seconds with a fraction as a JSON number may have them: text and number
            # alike. ASCII only: isdigit() also takes '²'. The length keeps float() exact and finite.
            seconds = float(text) if len(text) < 16 else float(MAX_RETRY_SECONDS)
        else:
            try:
                when = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError, OverflowError):
                return None
            if when.tzinfo is None:  # RFC 5322's "-0000": the date is UTC
                when = when.replace(tzinfo=UTC)
            seconds = (when - (now or datetime.now(UTC))).total_seconds()
    else:
        return None
    if not math.isfinite(seconds) or seconds <= 0:
        return None
    return min(seconds, float(MAX_RETRY_SECONDS))


def is_token_rejection(response: requests.Response) -> bool:
    """Whether Marketing Cloud refused the request's token: REST 401, or a SOAP security fault."""
    if response.status_code == 401:
        return True
    if response.status_code != 500:
        return False
    fault = _fault_or_none(response.content)
    return fault is not None and _is_token_fault(fault)


def is_timeout_fault(fault: SoapFault) -> bool:
    """SFMC's answer to a query that outlasted its server-side timeout: "Server was unable to process request.
    ---> Timeout expired. The timeout period elapsed prior to completion of the operation..." (a server fault)."""
    message = fault.message.lower()
    return not fault.code.endswith("Client") and ("timeout expired" in message or "timed out" in message)


def _is_token_fault(fault: SoapFault) -> bool:
    return fault.code.endswith("Security") or fault.message.strip().lower() in ("token expired", "login failed")


def _json_or_empty(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _fault_or_none(content: bytes) -> SoapFault | None:
    try:
        return parse_fault(content)
    except MalformedResponse:
        return None


def _is_describe(request: Any) -> bool:
    return request is not None and request.headers.get("SOAPAction") == DESCRIBE_HEADERS["SOAPAction"]


def _describe_exception(error: Exception) -> str:
    if isinstance(error, RequestDeadlineExceeded):
        return str(error)
    if isinstance(error, requests.exceptions.Timeout):
        return "no answer before the request timeout"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "the connection dropped in the middle of the answer"
    if isinstance(error, UnreadableBody):
        return str(error)
    return f"connection problem ({type(error).__name__})"
