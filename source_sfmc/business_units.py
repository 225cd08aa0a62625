"""Business units (Enterprise 2.0): which units a sync reads, and the one token per unit every request uses.

A token acts in one business unit: `account_id` (the unit's MID) in the token request selects it (PROTOCOL.md
section 7; SFMC "Access Token for Server-to-Server Integrations": "account_id: Account identifier, or MID, of the
target business unit"). So every unit is read with its own token: a stream's slices are made per unit, each slice
carries the unit's MID (`mid`), and while a slice is read (or a unit's slices are made) `current_mid` names that
unit. `UnitTokens` routes each request to that unit's `SfmcAuthenticator`, which caches and renews its token as the
one-unit connector always did: one token per unit per sync.

BU_MECHANISM, per object, how a unit's records are reached (never two ways for one object, so no record is read
twice):
- REST (campaigns, journeys, automations, assets, journey history): the unit's token. REST is scoped to the
  token's unit and has no parameter that crosses units (PROTOCOL.md section 7).
- SOAP synced objects (lists, subscribers, sends, emails, folders, events, data extensions, ...): the unit's
  token, with neither QueryAllAccounts nor ClientIDs. SFMC documents QueryAllAccounts for a few objects only
  (BusinessUnit/Account, Subscriber, List, UnsubEvent, DataExtension) and none for SentEvent/OpenEvent/ClickEvent
  or DataExtensionObject; a unit's own token is the one mechanism that works for every object, and it needs no
  knowledge of which objects honour the others.
- SOAP BusinessUnit (listing the units, and the `business_units` stream): QueryAllAccounts=true from the home
  unit's token, "Retrieve Business Units" (SFMC SOAP docs, BusinessUnit object): the parent and every child it can
  see, each once.
- What a unit sees but another unit owns (the parent's shared data extensions, listed by every child): a SOAP
  record's `Client.ID` names its owner; it is marked with the owner's MID, and skipped in a child's read when the
  owner is read in the same sync (`SoapStream.marked`), so it is emitted once.
- Data extension rows: every unit read lists its data extensions with its own token; each data extension is read
  in its owner's unit (`Client.ID`), with the owner's token, even when only a child that it is shared with is
  read (SFMC's "Data Extensions" SOAP article: authenticate against the parent for shared data extensions), else,
  when the owner's listing was refused, in the first unit that lists it: DataExtensionObject has no documented
  QueryAllAccounts or ClientIDs. Rows are marked with the owner's MID. External keys are unique within a unit
  only, so stream names say the owner for every unit but the home one (`data_extensions.unit_stream_name`).

Assumptions where PROTOCOL.md is silent: the package's own unit (no `account_id`, no `business_units`) is learnt
from `GET /v2/userinfo` (`organization.member_id`), so its records carry its MID too; inactive units
(`IsActive` false) are not read with `all_business_units`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import requests
from requests.auth import AuthBase

from source_sfmc.auth import SfmcAuthenticator
from source_sfmc.config import SfmcConfig

logger = logging.getLogger("airbyte")

MID = "mid"

# The business unit whose data the current thread is reading (None: the home unit). Worker threads keep their
# value between tasks, so every task that talks to Marketing Cloud sets it first (`in_unit`).
current_mid: ContextVar[int | None] = ContextVar("current_mid", default=None)


@contextmanager
def in_unit(mid: int | None) -> Iterator[None]:
    """Requests made inside go to business unit `mid` (None: the home unit)."""
    token = current_mid.set(mid)
    try:
        yield
    finally:
        try:
            current_mid.reset(token)
        except ValueError:  # a generator closed from another context: the next task sets its own unit anyway
            current_mid.set(None)


def set_unit(mid: int | None) -> None:
    """Name the unit for the rest of this thread's current task (for generators, which cannot hold a `with`)."""
    current_mid.set(mid)


