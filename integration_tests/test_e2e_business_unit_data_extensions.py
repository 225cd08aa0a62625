"""Data extensions of an enterprise end to end: each unit's own data extensions, one key owned by two units, the
parent's shared ones, and a data extension column named like the unit column.

The sandbox's retail child (7294501) owns `event_log` (the parent has an `event_log` of its own, with other fields
and rows) and `store_visits` (a column `MID`, a merchant id); the parent shares `SURVEY-Q2-2025` with its children.
The home unit is the package's (the parent) unless `account_id` says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from airbyte_cdk.models import AirbyteCatalog, AirbyteStream

from integration_tests import harness
from integration_tests.harness import Sync
from integration_tests.sandbox import Sandbox
from integration_tests.sandbox.soap_accounts import ALL_MIDS, CHILD_MIDS, MAIN_MID

RETAIL = CHILD_MIDS[0]
NOT_ENABLED = 9_999_999  # a MID the installed package is not enabled for
KEY, OWNER = "x-sfmc-data-extension-key", "x-sfmc-data-extension-owner"
Identity = tuple[int, str]  # (owner MID, external key)


def data_extension_streams(catalog: AirbyteCatalog) -> dict[str, AirbyteStream]:
    return {stream.name: stream for stream in catalog.streams if stream.name.startswith("data_extension__")}


def identity(stream: AirbyteStream) -> Identity:
    return (stream.json_schema[OWNER], stream.json_schema[KEY])


def read_every_data_extension(sandbox: Sandbox, config: Mapping[str, Any]) -> tuple[AirbyteCatalog, Sync]:
    catalog = harness.run_discover(config)
    configured = harness.configured_catalog(catalog, data_extension_streams(catalog), incremental=False)
    return catalog, harness.run_read(sandbox, config, configured)


def rows_by_identity(catalog: AirbyteCatalog, sync: Sync) -> dict[Identity, dict[tuple, Mapping[str, Any]]]:
    """Each data extension's rows, by (mid, its primary key's values)."""
    assert not sync.errors, sync.errors[:3]
    found: dict[Identity, dict[tuple, Mapping[str, Any]]] = {}
    for name, stream in data_extension_streams(catalog).items():
        key = [path[0] for path in stream.source_defined_primary_key or []]
        rows = found.setdefault(identity(stream), {})
        rows.update({tuple(record[part] for part in key): record for record in sync.records.get(name, [])})
    return found


@pytest.fixture(scope="module")
def every_unit(sandbox: Sandbox) -> tuple[AirbyteCatalog, Sync]:
    return harness.once(
        sandbox,
        "data extensions of every unit",
        lambda: read_every_data_extension(sandbox, sandbox.config(all_business_units=True)),
    )


@pytest.fixture(scope="module")
def each_unit(sandbox: Sandbox) -> dict[int, tuple[AirbyteCatalog, Sync]]:
    return {
        mid: harness.once(
            sandbox,
            f"data extensions of business unit {mid}",
            lambda mid=mid: read_every_data_extension(sandbox, sandbox.config(account_id=str(mid))),
        )
        for mid in ALL_MIDS
    }


def test_one_key_owned_by_two_units_is_two_streams_each_with_its_own_fields_rows_and_mid(
    every_unit: tuple[AirbyteCatalog, Sync],
) -> None:
    catalog, sync = every_unit
    streams = data_extension_streams(catalog)
    parents, childs = streams["data_extension__event_log"], streams[f"data_extension__{RETAIL}__event_log"]
    assert (identity(parents), identity(childs)) == ((MAIN_MID, "event_log"), (RETAIL, "event_log"))
    assert "EventName" in parents.json_schema["properties"] and "EventName" not in childs.json_schema["properties"]
    assert "EventId" in childs.json_schema["properties"] and "EventId" not in parents.json_schema["properties"]
    parent_rows, child_rows = sync.records[parents.name], sync.records[childs.name]
    assert parent_rows and {r["mid"] for r in parent_rows} == {MAIN_MID} and all("EventName" in r for r in parent_rows)
    assert child_rows and {r["mid"] for r in child_rows} == {RETAIL} and all("EventId" in r for r in child_rows)


def test_reading_every_unit_gives_the_union_of_one_unit_reads_per_data_extension_row_for_row(
    every_unit: tuple[AirbyteCatalog, Sync], each_unit: dict[int, tuple[AirbyteCatalog, Sync]]
) -> None:
    # Stream names differ between these reads (each names its home unit's data extensions plainly); what a name
    # stands for, (owner, key), is in its schema.
    union: dict[Identity, dict[tuple, Mapping[str, Any]]] = {}
    for catalog, sync in each_unit.values():
        for found, rows in rows_by_identity(catalog, sync).items():
            union.setdefault(found, {}).update(rows)

    together = rows_by_identity(*every_unit)

    assert together == union
    assert (RETAIL, "store_visits") in together and (MAIN_MID, "SURVEY-Q2-2025") in together


def test_a_unit_read_alone_names_its_own_data_extensions_plainly_and_others_by_their_owner(
    every_unit: tuple[AirbyteCatalog, Sync], each_unit: dict[int, tuple[AirbyteCatalog, Sync]]
) -> None:
    def names(catalog: AirbyteCatalog) -> dict[Identity, str]:
        return {identity(stream): name for name, stream in data_extension_streams(catalog).items()}

    alone, together = names(each_unit[RETAIL][0]), names(every_unit[0])
    assert alone[(RETAIL, "event_log")] == "data_extension__event_log"
    assert alone[(MAIN_MID, "SURVEY-Q2-2025")] == "data_extension__7281234__survey_q2_2025_fe377fe5"
    assert together[(RETAIL, "event_log")] == f"data_extension__{RETAIL}__event_log"
    assert together[(MAIN_MID, "SURVEY-Q2-2025")] == "data_extension__survey_q2_2025_fe377fe5"
    # The home unit's names are the names a one-unit connection always gave.
    assert {i: n for i, n in together.items() if i[0] == MAIN_MID} == names(each_unit[MAIN_MID][0])


def test_a_childs_own_data_extension_is_read_in_that_child_with_its_mid(
    every_unit: tuple[AirbyteCatalog, Sync],
) -> None:
    rows = every_unit[1].records[f"data_extension__{RETAIL}__store_visits"]
    assert rows and {row["mid"] for row in rows} == {RETAIL}


def test_a_data_extension_column_named_mid_keeps_its_values_and_the_records_mid_is_the_unit(
    every_unit: tuple[AirbyteCatalog, Sync],
) -> None:
    stream = data_extension_streams(every_unit[0])[f"data_extension__{RETAIL}__store_visits"]
    assert "'MID'" in stream.json_schema["properties"]["de_MID"]["description"]
    rows = every_unit[1].records[stream.name]
    assert all(row["mid"] == RETAIL and str(row["de_MID"]).startswith("SKU-") for row in rows)


def test_a_catalog_stream_whose_name_now_stands_for_another_units_data_extension_is_refused(
    sandbox: Sandbox,
) -> None:
    # Discovered with account_id = the child, whose own event_log is `data_extension__event_log`; account_id is
    # then changed to the parent, whose own event_log that name now stands for.
    catalog = harness.run_discover(sandbox.config(account_id=str(RETAIL)))
    configured = harness.configured_catalog(catalog, ["data_extension__event_log"], incremental=False)

    sync = harness.run_read(sandbox, sandbox.config(account_id=str(MAIN_MID)), configured)

    assert not sync.records.get("data_extension__event_log")
    assert any(str(RETAIL) in error and str(MAIN_MID) in error and "Refresh" in error for error in sync.errors)
    assert "config_error" in harness.error_failure_types(sync.output)


SURVEY = f"data_extension__{MAIN_MID}__survey_q2_2025_fe377fe5"  # the parent's shared one, the parent not home


@pytest.mark.parametrize(
    ("before", "after"),
    [((RETAIL, CHILD_MIDS[1]), (CHILD_MIDS[1], RETAIL)), ((RETAIL,), (MAIN_MID, RETAIL))],
    ids=["units reordered", "owner added"],
)
def test_a_shared_data_extension_resumes_from_its_state_whichever_unit_now_reads_it(
    sandbox: Sandbox, before: tuple[int, ...], after: tuple[int, ...]
) -> None:
    # The home unit is the retail child: the parent's shared survey is read in the first unit listing it, then in
    # another one (the order changed, or the parent, its owner, is read too). It is the same data extension, the
    # same stream: the second sync goes on from the first one's cursor instead of reading every row again.
    def config(units: tuple[int, ...]) -> dict[str, Any]:
        return sandbox.config(account_id=str(RETAIL), business_units=[str(mid) for mid in units])

    catalog = harness.run_discover(config(before))
    configured = harness.configured_catalog(catalog, [SURVEY])
    configured.streams[0].cursor_field = ["SubmittedAt"]
    first = harness.run_read(sandbox, config(before), configured)
    assert not first.errors, first.errors[:3]
    second = harness.run_read(sandbox, config(after), configured, first.final_states)

    assert not second.errors, second.errors[:3]
    (state,) = [s for s in first.final_states if s.stream.stream_descriptor.name == SURVEY]
    (saved,) = harness.unit_states(state).values()
    resumed_from = harness.parse_datetime(saved["SubmittedAt"]) - second.lookback
    rows = second.records.get(SURVEY, [])
    assert len(rows) < len(first.records[SURVEY])
    assert all(harness.parse_datetime(row["SubmittedAt"]) >= resumed_from for row in rows)


def test_a_unit_the_package_cannot_access_fails_alone_and_the_other_units_data_extensions_are_read(
    sandbox: Sandbox,
) -> None:
    catalog = harness.run_discover(sandbox.config())
    configured = harness.configured_catalog(catalog, ["data_extension__event_log", "campaigns"], incremental=False)

    sync = harness.run_read(sandbox, sandbox.config(business_units=[str(MAIN_MID), str(NOT_ENABLED)]), configured)

    assert {row["mid"] for row in sync.records.get("data_extension__event_log", [])} == {MAIN_MID}
    assert {row["mid"] for row in sync.records.get("campaigns", [])} == {MAIN_MID}
    assert sync.errors and all(str(NOT_ENABLED) in error for error in sync.errors if "did not sync" not in error)
    assert harness.error_failure_types(sync.output) == {"config_error"}


def test_a_child_read_alone_reads_the_parents_shared_data_extension_with_the_parents_token(sandbox: Sandbox) -> None:
    # SFMC's "Data Extensions" SOAP article: "When you use SOAP API with shared data extensions, authenticate your
    # request against the parent Enterprise account". The child lists it; its rows are read in the parent.
    config = sandbox.config(account_id=str(RETAIL))
    configured = harness.configured_catalog(harness.run_discover(config), [SURVEY], incremental=False)
    before = dict(sandbox.stats()["tokens_by_mid"])

    sync = harness.run_read(sandbox, config, configured)

    assert not sync.errors, sync.errors[:3]
    assert sync.records[SURVEY] and {row["mid"] for row in sync.records[SURVEY]} == {MAIN_MID}
    assert sandbox.stats()["tokens_by_mid"].get(str(MAIN_MID), 0) > before.get(str(MAIN_MID), 0)


def test_a_shared_data_extension_whose_owner_refuses_the_package_fails_alone_saying_it_is_shared(
    start_sandbox: Any,
) -> None:
    child_only = start_sandbox(account_ids=(RETAIL,))  # the package is enabled for the retail child alone
    config = child_only.config(account_id=str(RETAIL))
    catalog = harness.run_discover(config)
    configured = harness.configured_catalog(catalog, [SURVEY, "data_extension__event_log"], incremental=False)

    sync = harness.run_read(child_only, config, configured)

    assert {row["mid"] for row in sync.records["data_extension__event_log"]} == {RETAIL}
    assert not sync.records.get(SURVEY)
    (error,) = [e for e in sync.errors if SURVEY in e and "did not sync" not in e]
    assert f"belongs to business unit {MAIN_MID}, which shares it" in error
    assert harness.error_failure_types(sync.output) == {"config_error"}
