"""Incremental reads against the sandbox, over real HTTP: event counts match the sandbox's own, a read from the
emitted state re-reads only the lookback, and a read stopped after some windows resumes without losing records."""

from __future__ import annotations

from datetime import timedelta

import pytest
from airbyte_cdk.models import AirbyteCatalog, AirbyteStateMessage

from integration_tests import harness
from integration_tests.harness import Sync
from integration_tests.sandbox import Sandbox
from integration_tests.sandbox.soap_data import SoapData, build_soap_data

# A resumed read starts from the first state that is past this many windows of the first read.
RESUME_AFTER_WINDOWS = 2


@pytest.fixture(scope="module")
def soap_data(sandbox: Sandbox) -> SoapData:
    return build_soap_data(seed=sandbox.options.seed, scale=sandbox.options.scale)


@pytest.fixture(scope="module")
def events_again(sandbox: Sandbox, everything: Sync) -> Sync:
    """The event streams read again from the state the full read ended with."""
    return read_again(sandbox, everything, harness.EVENT_STREAM_NAMES, everything.final_states)


@pytest.fixture(scope="module")
def entities_again(sandbox: Sandbox, early_entities: Sync) -> Sync:
    return read_again(sandbox, early_entities, harness.ENTITY_CURSOR_STREAMS, early_entities.final_states)


@pytest.fixture(scope="module")
def resume_points(everything: Sync) -> dict[str, AirbyteStateMessage]:
    """Per event stream, the state the full read had emitted once it was past a few windows."""
    start = harness.parse_datetime(everything.config["start_date"])
    past = start + RESUME_AFTER_WINDOWS * timedelta(days=harness.DEFAULT_WINDOW_DAYS)
    return {
        stream: next(
            state for state in everything.states(stream) if harness.cursor_of_state(state, "EventDate") >= past
        )
        for stream in harness.EVENT_STREAM_NAMES
    }


@pytest.fixture(scope="module")
def resumed(sandbox: Sandbox, everything: Sync, resume_points: dict[str, AirbyteStateMessage]) -> Sync:
    """The event streams read as if the full read had stopped right after each resume point's state."""
    return read_again(sandbox, everything, harness.EVENT_STREAM_NAMES, list(resume_points.values()))


def read_again(sandbox: Sandbox, first: Sync, streams: tuple[str, ...], state: list[AirbyteStateMessage]) -> Sync:
    catalog = harness.configured_catalog(harness.discovered(sandbox), streams)
    return harness.run_read(sandbox, first.config, catalog, state)


def state_of(sync: Sync, stream: str) -> AirbyteStateMessage:
    (state,) = [state for state in sync.final_states if state.stream.stream_descriptor.name == stream]
    return state


# -- tracking events -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("stream", harness.EVENT_STREAM_NAMES)
def test_a_full_event_read_emits_every_event_the_sandbox_has_since_start_date(
    stream: str, everything: Sync, soap_data: SoapData
) -> None:
    start = harness.parse_datetime(everything.config["start_date"])
    object_type = harness.SOAP_OBJECT_TYPES[stream]

    expected = soap_data.events_between(object_type, start, everything.started)

    assert len(everything.records[stream]) == expected


@pytest.mark.parametrize("stream", harness.EVENT_STREAM_NAMES)
def test_an_event_read_from_the_emitted_state_rereads_only_the_lookback(
    stream: str, catalog: AirbyteCatalog, everything: Sync, events_again: Sync
) -> None:
    assert_rereads_only_the_lookback(catalog, stream, everything, events_again)


@pytest.mark.parametrize("stream", harness.EVENT_STREAM_NAMES)
def test_an_event_read_resumed_after_some_windows_emits_every_remaining_record(
    stream: str, everything: Sync, resume_points: dict[str, AirbyteStateMessage], resumed: Sync
) -> None:
    messages = everything.output.records_and_state_messages
    delivered = harness.records_before_state(messages, stream, resume_points[stream])
    full = harness.entity_ids(everything.records[stream])
    again = harness.entity_ids(resumed.records.get(stream, []))

    assert not resumed.errors, resumed.errors[:3]
    assert harness.entity_ids(delivered) | again == full
    assert again <= full
    assert len(again) < len(full), "the resumed read started over instead of from the state"


# -- dated entities ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stream", harness.ENTITY_CURSOR_STREAMS)
def test_an_entity_read_from_the_emitted_state_emits_only_newer_records(
    stream: str, catalog: AirbyteCatalog, early_entities: Sync, entities_again: Sync
) -> None:
    assert_rereads_only_the_lookback(catalog, stream, early_entities, entities_again)


def assert_rereads_only_the_lookback(catalog: AirbyteCatalog, stream: str, first: Sync, second: Sync) -> None:
    cursor = harness.cursor_field(catalog, stream)
    floor = harness.cursor_of_state(state_of(first, stream), cursor) - first.lookback
    full = first.records.get(stream, [])
    newer = harness.at_or_after(full, cursor, floor)

    assert full, f"the first read of {stream} emitted nothing to compare with: {first.errors[:1]}"
    assert not second.errors, second.errors[:3]
    assert harness.entity_ids(second.records.get(stream, [])) == harness.entity_ids(newer)
    assert len(newer) < len(full), "the state did not move past the first records"
