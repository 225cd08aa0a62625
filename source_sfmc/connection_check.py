"""`check`: a token, then one cheap call to each API family the installed package has scopes for."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_sfmc.auth import TokenError
from source_sfmc.business_units import set_unit
from source_sfmc.data_extensions import data_extension_tables
from source_sfmc.rest import REST_STREAMS
from source_sfmc.soap.streams import soap_streams
from source_sfmc.stream_base import SfmcStream, SyncContext

logger = logging.getLogger("airbyte")


def check_connection(context: SyncContext) -> tuple[bool, Any]:
    """(True, summary) when every API family the package can use answers; a failure raises a config error.

    The summary says per family what a sync will see, e.g. "REST: ok; SOAP: ok; data extensions: 214 found"
    ("REST: no scope granted" for a family the package has no scope for).

    Raising rather than returning (False, message) keeps the message a plain sentence: the CDK would `repr()` it.
    """
    granted = context.authenticator.home.granted_scopes  # fetches the token: bad credentials fail here
    units = context.units()
    _check_unit_tokens(context, units)
    set_unit(units[0])  # the probes read the first unit
    rest_streams: list[SfmcStream] = [stream_class(context) for stream_class in REST_STREAMS]
    soap = soap_streams(context)
    probes = [_first_granted(rest_streams, granted), _first_granted(soap, granted)]
    probes = [probe for probe in probes if probe is not None]
    if granted and not probes:
        needed = sorted({scope for stream in rest_streams + soap for scope in stream.scopes})
        message = (
            "The installed package's API integration has none of the scopes this connector reads with. "
            f"Grant at least one of: {', '.join(needed)}."
        )
        raise AirbyteTracedException(message=message, failure_type=FailureType.config_error)
    if not granted:  # a token answer without a scope list: probe the most common stream of each family
        probes = [rest_streams[0], soap[0]]
    for stream in probes:
        stream.probe()
    found = [_family_outcome(family, streams, probes) for family, streams in (("REST", rest_streams), ("SOAP", soap))]
    found.append(_data_extensions_found(context, soap, granted))
    missing = sorted(
        {stream.stream_name for stream in rest_streams + soap if granted and not set(stream.scopes) <= granted}
    )
    if missing:
        logger.warning(
            "These streams need scopes the installed package does not have and will fail if selected: "
            + ", ".join(missing)
        )
    return True, "; ".join(found)


def _check_unit_tokens(context: SyncContext, units: tuple[int, ...]) -> None:
    """A token for each business unit to read, all asked for at once; raises one error naming every unit that failed
    and how (and the units that were fine).

    A refusal (HTTP 4xx) is the user's to fix, so any refusal makes it a config error; the units whose token
    request met a server fault or a timeout are named in it with that fault, in words. Without a refusal, the error
    has the faults' own type (e.g. transient_error): nothing in the config is wrong.

    Concurrent so that a check of many units takes as long as its slowest token request, not their sum; a refusal
    is never retried (auth.py), so a refused unit costs one request."""

    def token(mid: int) -> TokenError | None:
        try:
            context.authenticator.for_unit(mid).get_access_token()
        except TokenError as error:
            return error
        return None

    with ThreadPoolExecutor(max_workers=max(1, min(len(units), context.config.num_workers))) as pool:
        outcomes = dict(zip(units, pool.map(token, units), strict=True))
    failures = {mid: error for mid, error in outcomes.items() if error is not None}
    if not failures:
        return
    refused = [mid for mid, error in failures.items() if error.failure_type == FailureType.config_error]
    faults = {mid: error for mid, error in failures.items() if mid not in refused}
    fine = _fine_units([mid for mid in units if mid not in failures])
    if not refused:
        first = next(iter(faults.values()))
        raise AirbyteTracedException(
            message=_unchecked_units(faults).lstrip() + fine,
            internal_message=first.internal_message,
            failure_type=first.failure_type,
        )
    if len(refused) == 1 and not faults:
        (mid,) = refused
        raise AirbyteTracedException(
            message=(failures[mid].message or "") + fine,
            internal_message=failures[mid].internal_message,
            failure_type=FailureType.config_error,
        )
    field = "all_business_units" if context.config.all_business_units else "business_units"
    remedy = "" if context.config.all_business_units else ", or remove them from 'business_units'"
    units_text = f"{len(refused)} business units" if len(refused) > 1 else "business unit"
    raise AirbyteTracedException(
        message=(
            f"Marketing Cloud refused a token for {units_text} of '{field}': "
            f"{', '.join(map(str, refused))}. Enable the installed package for each of them (the package's Access "
            f"tab in Setup){remedy}." + _unchecked_units(faults) + fine
        ),
        failure_type=FailureType.config_error,
    )


def _unchecked_units(faults: dict[int, TokenError]) -> str:
    """ " Business unit 7294502 could not be checked: <why>." for each unit whose token request met a fault."""
    return "".join(
        f" Business unit {mid} could not be checked: {(error.message or 'no answer').rstrip('.')}."
        for mid, error in faults.items()
    )


def _fine_units(fine: list[int]) -> str:
    if not fine:
        return ""
    return f" The package can read business unit{'s' if len(fine) > 1 else ''} {', '.join(map(str, fine))}."


def _family_outcome(family: str, streams: list[SfmcStream], probed: list[SfmcStream]) -> str:
    return f"{family}: ok" if any(stream in probed for stream in streams) else f"{family}: no scope granted"


def _data_extensions_found(context: SyncContext, soap: list[SfmcStream], granted: frozenset[str]) -> str:
    """How many data extensions discover will offer a stream for: the same paged calls, memoized for the sync."""
    lister = next(stream for stream in soap if stream.stream_name == "data_extensions")
    if granted and not set(lister.scopes) <= granted:
        return "data extensions: no scope granted"
    tables = data_extension_tables(context)
    offered = [table for table in tables if table.fields]  # discover offers no stream for a field-less one
    unreadable = (
        f" ({len(tables) - len(offered)} more without fields, not offered)" if len(offered) < len(tables) else ""
    )
    return f"data extensions: {len(offered)} found{unreadable}"


def _first_granted(streams: list[SfmcStream], granted: frozenset[str]) -> SfmcStream | None:
    return next((stream for stream in streams if set(stream.scopes) <= granted), None)
