"""The user's config, parsed and validated once into a frozen value the rest of the connector reads.

Every mistake a user can make in the form becomes a `ConfigError` whose message names the field and the expected
form; nothing downstream re-validates or reads the raw mapping.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_sfmc.masking import mask

logger = logging.getLogger("airbyte")

SFMC_DOMAIN = "marketingcloudapis.com"
LOOPBACK_HOSTS = {"localhost"}

KNOWN_FIELDS = frozenset(
    {
        "client_id",
        "client_secret",
        "subdomain",
        "account_id",
        "start_date",
        "window_days",
        "lookback_hours",
        "query_all_accounts",
        "business_units",
        "all_business_units",
        "num_workers",
        "request_timeout_seconds",
        "data_extensions",
        "data_extensions_include",
        "data_extensions_exclude",
        "data_extension_folders_include",
        "data_extension_folders_exclude",
        "link_sends_recent_days",
    }
)
DEFAULT_WINDOW_DAYS = 30
DEFAULT_LOOKBACK_HOURS = 24
DEFAULT_NUM_WORKERS = 4
MAX_NUM_WORKERS = 10
# SFMC answers a synchronous call within 120 s, or within 300 s for tracking and data retrieve operations (such as
# SOAP retrieves of tracking events): "Intro to Marketing Cloud APIs" (developer.salesforce.com, mc-apis) and "API
# Limits and Guidelines" (help.salesforce.com, mktg.mc_overview_limits_api.htm). The default waits those 300 s plus
# 30 s to receive the answer (at most 4 MB per REST call, same page), so it never gives up on a call SFMC still answers.
SFMC_LONGEST_SYNCHRONOUS_SECONDS = 300
DEFAULT_REQUEST_TIMEOUT_SECONDS = SFMC_LONGEST_SYNCHRONOUS_SECONDS + 30
# Link clicks keep accruing for weeks after a send: each sync re-reads the links of sends this recent.
DEFAULT_LINK_SENDS_RECENT_DAYS = 30
MAX_LINK_SENDS_RECENT_DAYS = 365

# Tenant subdomains are 28 characters starting with "mc"; we accept any DNS label of that alphabet starting with
# "mc" so that an unusual tenant is not refused by a guess about its length.
_SUBDOMAIN = re.compile(r"^mc[a-z0-9](?:[a-z0-9-]{0,60}[a-z0-9])?$")
# Whole numbers in config text: ASCII digits only (str.isdigit() also accepts '²' and '①', which int() refuses) and
# few enough of them that no conversion limit or range check ever sees a huge value.
_WHOLE_NUMBER = re.compile(r"[0-9]{1,12}")
# SFMC issues client ids and secrets as long random strings (those seen are 24 characters). A shorter value is a typing
# mistake, and would be worse than useless: the CDK stars out every occurrence of a secret's text in every log line,
# so a one-letter secret would blank that letter everywhere.
MIN_CREDENTIAL_LENGTH = 10
# Dates SFMC stores (SQL Server datetime) start in 1753; Python's start at year 1 and end in 9999.
EARLIEST_START_DATE = datetime(1753, 1, 1, tzinfo=UTC)
_SUBDOMAIN_FORM = (
    "the tenant subdomain such as 'mc563885gzs27c5t9-63k636ttgm', or one of the tenant's base URLs such as "
    "'https://mc563885gzs27c5t9-63k636ttgm.auth.marketingcloudapis.com/'"
)


class ConfigError(AirbyteTracedException):
    """A mistake in the user's config: reported as an Airbyte config_error, never retried."""

    def __init__(self, field_name: str, problem: str) -> None:
        message = f"Config field '{field_name}': {problem}"
        super().__init__(message=message, internal_message=message, failure_type=FailureType.config_error)
        self.field_name = field_name


