"""journey_history against the sandbox, over real HTTP: every entry SFMC still keeps is read once per window,
windows that hold more than a search can answer are split, and an incremental sync goes on from its state."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from integration_tests import harness
from integration_tests.harness import Sync
from integration_tests.sandbox import Sandbox
from integration_tests.sandbox.journey_history import RETENTION, SEARCH_CAP, JourneyHistory
from source_sfmc.rest import JOURNEY_HISTORY_PAGE_SIZE

STREAM = "journey_history"
SEARCH = "/interaction/v1/interactions/journeyhistory/search"


@pytest.fixture(scope="module")
def history(sandbox: Sandbox) -> JourneyHistory:
    return sandbox.rest_data.journey_history


@pytest.fixture(scope="module")
def full_refresh(sandbox: Sandbox) -> Sync:
    catalog = harness.configured_catalog(harness.discovered(sandbox), [STREAM], incremental=False)
    return harness.run_read(sandbox, sandbox.config(), catalog)


def kept_ids(history: JourneyHistory, since: datetime, until: datetime) -> set[str]:
    """Ids of the entries with since <= transactionTime <= until."""
    lo, hi = history.first_at_or_after(since), history.first_at_or_after(until + timedelta(milliseconds=1))
    return {history.entry(i)["id"] for i in range(lo, hi)}


def test_a_full_refresh_reads_every_entry_sfmc_still_keeps(full_refresh: Sync, history: JourneyHistory) -> None:
    read = harness.entity_ids(full_refresh.records[STREAM])
    # Entries at the edges of the read may have aged out or arrived while it ran: compare well inside them.
    inner = kept_ids(history, full_refresh.finished - RETENTION + timedelta(minutes=1), full_refresh.started)

    assert not full_refresh.errors, full_refresh.errors[:3]
    assert inner <= read
    assert read <= kept_ids(history, full_refresh.started - RETENTION - timedelta(minutes=1), full_refresh.finished)


def test_a_window_beyond_the_search_cap_is_split_and_each_page_read_once(full_refresh: Sync) -> None:
    entries = len(full_refresh.records[STREAM])
    searches = full_refresh.stats["rest"][SEARCH]

    assert entries > SEARCH_CAP  # one 30-day window holds more than a search answers
    assert (
        math.ceil(entries / JOURNEY_HISTORY_PAGE_SIZE) < searches <= math.ceil(entries / JOURNEY_HISTORY_PAGE_SIZE) + 6
    )


def test_entries_carry_their_journey_activity_and_time(full_refresh: Sync, history: JourneyHistory) -> None:
    record = full_refresh.records[STREAM][0]
    entry = next(history.entry(i) for i in range(history.size) if history.entry(i)["id"] == record["id"])

    assert record["entity_id"] == entry["id"]
    assert {k: record[k] for k in ("definitionId", "activityId", "contactKey", "status")} == {
        k: entry[k] for k in ("definitionId", "activityId", "contactKey", "status")
    }
    # SFMC's server clock (UTC-6) in the answer, UTC in the record.
    assert harness.parse_datetime(record["transactionTime"]) == datetime.fromisoformat(
        entry["transactionTime"]
    ).replace(tzinfo=UTC) + timedelta(hours=6)


def test_a_start_date_older_than_thirty_days_reads_only_what_is_kept(full_refresh: Sync) -> None:
    oldest = min(harness.parse_datetime(record["transactionTime"]) for record in full_refresh.records[STREAM])

    assert full_refresh.config["start_date"] < (full_refresh.started - RETENTION).isoformat()
    assert oldest >= full_refresh.started - RETENTION - timedelta(minutes=1)


def test_an_incremental_sync_goes_on_from_its_state(sandbox: Sandbox) -> None:
    catalog = harness.configured_catalog(harness.discovered(sandbox), [STREAM])
    first = harness.run_read(sandbox, sandbox.config(), catalog)
    (state,) = first.final_states
    cursor = harness.cursor_of_state(state, "transactionTime")

    again = harness.run_read(sandbox, sandbox.config(), catalog, first.final_states)

    assert not first.errors and not again.errors, (first.errors + again.errors)[:3]
    assert cursor == max(harness.parse_datetime(r["transactionTime"]) for r in first.records[STREAM])
    assert all(harness.parse_datetime(r["transactionTime"]) >= cursor - first.lookback for r in again.records[STREAM])
    assert len(again.records[STREAM]) < len(first.records[STREAM]) / 10
