"""`check`, `discover` and `read` judge a config alike: what one accepts the others accept, and a refusal is a
config_error naming the field, never a traceback nor the CDK's schema message."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from airbyte_cdk.models import AirbyteCatalog, FailureType, Status
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integration_tests import harness
from integration_tests.sandbox import Sandbox
from integration_tests.sandbox.soap_accounts import ALL_MIDS, CHILD_MIDS, MAIN_MID
from source_sfmc.config import KNOWN_FIELDS, _mid_value

# A field named in a message: 'window_days', or a list's item 'business_units[2]'.
_NAMED_FIELD = re.compile(r"'([a-z_]+)(?:\[[0-9]+\])?'")


def mid_forms(mid: int) -> st.SearchStrategy[Any]:
    """A MID as a user may write it: a JSON integer (PyAirbyte from Python) or text, padded or not."""
    return st.sampled_from([mid, str(mid), f" {mid} "])


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.lists(st.integers(max_value=0), max_size=2),
)
# A well-formed MID the package is not enabled for is no mistake of form: `check` fails naming it, `read` fails that
# unit's streams and reads the others, `discover` offers what the others have (test_e2e_business_units). Here only
# units the sandbox's package can read, and values that are not MIDs at all.
NOT_A_MID = JUNK.filter(lambda value: _mid_value(value) is None)
A_UNIT = st.one_of(*(mid_forms(mid) for mid in ALL_MIDS))
SETTINGS: dict[str, st.SearchStrategy[Any]] = {
    "business_units": st.one_of(
        st.lists(A_UNIT, max_size=3), st.lists(st.one_of(A_UNIT, NOT_A_MID), max_size=3), NOT_A_MID
    ),
    "account_id": st.one_of(mid_forms(MAIN_MID), mid_forms(CHILD_MIDS[0]), NOT_A_MID),
    "all_business_units": st.one_of(st.booleans(), JUNK),
    "window_days": st.one_of(st.integers(min_value=-2, max_value=100), st.sampled_from(["30", " 7 "]), JUNK),
    "lookback_hours": st.one_of(st.integers(min_value=-1, max_value=800), JUNK),
    "num_workers": st.one_of(st.integers(min_value=0, max_value=12), JUNK),
    "start_date": st.one_of(st.sampled_from(["2025-01-01T00:00:00Z", "2025-01-01", "01/02/2025"]), JUNK),
    "data_extensions": st.one_of(st.lists(st.text(max_size=6), max_size=2), JUNK),
}
CONFIG_CHANGES = st.dictionaries(st.sampled_from(sorted(SETTINGS)), st.none(), max_size=3).flatmap(
    lambda chosen: st.fixed_dictionaries({name: SETTINGS[name] for name in chosen})
)


def field_named(message: str) -> str | None:
    names = [name for name in _NAMED_FIELD.findall(message) if name in KNOWN_FIELDS or name == "config"]
    return names[0] if names else None


def check_outcome(config: Mapping[str, Any]) -> tuple[str, str | None]:
    output = harness.run_check(config)
    (status,) = [message.connectionStatus for message in output.connection_status_messages]
    if status.status == Status.SUCCEEDED:
        return ("accepted", None)
    assert "Config validation error" not in (status.message or "")
    return ("refused", field_named(status.message or ""))


def discover_outcome(config: Mapping[str, Any]) -> tuple[str, str | None]:
    output = harness._run_verb("discover", config)
    if output.errors:
        return refusal(output)
    assert output.catalog.catalog is not None
    return ("accepted", None)


def read_outcome(sandbox: Sandbox, config: Mapping[str, Any], catalog: AirbyteCatalog) -> tuple[str, str | None]:
    sync = harness.run_read(sandbox, config, harness.configured_catalog(catalog, ["campaigns"], incremental=False))
    if not sync.output.errors:
        return ("accepted", None)
    return refusal(sync.output)


def refusal(output: Any) -> tuple[str, str | None]:
    (error, *_) = [message.trace.error for message in output.errors]
    assert error.failure_type == FailureType.config_error, error.message
    assert not (error.stack_trace or "").strip() or "Traceback" not in error.message
    return ("refused", field_named(error.message))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(changes=CONFIG_CHANGES)
def test_check_discover_and_read_all_accept_or_all_refuse_naming_the_same_field(
    changes: dict[str, Any], sandbox: Sandbox, catalog: AirbyteCatalog
) -> None:
    config = sandbox.config(**changes)

    outcomes = {
        "check": check_outcome(config),
        "discover": discover_outcome(config),
        "read": read_outcome(sandbox, config, catalog),
    }

    assert len(set(outcomes.values())) == 1, outcomes
    verdict, field = outcomes["check"]
    assert verdict == "accepted" or field is not None, outcomes


def test_integer_mids_are_read_like_text_mids_by_check_and_read(sandbox: Sandbox, catalog: AirbyteCatalog) -> None:
    # What a PyAirbyte user writes from Python: business_units=[7281234, 7294501].
    config = sandbox.config(business_units=[MAIN_MID, CHILD_MIDS[0]])

    assert check_outcome(config) == ("accepted", None)
    sync = harness.run_read(sandbox, config, harness.configured_catalog(catalog, ["campaigns"], incremental=False))
    assert not sync.errors
    assert {record["mid"] for record in sync.records["campaigns"]} == {MAIN_MID, CHILD_MIDS[0]}