@dataclass(frozen=True)
class SfmcConfig:
    client_id: str
    client_secret: str = field(repr=False)
    auth_base_url: str  # e.g. https://mc....auth.marketingcloudapis.com/ (or the sandbox's loopback URL)
    is_loopback: bool
    account_id: int | None = None
    start_date: datetime | None = None
    window: timedelta = timedelta(days=DEFAULT_WINDOW_DAYS)
    lookback: timedelta = timedelta(hours=DEFAULT_LOOKBACK_HOURS)
    # The business units to read, by MID. Empty: the one unit of `account_id`, else the package's own unit (its MID
    # is learnt from /v2/userinfo). `all_business_units`: every unit the package can access, listed at sync start.
    business_units: tuple[int, ...] = ()
    all_business_units: bool = False
    num_workers: int = DEFAULT_NUM_WORKERS
    request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS
    data_extensions: tuple[str, ...] = ()
    # Glob patterns (see data_extension_selection) on data extension names or keys, and on folder paths.
    data_extensions_include: tuple[str, ...] = ()
    data_extensions_exclude: tuple[str, ...] = ()
    data_extension_folders_include: tuple[str, ...] = ()
    data_extension_folders_exclude: tuple[str, ...] = ()
    link_sends_recent: timedelta = timedelta(days=DEFAULT_LINK_SENDS_RECENT_DAYS)

    @property
    def token_url(self) -> str:
        return f"{self.auth_base_url}v2/token"


def parse_config(raw: Mapping[str, Any], *, now: datetime | None = None) -> SfmcConfig:
    """Validate the config the user entered; raise ConfigError naming the first field that is wrong."""
    if not isinstance(raw, Mapping):
        raise ConfigError("config", "must be a JSON object")
    unknown = sorted(set(raw) - KNOWN_FIELDS)
    if unknown:
        raise ConfigError(unknown[0], "is not a setting of this connector (check its spelling)")
    now = now or datetime.now(UTC)
    auth_base_url, is_loopback = parse_subdomain(_required_text(raw, "subdomain"))
    return SfmcConfig(
        client_id=_credential(raw, "client_id"),
        client_secret=_credential(raw, "client_secret"),
        auth_base_url=auth_base_url,
        is_loopback=is_loopback,
        account_id=_optional_mid(raw.get("account_id")),
        business_units=_business_units(raw),
        all_business_units=_all_business_units(raw),
        start_date=_optional_start_date(raw.get("start_date"), now),
        window=timedelta(days=_int_in_range(raw, "window_days", DEFAULT_WINDOW_DAYS, 1, 90)),
        lookback=timedelta(hours=_int_in_range(raw, "lookback_hours", DEFAULT_LOOKBACK_HOURS, 0, 24 * 30)),
        num_workers=_int_in_range(raw, "num_workers", DEFAULT_NUM_WORKERS, 1, MAX_NUM_WORKERS),
        request_timeout_seconds=_int_in_range(raw, "request_timeout_seconds", DEFAULT_REQUEST_TIMEOUT_SECONDS, 1, 900),
        data_extensions=_key_list(raw.get("data_extensions")),
        data_extensions_include=_pattern_list(raw, "data_extensions_include", "names or external keys"),
        data_extensions_exclude=_pattern_list(raw, "data_extensions_exclude", "names or external keys"),
        data_extension_folders_include=_pattern_list(raw, "data_extension_folders_include", "folder paths"),
        data_extension_folders_exclude=_pattern_list(raw, "data_extension_folders_exclude", "folder paths"),
        link_sends_recent=timedelta(
            days=_int_in_range(
                raw, "link_sends_recent_days", DEFAULT_LINK_SENDS_RECENT_DAYS, 1, MAX_LINK_SENDS_RECENT_DAYS
            )
        ),
    )


