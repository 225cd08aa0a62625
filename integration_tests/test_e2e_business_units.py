"""Enterprise accounts end to end: every business unit in one connection, each record marked with its MID.

The sandbox is an enterprise: a parent (7281234, the installed package's unit) and two children, each with data of
its own in REST and SOAP, reached with a token for that unit (`account_id`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from airbyte_cdk.models import AirbyteCatalog, ConfiguredAirbyteCatalogSerializer, Status

from integration_tests import harness
from integration_tests.harness import Sync
from integration_tests.sandbox import Sandbox
from integration_tests.sandbox.soap_accounts import ALL_MIDS, CHILD_MIDS, MAIN_MID

STREAMS = (*harness.ALL_STREAM_NAMES, "business_units")
NOT_ENABLED = 9_999_999  # a MID the installed package is not enabled for
ALSO_NOT_ENABLED = 9_999_998


def by_key(records: Iterable[Mapping[str, Any]]) -> dict[tuple[int, str], Mapping[str, Any]]:
    return {(record["mid"], record["entity_id"]): record for record in records}


def tokens_by_mid(sandbox: Sandbox, run: Any) -> tuple[Any, dict[str, int]]:
    before = dict(sandbox.stats()["tokens_by_mid"])
    result = run()
    after = sandbox.stats()["tokens_by_mid"]
    return result, {mid: n - before.get(mid, 0) for mid, n in after.items() if n - before.get(mid, 0)}


@pytest.fixture(scope="module")
def all_units(sandbox: Sandbox, catalog: AirbyteCatalog) -> tuple[Sync, dict[str, int]]:
    configured = harness.configured_catalog(catalog, STREAMS)
    return harness.once(
        sandbox,
        "all business units",
        lambda: tokens_by_mid(
            sandbox, lambda: harness.run_read(sandbox, sandbox.config(all_business_units=True), configured)
        ),
    )


@pytest.fixture(scope="module")
def one_unit_reads(sandbox: Sandbox, catalog: AirbyteCatalog) -> dict[int, Sync]:
    configured = harness.configured_catalog(catalog, STREAMS)
    return {
        mid: harness.once(
            sandbox,
            f"business unit {mid}",
            lambda mid=mid: harness.run_read(sandbox, sandbox.config(account_id=str(mid)), configured),
        )
        for mid in ALL_MIDS
    }


@pytest.mark.parametrize("stream", STREAMS)
def test_reading_every_unit_gives_the_union_of_one_unit_reads_record_for_record(
    stream: str, all_units: tuple[Sync, dict[str, int]], one_unit_reads: dict[int, Sync]
) -> None:
    together, _ = all_units
    assert not together.errors, together.errors[:3]
    union: dict[tuple[int, str], Mapping[str, Any]] = {}
    for sync in one_unit_reads.values():
        assert not sync.errors, sync.errors[:3]
        union.update(by_key(sync.records.get(stream, [])))

    assert by_key(together.records.get(stream, [])) == union


@pytest.mark.parametrize("stream", STREAMS)
def test_every_record_carries_the_integer_mid_of_a_unit_read(
    stream: str, all_units: tuple[Sync, dict[str, int]]
) -> None:
    records = all_units[0].records.get(stream, [])
    assert {type(record.get("mid")) for record in records} <= {int}
    assert {record["mid"] for record in records} <= set(ALL_MIDS)


def test_each_unit_has_records_of_its_own_with_the_same_ids_as_others(all_units: tuple[Sync, dict[str, int]]) -> None:
    records = all_units[0].records
    for stream in ("campaigns", "journeys", "subscribers", "sends", "sent_events", "open_events"):
        assert {record["mid"] for record in records[stream]} == set(ALL_MIDS), stream
    campaign_ids = {mid: {r["entity_id"] for r in records["campaigns"] if r["mid"] == mid} for mid in ALL_MIDS}
    assert campaign_ids[MAIN_MID] & campaign_ids[CHILD_MIDS[0]], (
        "ids repeat across units; (mid, entity_id) tells them apart"
    )


SHARED_DATA_EXTENSION = "SURVEY-Q2-2025"  # in the parent's Shared Data Extensions folder


def test_a_shared_data_extension_is_listed_once_with_the_parents_mid(
    all_units: tuple[Sync, dict[str, int]], one_unit_reads: dict[int, Sync]
) -> None:
    def shared(sync: Sync) -> list[int]:
        return [r["mid"] for r in sync.records["data_extensions"] if r["CustomerKey"] == SHARED_DATA_EXTENSION]

    assert shared(all_units[0]) == [MAIN_MID]
    assert shared(one_unit_reads[CHILD_MIDS[0]]) == [MAIN_MID]  # a child sees it; it stays the parent's


def test_a_childs_read_of_a_shared_data_extension_gives_the_parents_rows_with_the_parents_mid(
    sandbox: Sandbox,
) -> None:
    # Rows have no Client of their own: they are the owner's (the data extension's Client.ID), so reading the
    # shared data extension from a child keys its rows as the parent's read does, not as a copy per child. Each
    # read names it against its own home unit (the child's read qualifies it with the parent's MID).
    def rows(mid: int) -> dict[tuple[int, int], Mapping[str, Any]]:
        config = sandbox.config(account_id=str(mid))
        catalog = harness.run_discover(config)
        (stream,) = [
            s.name for s in catalog.streams if s.json_schema.get("x-sfmc-data-extension-key") == SHARED_DATA_EXTENSION
        ]
        configured = harness.configured_catalog(catalog, [stream], incremental=False)
        sync = harness.run_read(sandbox, config, configured)
        assert not sync.errors, sync.errors[:3]
        return {(r["mid"], r["_CustomObjectKey"]): r for r in sync.records[stream]}

    parents = rows(MAIN_MID)
    assert parents and {mid for mid, _ in parents} == {MAIN_MID}
    assert rows(CHILD_MIDS[0]) == parents


def test_the_catalog_does_not_depend_on_the_order_of_business_units(sandbox: Sandbox) -> None:
    # Each unit's data extensions are listed with its own token: a child listed first must not hide the parent's.
    def streams(mids: list[int]) -> dict[str, Any]:
        config = sandbox.config(business_units=[str(mid) for mid in mids])
        return {stream.name: stream.json_schema for stream in harness.run_discover(config).streams}

    parent_first = streams([MAIN_MID, CHILD_MIDS[0]])
    assert len([name for name in parent_first if name.startswith("data_extension__")]) > 1
    assert streams([CHILD_MIDS[0], MAIN_MID]) == parent_first


def test_one_token_per_unit(all_units: tuple[Sync, dict[str, int]]) -> None:
    assert all_units[1] == {str(mid): 1 for mid in ALL_MIDS}


def test_the_business_units_stream_lists_every_unit_once_with_its_own_mid(
    all_units: tuple[Sync, dict[str, int]],
) -> None:
    units = all_units[0].records["business_units"]
    assert sorted(record["mid"] for record in units) == sorted(ALL_MIDS)
    assert all(record["mid"] == record["ID"] for record in units)
    assert {record["ParentID"] for record in units if record["mid"] == MAIN_MID} == {0}


def test_a_unit_added_later_starts_from_start_date_and_the_others_keep_their_cursor(
    sandbox: Sandbox, catalog: AirbyteCatalog
) -> None:
    configured = harness.configured_catalog(catalog, ["subscriber_lists"])
    config = sandbox.config(start_date="2020-01-01T00:00:00Z", window_days=90)
    first = harness.run_read(sandbox, {**config, "account_id": str(MAIN_MID)}, configured)
    (state,) = first.final_states
    assert set(harness.unit_states(state)) == {MAIN_MID}

    second = harness.run_read(sandbox, {**config, "all_business_units": True}, configured, [state])

    assert not second.errors, second.errors[:3]
    read_again = [r for r in second.records["subscriber_lists"] if r["mid"] == MAIN_MID]
    children = [r for r in second.records["subscriber_lists"] if r["mid"] != MAIN_MID]
    assert len(read_again) < len(first.records["subscriber_lists"])
    assert children and {r["mid"] for r in children} == set(CHILD_MIDS)
    (final,) = second.final_states
    assert set(harness.unit_states(final)) == set(ALL_MIDS)
    assert harness.cursor_of_state(final, "ModifiedDate", MAIN_MID) >= harness.cursor_of_state(state, "ModifiedDate")


def test_junk_under_business_units_in_the_input_state_is_dropped_and_the_rest_resumes(
    sandbox: Sandbox, catalog: AirbyteCatalog
) -> None:
    from airbyte_cdk.test.state_builder import StateBuilder

    configured = harness.configured_catalog(catalog, ["subscriber_lists"])
    config = sandbox.config(start_date="2020-01-01T00:00:00Z", window_days=90, account_id=str(MAIN_MID))
    first = harness.run_read(sandbox, config, configured)
    saved = harness.unit_states(first.final_states[0])[MAIN_MID]
    junk = {str(MAIN_MID): saved, "7777777": saved, "not-a-mid": saved, str(CHILD_MIDS[0]): "2020-01-01"}
    state = StateBuilder().with_stream_state("subscriber_lists", {"business_units": junk}).build()

    second = harness.run_read(sandbox, config, configured, state)

    assert not second.errors, second.errors[:3]
    assert len(second.records["subscriber_lists"]) < len(first.records["subscriber_lists"])  # it resumed
    final = harness.unit_states(second.final_states[0])
    assert set(final) == {MAIN_MID, 7777777} and final[7777777] == saved
    logs = [m.log.message for m in second.output.logs if m.log]
    assert any("'subscriber_lists'" in line and "'not-a-mid'" in line for line in logs)
    assert any("'subscriber_lists'" in line and f"business unit {CHILD_MIDS[0]}" in line for line in logs)
    assert any("'subscriber_lists'" in line and "(7777777)" in line and "kept" in line for line in logs)


def test_a_state_saved_before_business_units_is_the_home_units(sandbox: Sandbox, catalog: AirbyteCatalog) -> None:
    configured = harness.configured_catalog(catalog, ["subscriber_lists"])
    config = sandbox.config(start_date="2020-01-01T00:00:00Z", window_days=90)
    first = harness.run_read(sandbox, config, configured)
    (state,) = first.final_states
    legacy = harness.unit_states(state)[MAIN_MID]
    from airbyte_cdk.test.state_builder import StateBuilder

    second = harness.run_read(
        sandbox, config, configured, StateBuilder().with_stream_state("subscriber_lists", legacy).build()
    )

    assert not second.errors, second.errors[:3]
    assert len(second.records["subscriber_lists"]) < len(first.records["subscriber_lists"])


def test_a_unit_the_package_cannot_access_fails_its_streams_naming_it_and_the_others_are_read(
    sandbox: Sandbox, catalog: AirbyteCatalog
) -> None:
    configured = harness.configured_catalog(catalog, ["campaigns", "subscriber_lists"])
    config = sandbox.config(business_units=[str(MAIN_MID), str(NOT_ENABLED)])

    sync = harness.run_read(sandbox, config, configured)

    assert sync.errors and all(str(NOT_ENABLED) in error for error in sync.errors if "did not sync" not in error)
    assert "config_error" in harness.error_failure_types(sync.output)
    for stream in ("campaigns", "subscriber_lists"):
        assert {record["mid"] for record in sync.records[stream]} == {MAIN_MID}


def test_check_fails_naming_a_unit_the_package_cannot_access(sandbox: Sandbox) -> None:
    output = harness.run_check(sandbox.config(business_units=[str(MAIN_MID), str(NOT_ENABLED)]))
    (status,) = [message.connectionStatus for message in output.connection_status_messages]
    assert status.status == Status.FAILED
    assert str(NOT_ENABLED) in (status.message or "")


def test_check_names_every_unit_the_package_cannot_access_and_the_units_it_can(sandbox: Sandbox) -> None:
    config = sandbox.config(business_units=[str(NOT_ENABLED), str(MAIN_MID), str(ALSO_NOT_ENABLED)])
    started = time.monotonic()

    output = harness.run_check(config)

    (status,) = [message.connectionStatus for message in output.connection_status_messages]
    assert status.status == Status.FAILED
    message = status.message or ""
    assert f"{NOT_ENABLED}, {ALSO_NOT_ENABLED}" in message and "'business_units'" in message
    assert f"can read business unit {MAIN_MID}" in message
    assert time.monotonic() - started < 10  # a refusal is not retried, nor waited out unit after unit


def test_a_read_names_the_refused_unit_and_the_field_in_its_stream_errors(
    sandbox: Sandbox, catalog: AirbyteCatalog
) -> None:
    configured = harness.configured_catalog(catalog, ["campaigns"])
    sync = harness.run_read(sandbox, sandbox.config(business_units=[str(MAIN_MID), str(NOT_ENABLED)]), configured)

    stream_errors = [m.trace.error for m in sync.output.errors if m.trace.error.stream_descriptor]
    assert stream_errors
    for error in stream_errors:
        assert f"business unit {NOT_ENABLED}" in error.message and "'business_units'" in error.message
        assert error.failure_type.value == "config_error"


def test_a_read_with_a_refused_unit_ends_with_one_line_per_reason_naming_each_failed_stream_once(
    sandbox: Sandbox, catalog: AirbyteCatalog
) -> None:
    streams = ["campaigns", "subscriber_lists", "sent_events"]
    configured = harness.configured_catalog(catalog, streams)
    config = sandbox.config(business_units=[str(MAIN_MID), str(NOT_ENABLED)])

    exit_code, messages, _ = harness.run_console(
        "read",
        "--config",
        "{config}",
        "--catalog",
        "{catalog}",
        files={"config": config, "catalog": ConfiguredAirbyteCatalogSerializer.dump(configured)},
    )

    errors = [m["trace"]["error"] for m in messages if m["type"] == "TRACE" and m["trace"].get("type") == "ERROR"]
    final = errors[-1]
    assert exit_code == 1 and final.get("stream_descriptor") is None
    message = final["message"]
    assert message.startswith("During the sync, 3 streams did not sync successfully")
    for stream in streams:
        assert message.count(f"{stream}") == 1, message
    assert message.count(f"business unit {NOT_ENABLED}") == 1 and "'business_units'" in message
    assert "Error(" not in message and "Traceback" not in message and len(message) < 600
    assert final["failure_type"] == "config_error"


def test_check_passes_with_every_unit(sandbox: Sandbox) -> None:
    output = harness.run_check(sandbox.config(all_business_units=True))
    (status,) = [message.connectionStatus for message in output.connection_status_messages]
    assert status.status == Status.SUCCEEDED, status.message
