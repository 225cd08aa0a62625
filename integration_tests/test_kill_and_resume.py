"""Kill and resume: a `read` of the event streams SIGKILLed at several points, each time resumed from the last state
it had emitted, loses no record, its states only ever cover records already delivered, and a resumed run re-emits
only what was in flight when the process died (plus the lookback margin before the state's cursor)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airbyte_cdk.models import ConfiguredAirbyteCatalogSerializer

from integration_tests import harness
from integration_tests.sandbox import Sandbox, start_sandbox

STREAMS = ("sent_events", "open_events")
CURSOR = "EventDate"
START_DATE = "2025-01-01T00:00:00Z"  # where the sandbox's events begin
WINDOW_DAYS = 15  # ~12 windows of sandbox data (2025-01-01..2025-07-01), each several pages at this scale
LOOKBACK_HOURS = 24
SCALE = 0.3
LATENCY_MS = 2  # so a kill lands while requests are in flight, not between finished windows
RUN_TIMEOUT_SECONDS = 60

# Where each run of a plan is killed, as a fraction of the RECORD and STATE messages an uninterrupted read emits;
# the run after the last kill goes on to the end.
KILL_PLANS = {
    "inside_the_first_window": (0.005,),
    "a_third_in": (0.35,),
    "twice_then_to_the_end": (0.2, 0.4),
    "late": (0.95,),
}
WORKER_COUNTS = (1, 4)
# One business unit (the package's), and every unit of the sandbox's enterprise (its state kept per unit). With
# every unit, CI runs one kill plan; `--slow` runs them all.
UNIT_MODES = {"one_unit": {}, "every_unit": {"all_business_units": True}}
EVERY_UNIT_PLANS_IN_CI = ("twice_then_to_the_end",)

Key = tuple[str, int, str]  # (stream, mid, entity_id)
Unit = tuple[str, int]  # (stream, mid): what a state's cursor covers


@dataclass
class Run:
    """What one `read` process delivered on stdout before it ended or was killed."""

    messages: list[dict[str, Any]]
    exit_code: int
    errors: list[str]

    @property
    def records(self) -> list[dict[str, Any]]:
        return [message["record"] for message in self.messages if message["type"] == "RECORD"]

    def keys(self) -> set[Key]:
        return {(record["stream"], record["data"]["mid"], record["data"]["entity_id"]) for record in self.records}


@dataclass
class Resumed:
    """A run started from the states earlier runs had emitted, and what those runs had delivered before it."""

    run: Run
    cursors: dict[Unit, datetime]  # per stream and unit, where the state it resumed from said it stopped
    delivered_before: set[Key] = field(default_factory=set)
    previous_run: Run | None = None


@dataclass
class Plan:
    runs: list[Run]
    resumed: list[Resumed]

    def keys(self) -> set[Key]:
        return set().union(*(run.keys() for run in self.runs))


# -- fixtures ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with start_sandbox(port=0, scale=SCALE, latency_ms=LATENCY_MS) as running:
        yield running


@pytest.fixture(scope="module", params=list(UNIT_MODES), ids=str)
def units(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def files(sandbox: Sandbox, units: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kill_and_resume")
    catalog = harness.configured_catalog(harness.discovered(sandbox), STREAMS)
    (folder / "catalog.json").write_text(json.dumps(ConfiguredAirbyteCatalogSerializer.dump(catalog)))
    for workers in WORKER_COUNTS:
        config = sandbox.config(
            start_date=START_DATE,
            window_days=WINDOW_DAYS,
            lookback_hours=LOOKBACK_HOURS,
            num_workers=workers,
            **UNIT_MODES[units],
        )
        (folder / f"config_{workers}.json").write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="module")
def uninterrupted(files: Path) -> Run:
    run = read(files, workers=4)
    assert run.exit_code == 0 and not run.errors, run.errors[:3]
    return run


@pytest.fixture(scope="module")
def event_dates(uninterrupted: Run) -> dict[Key, datetime]:
    return {
        (record["stream"], record["data"]["mid"], record["data"]["entity_id"]): harness.parse_datetime(
            record["data"][CURSOR]
        )
        for record in uninterrupted.records
    }


@pytest.fixture(scope="module", params=WORKER_COUNTS, ids=lambda workers: f"{workers}_workers")
def workers(request: pytest.FixtureRequest) -> int:
    return request.param


@pytest.fixture(scope="module", params=list(KILL_PLANS), ids=str)
def plan(request: pytest.FixtureRequest, files: Path, units: str, workers: int, uninterrupted: Run) -> Plan:
    if units != "one_unit" and request.param not in EVERY_UNIT_PLANS_IN_CI and not request.config.getoption("--slow"):
        pytest.skip("every kill plan with every business unit: use --slow")
    kill_points = [max(1, int(fraction * len(uninterrupted.messages))) for fraction in KILL_PLANS[request.param]]
    return run_plan(files, workers, kill_points)


# -- the behaviours ------------------------------------------------------------------------------------------
def test_the_uninterrupted_read_spans_many_windows_of_each_stream(event_dates: dict[Key, datetime]) -> None:
    start, window = harness.parse_datetime(START_DATE), timedelta(days=WINDOW_DAYS)
    for stream in STREAMS:
        windows = {(date - start) // window for key, date in event_dates.items() if key[0] == stream}
        assert len(windows) >= 10, f"{stream} has records in windows {sorted(windows)} only"


def test_every_kill_landed_before_the_read_ended_and_the_last_run_ended_normally(plan: Plan) -> None:
    *killed, last = plan.runs

    assert killed and all(run.exit_code == -signal.SIGKILL for run in killed), [run.exit_code for run in killed]
    assert last.exit_code == 0 and not last.errors, last.errors[:3]


def test_the_runs_together_emit_exactly_the_records_of_an_uninterrupted_read(plan: Plan, uninterrupted: Run) -> None:
    expected = uninterrupted.keys()
    union = plan.keys()

    assert not expected - union, f"{len(expected - union)} records lost, e.g. {sorted(expected - union)[:3]}"
    assert not union - expected, f"{len(union - expected)} unexpected records, e.g. {sorted(union - expected)[:3]}"


def test_a_state_only_covers_records_already_delivered(plan: Plan, event_dates: dict[Key, datetime]) -> None:
    # The platform may resume from any state it has received: every record older than its cursor must be out.
    delivered: set[Key] = set()
    for run in plan.runs:
        for message in run.messages:
            if message["type"] == "RECORD":
                record = message["record"]
                delivered.add((record["stream"], record["data"]["mid"], record["data"]["entity_id"]))
                continue
            for unit, cursor in unit_cursors(message["state"]).items():
                older = {key for key, date in event_dates.items() if key[:2] == unit and date < cursor}
                missing = older - delivered
                assert not missing, (
                    f"state {unit} at {cursor} before {len(missing)} of its records: {sorted(missing)[:3]}"
                )


def test_a_resumed_run_re_emits_nothing_older_than_its_cursor_minus_the_lookback(
    plan: Plan, event_dates: dict[Key, datetime]
) -> None:
    lookback = timedelta(hours=LOOKBACK_HOURS)
    for resumed in plan.resumed:
        for unit, cursor in resumed.cursors.items():
            too_old = sorted(
                key
                for key in resumed.run.keys() & resumed.delivered_before
                if key[:2] == unit and event_dates[key] < cursor - lookback
            )
            assert not too_old, f"{unit} resumed at {cursor} re-emitted {len(too_old)} older records: {too_old[:3]}"


def test_a_resumed_run_does_not_start_over(plan: Plan, uninterrupted: Run) -> None:
    # A run resumed from any checkpoint past the start date has less to read than the whole.
    start = harness.parse_datetime(START_DATE)
    for resumed in plan.resumed:
        if any(cursor > start for cursor in resumed.cursors.values()):
            emitted, whole = len(resumed.run.records), len(uninterrupted.records)
            assert emitted < whole, f"resumed at {resumed.cursors} yet emitted {emitted} of {whole} records"


def test_with_one_worker_what_is_re_emitted_past_the_cursor_fits_in_one_window(
    plan: Plan, workers: int, event_dates: dict[Key, datetime]
) -> None:
    if workers != 1:
        pytest.skip("concurrent windows may all be in flight at once")
    for resumed in plan.resumed:
        assert resumed.previous_run is not None
        again = resumed.run.keys() & resumed.previous_run.keys()
        for unit, cursor in resumed.cursors.items():
            newer = [event_dates[key] for key in again if key[:2] == unit and event_dates[key] > cursor]
            if newer:
                assert max(newer) - min(newer) <= timedelta(days=WINDOW_DAYS), (unit, min(newer), max(newer))


# -- running and killing the connector -----------------------------------------------------------------------
def run_plan(files: Path, workers: int, kill_points: list[int]) -> Plan:
    """Kill a read after each count of messages in turn, resuming each time from the last states received."""
    runs: list[Run] = []
    resumed: list[Resumed] = []
    states: dict[str, dict[str, Any]] = {}  # per stream, the last state received by any run so far
    for kill_after in [*kill_points, None]:
        if runs:
            cursors = {unit: cursor for state in states.values() for unit, cursor in unit_cursors(state).items()}
            delivered = set().union(*(run.keys() for run in runs))
        run = read(files, workers, list(states.values()), kill_after)
        if runs:
            resumed.append(Resumed(run, cursors, delivered, runs[-1]))
        runs.append(run)
        for message in run.messages:
            if message["type"] == "STATE":
                states[message["state"]["stream"]["stream_descriptor"]["name"]] = message["state"]
    return Plan(runs, resumed)


def read(files: Path, workers: int, state: list[dict[str, Any]] | None = None, kill_after: int | None = None) -> Run:
    """`source-sfmc read` as a subprocess, SIGKILLed once `kill_after` RECORD/STATE messages have been received."""
    command = [str(harness.CONSOLE_SCRIPT), "read", "--config", str(files / f"config_{workers}.json")]
    command += ["--catalog", str(files / "catalog.json")]
    if state:
        state_file = files / "state.json"  # the runs of a plan follow one another
        state_file.write_text(json.dumps(state))
        command += ["--state", str(state_file)]
    messages: list[dict[str, Any]] = []
    errors: list[str] = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=harness.ROOT
    ) as process:
        watchdog = threading.Timer(RUN_TIMEOUT_SECONDS, process.kill)
        watchdog.start()
        try:
            for message in json_lines(process.stdout):
                if message["type"] in ("RECORD", "STATE"):
                    messages.append(message)
                elif message["type"] == "TRACE" and message["trace"]["type"] == "ERROR":
                    errors.append(message["trace"]["error"]["message"])
                if kill_after is not None and len(messages) >= kill_after:
                    os.kill(process.pid, signal.SIGKILL)
                    break
            exit_code = process.wait()
        finally:
            watchdog.cancel()
    return Run(messages, exit_code, errors)


def json_lines(lines: Any) -> Iterator[dict[str, Any]]:
    for line in lines:
        if line.startswith("{"):
            yield json.loads(line)


def unit_cursors(state: Mapping[str, Any]) -> dict[Unit, datetime]:
    """Where a state message says each business unit of its stream stopped."""
    stream = state["stream"]
    name = stream["stream_descriptor"]["name"]
    by_unit = stream["stream_state"]["business_units"]
    return {(name, int(mid)): harness.parse_datetime(unit[CURSOR]) for mid, unit in by_unit.items()}