def parse_subdomain(value: str) -> tuple[str, bool]:
    """Return (auth base URL ending in '/', is_loopback) for a bare subdomain or a pasted tenant URL."""
    value = value.strip()
    if "://" not in value:
        subdomain = value.lower().rstrip("/")
        if not _SUBDOMAIN.fullmatch(subdomain):
            raise ConfigError("subdomain", f"'{_shorten(value)}' is not a tenant subdomain; expected {_SUBDOMAIN_FORM}")
        return f"https://{subdomain}.auth.{SFMC_DOMAIN}/", False

    try:
        parts = urlsplit(value)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError as error:
        raise ConfigError("subdomain", f"'{_shorten(value)}' is not a valid URL ({error})") from None
    if parts.username or parts.password:
        raise ConfigError("subdomain", "the URL must not contain a user name or password")
    if _is_loopback(host):
        if parts.scheme not in ("http", "https") or port is None:
            raise ConfigError("subdomain", "a local sandbox URL must look like 'http://127.0.0.1:PORT'")
        return f"{parts.scheme}://{parts.netloc}/", True
    if not host.endswith(f".{SFMC_DOMAIN}"):
        raise ConfigError(
            "subdomain",
            f"the host '{_shorten(host)}' is not a Marketing Cloud host (*.{SFMC_DOMAIN}); expected {_SUBDOMAIN_FORM}",
        )
    if parts.scheme != "https":
        raise ConfigError("subdomain", "Marketing Cloud URLs must use https://")
    if port is not None:
        raise ConfigError("subdomain", f"remove the port ':{port}'; expected {_SUBDOMAIN_FORM}")
    subdomain = host.split(".", 1)[0]
    if not _SUBDOMAIN.fullmatch(subdomain):
        raise ConfigError(
            "subdomain", f"'{_shorten(host)}' does not start with a tenant subdomain; expected {_SUBDOMAIN_FORM}"
        )
    return f"https://{subdomain}.auth.{SFMC_DOMAIN}/", False


def is_trusted_url(url: str, *, allow_loopback: bool) -> bool:
    """Whether a URL (e.g. an instance URL from the token response) may receive the token."""
    if not url.isascii() or not url.isprintable() or " " in url:
        return False  # urlsplit silently drops tabs and newlines; a URL SFMC hands out is plain ASCII
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        return False
    if parts.username or parts.password:
        return False
    if allow_loopback and _is_loopback(host):
        return parts.scheme in ("http", "https")
    # Labels of letters, digits and hyphens only: urllib3, which opens the connection, ends the host at a backslash
    # where urlsplit does not, so a host 'evil.test' + backslash + '.marketingcloudapis.com' would pass a suffix test
    # here and the request would go to evil.test.
    return parts.scheme == "https" and _MARKETING_CLOUD_HOST.fullmatch(host) is not None