class UnitTokens(AuthBase):
    """One `SfmcAuthenticator` per business unit, chosen per request by `current_mid`.

    The home unit is `account_id` (or the package's own unit): its authenticator sends `account_id` as configured.
    Every other unit's authenticator sends that unit's MID. The HTTP client calls `__call__`,
    `update_from_response` and `refresh_and_set_access_token` in the thread that sends the request, so each
    reaches the token of the unit that thread is reading.
    """

    def __init__(self, config: SfmcConfig, session: requests.Session | None = None, **options: Any) -> None:
        self._config = config
        self._session = session or requests.Session()
        self._options = options
        self._home = SfmcAuthenticator(config, session=self._session, **options)
        self._home_mid: int | None = config.account_id
        self._by_mid: dict[int, SfmcAuthenticator] = {}
        if config.account_id is not None:
            self._by_mid[config.account_id] = self._home
        self._lock = threading.Lock()

    # -- routing --------------------------------------------------------------------------------------------
    @property
    def home(self) -> SfmcAuthenticator:
        return self._home

    @property
    def session(self) -> requests.Session:
        return self._session

    def set_home_mid(self, mid: int) -> None:
        """The home unit's MID once known (from /v2/userinfo): that unit is read with the home token."""
        with self._lock:
            self._home_mid = mid
            self._by_mid.setdefault(mid, self._home)

    def for_unit(self, mid: int | None) -> SfmcAuthenticator:
        if mid is None or mid == self._home_mid:
            return self._home
        with self._lock:
            authenticator = self._by_mid.get(mid)
            if authenticator is None:
                authenticator = self._by_mid[mid] = SfmcAuthenticator(
                    self._config, session=self._session, account_id=mid, **self._options
                )
            return authenticator

    @property
    def current(self) -> SfmcAuthenticator:
        return self.for_unit(current_mid.get())

    @property
    def tokens_fetched(self) -> int:
        with self._lock:
            units = {id(a): a for a in (self._home, *self._by_mid.values())}
        return sum(a.tokens_fetched for a in units.values())

    # -- what streams and the HTTP client use (the current unit's) --------------------------------------------
    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return self.current(request)

    def update_from_response(self, request: requests.PreparedRequest, response: requests.Response) -> None:
        self.current.update_from_response(request, response)

    def refresh_and_set_access_token(self) -> None:
        self.current.refresh_and_set_access_token()

    def get_auth_header(self) -> Mapping[str, Any]:
        return self.current.get_auth_header()

    def get_access_token(self) -> str:
        return self.current.get_access_token()

    @property
    def rest_base_url(self) -> str:
        return self.current.rest_base_url

    @property
    def soap_endpoint(self) -> str:
        return self.current.soap_endpoint

    @property
    def granted_scopes(self) -> frozenset[str]:
        return self.current.granted_scopes


# -- which units a sync reads -----------------------------------------------------------------------------------
def resolve_units(context: Any) -> tuple[int, ...]:
    """The MIDs to read (a `SyncContext`'s `units()`, resolved once per sync).

    `business_units` (or `account_id` alone) as configured; with `all_business_units`, every active unit SOAP
    `BusinessUnit` lists from the home unit's token, the top unit (ParentID 0) first; with neither, the home unit,
    whose MID `/v2/userinfo` gives."""
    config = context.config
    # The home unit's MID first: its token then serves that unit too, so each unit gets one token.
    home = home_mid(context)
    if config.all_business_units:
        from source_sfmc.soap.streams import list_business_units  # the SOAP layer builds on this module

        with in_unit(None):
            listed = list_business_units(context)
        units: list[int] = []
        for unit in listed:
            mid = _int_or_none(unit.get("ID"))
            if mid is None:
                continue
            if str(unit.get("IsActive", "1")).strip().lower() in ("0", "false"):
                logger.info(f"Business unit {mid} ({unit.get('Name')}) is inactive: it is not read.")
                continue
            units.append(mid)
        top = [mid for mid, unit in zip(units, listed, strict=False) if _int_or_none(unit.get("ParentID")) == 0]
        ordered = tuple(dict.fromkeys([*top, *sorted(units)]))
        if not ordered:
            ordered = (home,)
        logger.info(f"Reading {len(ordered)} business units: {', '.join(map(str, ordered))}")
        return ordered
    if config.business_units:
        return config.business_units
    return (home,)


def home_mid(context: Any) -> int:
    """The MID of the home unit (`account_id`, else the package's own unit from `/v2/userinfo`)."""

    def learn() -> int:
        tokens: UnitTokens = context.authenticator
        mid = context.config.account_id
        if mid is None:
            mid = member_id(tokens.home, context.config, tokens.session)
        tokens.set_home_mid(mid)
        return mid

    return context.memo("home_mid", learn, per_unit=False)


def member_id(authenticator: SfmcAuthenticator, config: SfmcConfig, session: requests.Session) -> int:
    """`organization.member_id` of `GET /v2/userinfo` (PROTOCOL.md section 7): the MID the token acts in."""
    from airbyte_cdk.models import FailureType
    from airbyte_cdk.utils.traced_exception import AirbyteTracedException

    url = f"{config.auth_base_url}v2/userinfo"
    problem = ""
    for _ in range(3):
        try:
            response = session.get(
                url,
                headers={"Authorization": f"Bearer {authenticator.get_access_token()}"},
                timeout=config.request_timeout_seconds,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            problem = type(error).__name__
            continue
        if response.status_code == 401:
            authenticator.update_from_response(response.request, response)
            problem = "HTTP 401"
            continue
        if response.status_code != 200:
            problem = f"HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code != 429:
                break
            continue
        try:
            organization = response.json().get("organization") or {}
        except (ValueError, AttributeError):
            organization = {}
        mid = _int_or_none(organization.get("member_id") if isinstance(organization, dict) else None)
        if mid is not None:
            return mid
        problem = "no organization.member_id in the answer"
        break
    raise AirbyteTracedException(
        message=(
            f"Could not learn the MID of the installed package's business unit from {url} ({problem}). Set "
            "'account_id' to the MID of the business unit to read."
        ),
        failure_type=FailureType.config_error if problem.startswith("no ") else FailureType.transient_error,
    )


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip() if isinstance(value, str) else ""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None
