"""link_sends against the sandbox, over real HTTP: one record per (send, link), read per batch of send ids, and an
incremental sync that reads the links of recent sends again."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from integration_tests import harness
from integration_tests.harness import Sync
from integration_tests.sandbox import Sandbox
from integration_tests.sandbox.soap_data import MAIN_MID, SoapData, build_soap_data
from source_sfmc.soap.streams import LINK_SENDS_PER_RETRIEVE

STREAM = "link_sends"


@pytest.fixture(scope="module")
def soap_data(sandbox: Sandbox) -> SoapData:
    return build_soap_data(seed=sandbox.options.seed, scale=sandbox.options.scale)


@pytest.fixture(scope="module")
def full_refresh(sandbox: Sandbox) -> Sync:
    catalog = harness.configured_catalog(harness.discovered(sandbox), [STREAM], incremental=False)
    return harness.run_read(sandbox, sandbox.config(), catalog)


@pytest.fixture(scope="module")
def first_incremental(sandbox: Sandbox) -> Sync:
    catalog = harness.configured_catalog(harness.discovered(sandbox), [STREAM])
    return harness.run_read(sandbox, sandbox.config(), catalog)


def read_again(sandbox: Sandbox, first: Sync, **config: object) -> Sync:
    catalog = harness.configured_catalog(harness.discovered(sandbox), [STREAM])
    return harness.run_read(sandbox, sandbox.config(**config), catalog, first.final_states)


def own_link_sends(soap_data: SoapData) -> list[dict]:
    links = soap_data.collection("LinkSend")
    return [row for row in (links.row(i) for i in range(links.size)) if row["Client.ID"] == MAIN_MID]


def test_a_full_refresh_reads_every_link_of_every_send(full_refresh: Sync, soap_data: SoapData) -> None:
    expected = {(row["SendID"], row["Link.ID"]) for row in own_link_sends(soap_data)}

    read = {(record["SendID"], record["Link"]["ID"]) for record in full_refresh.records[STREAM]}

    assert not full_refresh.errors, full_refresh.errors[:3]
    assert read == expected


def test_a_record_carries_the_link_figures_and_the_send_date(full_refresh: Sync, soap_data: SoapData) -> None:
    row = own_link_sends(soap_data)[0]
    (record,) = [
        r for r in full_refresh.records[STREAM] if (r["SendID"], r["Link"]["ID"]) == (row["SendID"], row["Link.ID"])
    ]

    assert record["entity_id"] == f"{row['SendID']}:{row['Link.ID']}"
    assert record["Link"] == {
        "ID": row["Link.ID"],
        "Alias": row["Link.Alias"] or None,
        "TotalClicks": row["Link.TotalClicks"],
        "UniqueClicks": row["Link.UniqueClicks"],
        "URL": row["Link.URL"],
    }
    assert record["SendDate"]


def test_links_are_retrieved_in_batches_of_send_ids(full_refresh: Sync) -> None:
    sends = {record["SendID"] for record in full_refresh.records[STREAM]}

    # One Describe of LinkSend first, to request only the properties the account can retrieve.
    assert full_refresh.stats["soap"] == {
        "Describe": 1,
        "Send": 1,
        "LinkSend": math.ceil(len(sends) / LINK_SENDS_PER_RETRIEVE),
    }


def test_an_incremental_sync_saves_the_newest_send_date(first_incremental: Sync) -> None:
    newest = max(harness.parse_datetime(record["SendDate"]) for record in first_incremental.records[STREAM])
    (state,) = first_incremental.final_states

    assert harness.cursor_of_state(state, "SendDate") == newest


@pytest.mark.parametrize("recent_days", [30, 7])
def test_the_next_sync_reads_again_the_links_of_sends_within_the_recent_period(
    sandbox: Sandbox, first_incremental: Sync, recent_days: int
) -> None:
    (state,) = first_incremental.final_states
    since = harness.cursor_of_state(state, "SendDate") - timedelta(days=recent_days)
    expected = {
        record["entity_id"]
        for record in first_incremental.records[STREAM]
        if harness.parse_datetime(record["SendDate"]) >= since
    }

    again = read_again(sandbox, first_incremental, link_sends_recent_days=recent_days)

    assert not again.errors, again.errors[:3]
    assert expected
    assert harness.entity_ids(again.records[STREAM]) == expected


@pytest.mark.parametrize("stream", [STREAM, "sends"])
def test_a_first_incremental_sync_without_a_start_date_reads_every_send(sandbox: Sandbox, stream: str) -> None:
    # The cursor then starts at year 1; a lookback (30 days here, 24 hours for sends) cannot go before it.
    catalog = harness.configured_catalog(harness.discovered(sandbox), [stream])
    full = harness.configured_catalog(harness.discovered(sandbox), [stream], incremental=False)

    sync = harness.run_read(sandbox, sandbox.config(start_date=None), catalog)

    assert not sync.errors, sync.errors[:3]
    assert harness.entity_ids(sync.records[stream]) == harness.entity_ids(
        harness.run_read(sandbox, sandbox.config(start_date=None), full).records[stream]
    )