_MARKETING_CLOUD_HOST = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+" + re.escape(SFMC_DOMAIN))


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _required_text(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    if value is None:
        raise ConfigError(name, "is required")
    if not isinstance(value, str):
        raise ConfigError(name, f"must be text, not {type(value).__name__}")
    if not value.strip():
        raise ConfigError(name, "must not be empty")
    return value.strip()


def _credential(raw: Mapping[str, Any], name: str) -> str:
    value = _required_text(raw, name)
    if len(value) < MIN_CREDENTIAL_LENGTH:
        raise ConfigError(
            name,
            f"is too short to be a Marketing Cloud {name} (they are long random strings, {MIN_CREDENTIAL_LENGTH} "
            "characters or more): copy it again from the installed package's API integration",
        )
    return value


def _whole_number(value: Any) -> int | None:
    """An int from a JSON int or from text of ASCII digits; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
        return int(value.strip())
    return None


def _optional_mid(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    mid = _whole_number(value)
    if mid is None:
        raise ConfigError("account_id", "must be the numeric MID of a business unit, e.g. 7281234")
    if not 0 < mid < 2**31:
        raise ConfigError("account_id", "must be a positive MID, e.g. 7281234")
    return mid


def _mid_value(value: Any) -> int | None:
    """A MID (1 to 2**31 - 1: SFMC's MIDs are SQL int) from an int or text of ASCII digits; None otherwise."""
    mid = _whole_number(value)
    return mid if mid is not None and 0 < mid < 2**31 else None


def _business_units(raw: Mapping[str, Any]) -> tuple[int, ...]:
    """`business_units` as MIDs, in the order given, without repeats; `account_id` alone is a one-unit list."""
    value = raw.get("business_units")
    form = 'must be a list of business unit MIDs, e.g. ["7281234", "7294501"] (JSON integers are read too)'
    if value is None:
        mids: tuple[int, ...] = ()
    elif not isinstance(value, list):
        raise ConfigError("business_units", form)
    else:
        parsed = []
        for index, item in enumerate(value):
            if isinstance(item, str) and not item.strip():
                continue
            mid = _mid_value(item)
            if mid is None:
                raise ConfigError(f"business_units[{index}]", f"{form}; {_shown_item(item)} is not a MID")
            parsed.append(mid)
        mids = tuple(dict.fromkeys(parsed))
    account_id = _optional_mid(raw.get("account_id"))
    if mids and account_id is not None and account_id not in mids:
        raise ConfigError(
            "account_id",
            f"names business unit {account_id}, which is not in 'business_units': list every unit to read in "
            "'business_units' and leave 'account_id' empty",
        )
    if not mids and account_id is not None:
        return (account_id,)
    return mids


def _shown_item(item: Any) -> str:
    """An item of a list as the user wrote it (JSON), shortened."""
    try:
        text = json.dumps(item)
    except (TypeError, ValueError, RecursionError):
        text = type(item).__name__
    return _shorten(text, 40)


def _all_business_units(raw: Mapping[str, Any]) -> bool:
    every = _bool(raw, "all_business_units", False)
    if _bool(raw, "query_all_accounts", False):
        # The old switch set QueryAllAccounts on SOAP retrieves only; reading every unit is what it was for.
        logger.warning(
            "Config field 'query_all_accounts' is deprecated: it now means 'all_business_units' (every business "
            "unit the installed package can access, REST and SOAP, each record marked with its 'mid'). Set "
            "'all_business_units' instead."
        )
        every = True
    if every and _names_a_unit(raw.get("business_units")):
        raise ConfigError(
            "all_business_units",
            "reads every business unit the package can access, so 'business_units' must be empty with it",
        )
    return every


def _names_a_unit(value: Any) -> bool:
    """Whether `business_units` holds anything but blank items (which `_business_units` skips)."""
    if not isinstance(value, list):
        return bool(value)
    return any(not (isinstance(item, str) and not item.strip()) for item in value)


# ASCII digits only ([0-9], not \d, which also matches other scripts' digits), anchored by fullmatch.
_START_DATE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?"
)


def _optional_start_date(value: Any, now: datetime) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    form = "an ISO 8601 date-time in UTC such as '2024-01-01T00:00:00Z'"
    if not isinstance(value, str):
        raise ConfigError("start_date", f"must be {form}")
    text = value.strip()
    if not _START_DATE.fullmatch(text):
        raise ConfigError("start_date", f"'{_shorten(text)}' is not {form}")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ConfigError("start_date", f"'{_shorten(text)}' is not a real date; expected {form}") from None
    if parsed < EARLIEST_START_DATE:
        raise ConfigError("start_date", f"'{text}' is before {EARLIEST_START_DATE:%Y}; expected {form}")
    if parsed > now:
        raise ConfigError("start_date", f"'{text}' is in the future; use a date before today")
    return parsed


def _int_in_range(raw: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    raw_value = raw.get(name)
    if raw_value is None:
        return default
    value = _whole_number(raw_value)
    if value is None:
        raise ConfigError(name, f"must be a whole number from {low} to {high}")
    if not low <= value <= high:
        shown = str(value) if abs(value) < 10**12 else "a number that large"
        raise ConfigError(name, f"must be from {low} to {high}, not {shown}")
    return value


def _bool(raw: Mapping[str, Any], name: str, default: bool) -> bool:
    # Null means "not set", as for every other optional field (the Airbyte UI and PyAirbyte write it).
    value = raw.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ConfigError(name, "must be true or false")
    return value


def _key_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError("data_extensions", "must be a list of data extension external keys")
    keys = tuple(dict.fromkeys(item.strip() for item in value if item.strip()))
    return keys


def _pattern_list(raw: Mapping[str, Any], name: str, what: str) -> tuple[str, ...]:
    value = raw.get(name)
    if value is None:
        return ()
    example = "'Data Extensions/Sales*'" if "folder" in what else "'Sales_*' or '*_tmp'"
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(name, f"must be a list of patterns of data extension {what}, such as {example}")
    return tuple(dict.fromkeys(item.strip() for item in value if item.strip()))


def _shorten(text: str, limit: int = 80) -> str:
    # Secrets are masked before the text is cut: a secret cut in two is no longer masked by the CDK's filter.
    text = mask(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
