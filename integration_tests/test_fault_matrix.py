"""Every fault the sandbox injects, alone and all together, leaves the synced records exactly as a clean sync's.

CI runs a reduced scale with small SOAP pages (so that RequestIDs are continued, and can expire, at that scale);
`--slow` runs full scale. A fault that outlasts the retry budget fails the sync naming stream, window and cause.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from airbyte_cdk.models import ConfiguredAirbyteCatalog, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder, ConfiguredAirbyteStreamBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, ExpectedOutcome, read

from integration_tests import harness
from integration_tests.sandbox import Sandbox
from integration_tests.sandbox import faults as sandbox_faults
from integration_tests.sandbox.faults import KINDS, Fault
from integration_tests.sandbox.soap_accounts import ALL_MIDS
from source_sfmc import errors
from source_sfmc.soap import streams as soap_streams
from source_sfmc.source import SourceSfmc

# A REST list with per-parent children, a windowed SOAP event stream, and a paged full-refresh SOAP object.
STREAMS = ("campaigns", "campaign_assets", "sent_events", "subscribers")
INCREMENTAL = {"sent_events"}
FAULT_RATE = 0.1


@dataclass(frozen=True)
class Scale:
    sandbox_scale: float
    window_days: int
    soap_page_size: int
    seeds: tuple[int, ...]


CI_SCALE = Scale(sandbox_scale=0.1, window_days=90, soap_page_size=50, seeds=(1, 2))
FULL_SCALE = Scale(sandbox_scale=1.0, window_days=30, soap_page_size=500, seeds=(1, 2, 3))


def every_kind_together(total_rate: float) -> str:
    return ",".join(f"{kind}:{total_rate / len(KINDS):.4f}" for kind in KINDS)


FAULT_SPECS = {**{kind: f"{kind}:{FAULT_RATE}" for kind in KINDS}, "all_together": every_kind_together(FAULT_RATE)}


def catalog_of(stream_names: tuple[str, ...]) -> ConfiguredAirbyteCatalog:
    builder = CatalogBuilder()
    for name in stream_names:
        mode = SyncMode.incremental if name in INCREMENTAL else SyncMode.full_refresh
        builder.with_stream(ConfiguredAirbyteStreamBuilder().with_name(name).with_sync_mode(mode))
    return builder.build()


def connector_config(sandbox: Sandbox, scale: Scale, **overrides: Any) -> dict[str, Any]:
    # A one-second timeout makes a `slow` fault (a stalled answer) cost a second, not three minutes.
    return sandbox.config(**{"window_days": scale.window_days, "request_timeout_seconds": 1, **overrides})


def sync(
    sandbox: Sandbox,
    scale: Scale,
    streams: tuple[str, ...] = STREAMS,
    *,
    expect_failure: bool = False,
    **overrides: Any,
) -> EntrypointOutput:
    outcome = ExpectedOutcome.EXPECT_EXCEPTION if expect_failure else ExpectedOutcome.EXPECT_SUCCESS
    return read(
        SourceSfmc(), connector_config(sandbox, scale, **overrides), catalog_of(streams), expected_outcome=outcome
    )


def record_keys(output: EntrypointOutput) -> set[tuple[str, int, str]]:
    return {
        (message.record.stream, message.record.data["mid"], message.record.data["entity_id"])
        for message in output.records
    }


def error_messages(output: EntrypointOutput) -> list[str]:
    return [message.trace.error.message for message in output.errors]


@pytest.fixture(scope="module")
def scale(request: pytest.FixtureRequest) -> Scale:
    return FULL_SCALE if request.config.getoption("--slow", default=False) else CI_SCALE


@pytest.fixture(autouse=True)
def small_soap_pages(monkeypatch: pytest.MonkeyPatch, scale: Scale) -> None:
    """Small pages give even a reduced sandbox multi-page retrieves, whose RequestIDs can expire."""
    options = functools.partial(soap_streams.RetrieveOptions, batch_size=scale.soap_page_size)
    monkeypatch.setattr(soap_streams, "RetrieveOptions", options)


@pytest.fixture(scope="module")
def clean_sync_keys() -> Iterator[Callable[[Sandbox, Scale], set[tuple[str, int, str]]]]:
    """The records of a fault-free sync of the same sandbox data (seed and scale), computed once per seed."""
    cache: dict[tuple[int, float], set[tuple[str, int, str]]] = {}

    def keys(faulted: Sandbox, scale: Scale) -> set[tuple[str, int, str]]:
        options = faulted.options
        key = (options.seed, options.scale)
        if key not in cache:
            from integration_tests.sandbox import start_sandbox

            with start_sandbox(port=0, seed=options.seed, scale=options.scale) as clean:
                output = sync(clean, scale)
                assert not output.errors, error_messages(output)
                cache[key] = record_keys(output)
        return cache[key]

    yield keys


@pytest.mark.parametrize("seed_index", range(len(CI_SCALE.seeds)))
@pytest.mark.parametrize("fault_spec", FAULT_SPECS.values(), ids=FAULT_SPECS.keys())
def test_a_sync_under_faults_yields_exactly_the_records_of_a_clean_sync(
    start_sandbox: Callable[..., Sandbox], clean_sync_keys: Any, scale: Scale, fault_spec: str, seed_index: int
) -> None:
    seed = scale.seeds[seed_index]
    sandbox = start_sandbox(seed=seed, scale=scale.sandbox_scale, faults=fault_spec, slow_seconds=2)

    output = sync(sandbox, scale)

    assert not output.errors, error_messages(output)
    assert sum(sandbox.stats()["faults_injected"].values()) > 0, "no fault was injected: the case tests nothing"
    assert record_keys(output) == clean_sync_keys(sandbox, scale)


def test_a_sync_of_every_business_unit_under_every_fault_yields_exactly_the_records_of_a_clean_sync(
    start_sandbox: Callable[..., Sandbox], scale: Scale
) -> None:
    from integration_tests.sandbox import start_sandbox as start_clean_sandbox

    seed = scale.seeds[0]
    with start_clean_sandbox(port=0, seed=seed, scale=scale.sandbox_scale) as clean:
        expected = sync(clean, scale, all_business_units=True)
    assert not expected.errors, error_messages(expected)
    sandbox = start_sandbox(seed=seed, scale=scale.sandbox_scale, faults=FAULT_SPECS["all_together"], slow_seconds=2)

    output = sync(sandbox, scale, all_business_units=True)

    assert not output.errors, error_messages(output)
    assert sum(sandbox.stats()["faults_injected"].values()) > 0, "no fault was injected: the case tests nothing"
    assert {mid for _, mid, _ in record_keys(output)} == set(ALL_MIDS)
    assert record_keys(output) == record_keys(expected)


@pytest.mark.slow
@pytest.mark.parametrize("seed", FULL_SCALE.seeds[len(CI_SCALE.seeds) :])
@pytest.mark.parametrize("fault_spec", FAULT_SPECS.values(), ids=FAULT_SPECS.keys())
def test_more_seeds_at_full_scale(
    start_sandbox: Callable[..., Sandbox], clean_sync_keys: Any, scale: Scale, fault_spec: str, seed: int
) -> None:
    sandbox = start_sandbox(seed=seed, scale=scale.sandbox_scale, faults=fault_spec, slow_seconds=2)
    output = sync(sandbox, scale)
    assert not output.errors, error_messages(output)
    assert record_keys(output) == clean_sync_keys(sandbox, scale)


@pytest.mark.slow
def test_every_kind_at_ten_percent_each_still_yields_every_record(
    start_sandbox: Callable[..., Sandbox], clean_sync_keys: Any, scale: Scale
) -> None:
    sandbox = start_sandbox(seed=scale.seeds[0], scale=scale.sandbox_scale, faults="all:0.1", slow_seconds=2)
    output = sync(sandbox, scale)
    assert not output.errors, error_messages(output)
    assert record_keys(output) == clean_sync_keys(sandbox, scale)


# --- a fault that outlasts the retry budget ---------------------------------------------------------------

# The third 30-day window from the sandbox's start date, in the middle of its events.
FAILING_WINDOW = ("2025-03-02T00:00:00.000Z", "2025-04-01T00:00:00.000Z")
FAILING_WINDOW_START = f"greaterThanOrEqual</SimpleOperator><DateValue>{FAILING_WINDOW[0]}".encode()


def truncate_every_answer_about(window_start: bytes, injector: Any) -> None:
    """Make the sandbox cut short every SOAP answer for one window, however often it is asked."""
    decide = injector.decide

    def decide_persistently(channel: Any, identity: bytes) -> Fault | None:
        if window_start in identity:
            return Fault("truncated", 40)
        return decide(channel, identity)

    injector.decide = decide_persistently


@pytest.fixture
def one_window_always_truncated(start_sandbox: Callable[..., Sandbox], monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    monkeypatch.setattr(errors, "MAX_RETRIES", 1)  # the documented budget is 5; one retry keeps the test fast
    monkeypatch.setattr(sandbox_faults, "MAX_CONSECUTIVE_FAULTS", 10**6)
    sandbox = start_sandbox(seed=1, scale=0.1)
    truncate_every_answer_about(FAILING_WINDOW_START, sandbox.injector)
    return sandbox


def test_an_answer_that_stays_malformed_fails_the_sync_naming_stream_window_and_cause(
    one_window_always_truncated: Sandbox,
) -> None:
    output = sync(
        one_window_always_truncated, CI_SCALE, ("sent_events",), window_days=30, num_workers=1, expect_failure=True
    )

    failure = next(message for message in error_messages(output) if "window" in message)
    assert "Stream 'sent_events'" in failure
    assert f"window {FAILING_WINDOW[0]} to {FAILING_WINDOW[1]}" in failure
    assert "still failing after every retry: the SOAP answer was not a complete envelope" in failure


def test_an_answer_that_stays_malformed_yields_no_record_of_its_window(one_window_always_truncated: Sandbox) -> None:
    output = sync(
        one_window_always_truncated, CI_SCALE, ("sent_events",), window_days=30, num_workers=1, expect_failure=True
    )

    dates = [message.record.data["EventDate"] for message in output.records]
    assert dates and not any(FAILING_WINDOW[0][:10] <= date[:10] < FAILING_WINDOW[1][:10] for date in dates)


def test_the_state_of_every_window_before_a_failing_one_is_emitted(one_window_always_truncated: Sandbox) -> None:
    output = sync(
        one_window_always_truncated, CI_SCALE, ("sent_events",), window_days=30, num_workers=1, expect_failure=True
    )

    before_failing_window = [
        message.record.data["EventDate"]
        for message in output.records
        if message.record.data["EventDate"][:10] < FAILING_WINDOW[0][:10]
    ]
    state = output.most_recent_state
    assert state is not None and state.stream_descriptor.name == "sent_events"
    cursor = harness.only_unit(state.stream_state)["EventDate"]
    assert before_failing_window and max(before_failing_window)[:19] <= cursor[:19] < FAILING_WINDOW[0][:19]
