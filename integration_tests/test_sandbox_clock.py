"""The sandbox's clock: activity lies in the six months before its epoch (today on the command line), the same
data all day for one seed, and the fixed epoch tests rely on gives the data it always gave."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

from integration_tests import harness
from integration_tests.sandbox.rest_data import FIXED_EPOCH, build_rest_data
from integration_tests.sandbox.server import activity_start, server_today, utc_midnight_ms
from integration_tests.sandbox.soap_data import build_soap_data

DAY_MS = 86_400_000
EVENT_TYPES = ("SentEvent", "OpenEvent", "ClickEvent", "BounceEvent", "UnsubEvent")


def event_dates(epoch: date, object_type: str = "SentEvent") -> list[int]:
    events = build_soap_data(seed=7, scale=0.05, epoch_ms=utc_midnight_ms(epoch)).collection(object_type)
    return [events.order_key(i) for i in range(events.size)]


def test_activity_lies_in_the_six_months_before_the_epoch() -> None:
    epoch = date(2026, 11, 29)
    for object_type in EVENT_TYPES:
        dates = event_dates(epoch, object_type)
        assert dates, object_type
        assert utc_midnight_ms(activity_start(epoch)) <= min(dates) and max(dates) < utc_midnight_ms(epoch)


def test_another_epoch_keeps_the_volume_of_events() -> None:
    """Sends follow calendar months (uneven volumes), so which days are busy moves with the epoch; volume does not."""
    for object_type in EVENT_TYPES:
        assert len(event_dates(FIXED_EPOCH, object_type)) == len(event_dates(date(2026, 11, 29), object_type))


def test_the_same_epoch_gives_the_same_data() -> None:
    assert event_dates(date(2026, 3, 4), "ClickEvent") == event_dates(date(2026, 3, 4), "ClickEvent")
    assert build_rest_data(epoch=date(2026, 3, 4)) == build_rest_data(epoch=date(2026, 3, 4))


def test_rest_objects_are_dated_before_the_epoch_on_the_server_clock() -> None:
    epoch = server_today()
    data = build_rest_data(epoch=epoch)
    newest = max(journey["modifiedDate"] for journey in data.journeys)
    assert newest < epoch.isoformat() and newest > (epoch - timedelta(days=60)).isoformat()


def test_the_default_epoch_is_the_fixed_data_set() -> None:
    assert build_rest_data() == build_rest_data(epoch=FIXED_EPOCH)
    assert activity_start(FIXED_EPOCH) == date(2025, 1, 1)


def test_a_sync_of_the_last_30_days_against_todays_sandbox_finds_events(start_sandbox, catalog) -> None:
    today = start_sandbox(epoch=server_today(), scale=0.1)
    since = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    configured = harness.configured_catalog(catalog, ["sent_events", "open_events"])

    sync = harness.run_read(today, today.config(start_date=since), configured)

    assert not sync.errors, sync.errors[:3]
    assert len(sync.records["sent_events"]) > 0 and len(sync.records["open_events"]) > 0
    assert min(record["EventDate"] for record in sync.records["sent_events"]) >= since.replace("Z", "")


def test_the_command_line_defaults_to_today_and_says_where_activity_lies() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "integration_tests.sandbox", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
    finally:
        process.terminate()
        process.wait(timeout=10)
    epoch = server_today()
    assert f"(activity from {activity_start(epoch)} to {epoch})" in line
