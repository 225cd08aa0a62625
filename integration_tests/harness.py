"""Small builders for end-to-end tests: run the connector's verbs in-process (through the CDK's entrypoint) or as
the `source-sfmc` console script, and pick their output apart (records by stream, states, errors, requests)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airbyte_cdk.models import (
    AirbyteCatalog,
    AirbyteMessage,
    AirbyteStateMessage,
    AirbyteStream,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteStream,
    DestinationSyncMode,
    SyncMode,
    Type,
)
from airbyte_cdk.test import entrypoint_wrapper
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, _run_command, make_file, read
from airbyte_cdk.test.models.outcome import ExpectedOutcome

from integration_tests.sandbox import Sandbox
from source_sfmc.run import SfmcEntrypoint
from source_sfmc.source import SourceSfmc

# The CDK's in-process runner builds the CDK's entry point; the `source-sfmc` command runs ours (run.py), which
# judges a config with `parse_config` alone in `check` too. In-process tests run what the command runs.
entrypoint_wrapper.AirbyteEntrypoint = SfmcEntrypoint  # type: ignore[misc]

ROOT = Path(__file__).resolve().parent.parent
CONSOLE_SCRIPT = Path(sys.executable).parent / "source-sfmc"

REST_STREAM_NAMES = (
    "campaigns",
    "campaign_assets",
    "assets",
    "journeys",
    "journey_statistics",
    "journey_activities",
    "journey_history",
    "automations",
)
# The SOAP object each SOAP stream retrieves (the sandbox counts requests by object type).
SOAP_OBJECT_TYPES = {
    "subscriber_lists": "List",
    "list_subscribers": "ListSubscriber",
    "subscribers": "Subscriber",
    "data_extensions": "DataExtension",
    "sends": "Send",
    "emails": "Email",
    "folders": "DataFolder",
    "list_sends": "ListSend",
    "content_areas": "ContentArea",
    "triggered_send_definitions": "TriggeredSendDefinition",
    "triggered_send_summaries": "TriggeredSendSummary",
    "sent_events": "SentEvent",
    "open_events": "OpenEvent",
    "click_events": "ClickEvent",
    "bounce_events": "BounceEvent",
    "unsub_events": "UnsubEvent",
    "not_sent_events": "NotSentEvent",
    "forwarded_email_events": "ForwardedEmailEvent",
    "forwarded_email_opt_in_events": "ForwardedEmailOptInEvent",
    "survey_events": "SurveyEvent",
}
EVENT_STREAM_NAMES = tuple(name for name in SOAP_OBJECT_TYPES if name.endswith("_events"))
# Streams read per send: a Send retrieve per window, then their LinkSend rows in batches of send ids.
PER_SEND_STREAM_NAMES = ("link_sends",)
ALL_STREAM_NAMES = REST_STREAM_NAMES + tuple(SOAP_OBJECT_TYPES) + PER_SEND_STREAM_NAMES
DEFAULT_WINDOW_DAYS = 30
DEFAULT_LOOKBACK_HOURS = 24

_ANY_OUTCOME = ExpectedOutcome.EXPECT_EXCEPTION  # only keeps the wrapper from printing; tests assert the outcome


# -- the connector's verbs, in-process ------------------------------------------------------------------------
def run_check(config: Mapping[str, Any]) -> EntrypointOutput:
    return _run_verb("check", config)


def run_discover(config: Mapping[str, Any]) -> AirbyteCatalog:
    output = _run_verb("discover", config)
    catalog = output.catalog.catalog
    assert catalog is not None, output.get_formatted_error_message()
    return catalog


def _run_verb(verb: str, config: Mapping[str, Any]) -> EntrypointOutput:
    # Not the wrapper's `discover`, which adds --debug: that leaves the CDK logging every request body afterwards.
    with tempfile.TemporaryDirectory() as directory:
        config_file = make_file(Path(directory) / "config.json", dict(config))
        return _run_command(SourceSfmc(), [verb, "--config", config_file], expected_outcome=_ANY_OUTCOME)


@dataclass(frozen=True)
class Sync:
    """One `read`: what it emitted, and what the sandbox saw while it ran."""

    config: Mapping[str, Any]
    output: EntrypointOutput
    records: dict[str, list[dict[str, Any]]]
    stats: dict[str, Any]  # the sandbox's request counters, counting this read only
    started: datetime
    finished: datetime

    def states(self, stream: str) -> list[AirbyteStateMessage]:
        return state_messages(self.output.records_and_state_messages, stream)

    @property
    def final_states(self) -> list[AirbyteStateMessage]:
        return final_states(self.output.state_messages)

    def records_per_window(self, records: Iterable[Mapping[str, Any]], cursor: str) -> list[int]:
        """How many of `records` fall in each of this read's date windows (from its config's start date)."""
        start = parse_datetime(self.config["start_date"])
        window = timedelta(days=self.config.get("window_days", DEFAULT_WINDOW_DAYS))
        counts = [0] * max(1, math.ceil((self.started - start) / window))
        for record in records:
            counts[(parse_datetime(record[cursor]) - start) // window] += 1
        return counts

    @property
    def lookback(self) -> timedelta:
        return timedelta(hours=self.config.get("lookback_hours", DEFAULT_LOOKBACK_HOURS))

    @property
    def errors(self) -> list[str]:
        return error_messages(self.output)


def run_read(
    sandbox: Sandbox,
    config: Mapping[str, Any],
    catalog: ConfiguredAirbyteCatalog,
    state: list[AirbyteStateMessage] | None = None,
) -> Sync:
    before = sandbox.stats()
    started = datetime.now(UTC)
    output = read(SourceSfmc(), dict(config), catalog, state, expected_outcome=_ANY_OUTCOME)
    finished = datetime.now(UTC)
    stats = stats_difference(sandbox.stats(), before)
    return Sync(config, output, records_by_stream(output.records), stats, started, finished)


_ONCE: dict[tuple[int, str], Any] = {}


def once(sandbox: Sandbox, name: str, run: Callable[[], Any]) -> Any:
    """A result computed once per sandbox and reused by every test (and test module) that asks for it by name."""
    key = (id(sandbox), name)
    if key not in _ONCE:
        _ONCE[key] = run()
    return _ONCE[key]


# -- the reads most tests share ------------------------------------------------------------------------------
# Folders, content areas and triggered send definitions were all last modified before the sandbox's default
# start date, so the dated entity streams are also read from an earlier start.
EARLY_CONFIG = {"start_date": "2020-01-01T00:00:00Z", "window_days": 90}
ENTITY_CURSOR_STREAMS = (
    "assets",
    "subscriber_lists",
    "list_subscribers",
    "sends",
    "emails",
    "folders",
    "content_areas",
    "triggered_send_definitions",
)


def discovered(sandbox: Sandbox) -> AirbyteCatalog:
    return once(sandbox, "catalog", lambda: run_discover(sandbox.config()))


def everything(sandbox: Sandbox) -> Sync:
    """Every stream, incremental where it can be, from the sandbox's default start date."""
    catalog = configured_catalog(discovered(sandbox), ALL_STREAM_NAMES)
    return once(sandbox, "everything", lambda: run_read(sandbox, sandbox.config(), catalog))


def early_entities(sandbox: Sandbox) -> Sync:
    """The dated entity streams, incremental, from 2020."""
    catalog = configured_catalog(discovered(sandbox), ENTITY_CURSOR_STREAMS)
    return once(sandbox, "early entities", lambda: run_read(sandbox, sandbox.config(**EARLY_CONFIG), catalog))


def stats_difference(after: Mapping[str, Any], before: Mapping[str, Any]) -> dict[str, Any]:
    def delta(now: Mapping[str, int], then: Mapping[str, int]) -> dict[str, int]:
        changed = Counter(now)
        changed.subtract(then)
        return {name: count for name, count in changed.items() if count}

    return {
        "token": after["requests"]["token"] - before["requests"]["token"],
        "tokens_issued": after["tokens_issued"] - before["tokens_issued"],
        "rest": delta(after["requests"]["rest"], before["requests"]["rest"]),
        "soap": delta(after["requests"]["soap"], before["requests"]["soap"]),
    }


# -- catalogs ------------------------------------------------------------------------------------------------
def configured_catalog(
    catalog: AirbyteCatalog, names: Iterable[str], *, incremental: bool = True
) -> ConfiguredAirbyteCatalog:
    """The named streams, each incremental when it supports it and `incremental` is set, else full refresh."""
    by_name = {stream.name: stream for stream in catalog.streams}
    return ConfiguredAirbyteCatalog(streams=[_configured(by_name[name], incremental) for name in names])


def _configured(stream: AirbyteStream, incremental: bool) -> ConfiguredAirbyteStream:
    use_incremental = incremental and SyncMode.incremental in stream.supported_sync_modes
    return ConfiguredAirbyteStream(
        stream=stream,
        sync_mode=SyncMode.incremental if use_incremental else SyncMode.full_refresh,
        destination_sync_mode=DestinationSyncMode.append_dedup if use_incremental else DestinationSyncMode.overwrite,
        cursor_field=stream.default_cursor_field if use_incremental else None,
        primary_key=stream.source_defined_primary_key,
    )


def cursor_field(catalog: AirbyteCatalog, name: str) -> str:
    (stream,) = [stream for stream in catalog.streams if stream.name == name]
    assert stream.default_cursor_field, f"{name} has no cursor"
    return stream.default_cursor_field[0]


# -- reading the output --------------------------------------------------------------------------------------
def records_by_stream(messages: Iterable[AirbyteMessage]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message in messages:
        if message.type == Type.RECORD and message.record is not None:
            grouped[message.record.stream].append(message.record.data)
    return dict(grouped)


def state_messages(messages: Iterable[AirbyteMessage], stream: str) -> list[AirbyteStateMessage]:
    """Every state message of one stream, in emission order."""
    return [message.state for message in messages if _state_stream(message) == stream]


def final_states(messages: Iterable[AirbyteMessage]) -> list[AirbyteStateMessage]:
    """The last state message of each stream: what the platform passes to the next sync."""
    latest: dict[str, AirbyteStateMessage] = {}
    for message in messages:
        if (name := _state_stream(message)) is not None:
            latest[name] = message.state
    return list(latest.values())


def records_before_state(
    messages: Iterable[AirbyteMessage], stream: str, state: AirbyteStateMessage
) -> list[dict[str, Any]]:
    """The records of `stream` emitted before `state` was: what a sync stopped right after it had delivered."""
    delivered: list[dict[str, Any]] = []
    for message in messages:
        if message.type == Type.STATE and message.state is state:
            return delivered
        if message.type == Type.RECORD and message.record is not None and message.record.stream == stream:
            delivered.append(message.record.data)
    raise AssertionError(f"the state message of {stream} is not in these messages")


def _state_stream(message: AirbyteMessage) -> str | None:
    if message.type != Type.STATE or message.state is None or message.state.stream is None:
        return None
    return message.state.stream.stream_descriptor.name


def stream_state(state: AirbyteStateMessage) -> dict[str, Any]:
    blob = state.stream.stream_state if state.stream is not None else None
    return dict(blob.__dict__) if blob is not None else {}


def only_unit(stream_state: Any) -> dict[str, Any]:
    """The state of the one business unit a (one-unit) stream state holds, from its JSON or its state blob."""
    raw = stream_state if isinstance(stream_state, Mapping) else dict(stream_state.__dict__)
    by_unit = raw["business_units"]
    by_unit = by_unit if isinstance(by_unit, Mapping) else dict(by_unit.__dict__)
    (unit,) = by_unit.values()
    return dict(unit) if isinstance(unit, Mapping) else dict(unit.__dict__)


def unit_states(state: AirbyteStateMessage) -> dict[int, dict[str, Any]]:
    """A stream's state per business unit: `{"business_units": {MID: state}}` (the connector keeps the CDK's
    sequential `{cursor: value}` form for each unit)."""
    by_unit = stream_state(state).get("business_units") or {}
    return {int(mid): dict(unit) for mid, unit in by_unit.items()}


def cursor_of_state(state: AirbyteStateMessage, cursor: str, mid: int | None = None) -> datetime:
    """Where a state says the stream stopped in business unit `mid` (default: the one unit the state holds)."""
    units = unit_states(state)
    if mid is None:
        assert len(units) == 1, f"the state holds {len(units)} business units: name one"
        (unit,) = units.values()
    else:
        unit = units[mid]
    return parse_datetime(unit[cursor])


def error_messages(output: EntrypointOutput) -> list[str]:
    return [message.trace.error.message for message in output.errors if message.trace and message.trace.error]


def error_failure_types(output: EntrypointOutput) -> set[str]:
    return {
        message.trace.error.failure_type.value
        for message in output.errors
        if message.trace and message.trace.error and message.trace.error.failure_type
    }


def all_output_text(output: EntrypointOutput) -> str:
    """Every message the connector emitted (logs included), as one text to search for leaks."""
    return "\n".join(repr(message) for message in output.get_message_iterator())


def entity_ids(records: Iterable[Mapping[str, Any]]) -> set[str]:
    return {record["entity_id"] for record in records}


def parse_datetime(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def at_or_after(records: Iterable[Mapping[str, Any]], cursor: str, floor: datetime) -> list[Mapping[str, Any]]:
    return [record for record in records if parse_datetime(record[cursor]) >= floor]


# -- pages ---------------------------------------------------------------------------------------------------
def pages(count: int, page_size: int) -> int:
    """Requests a paged listing of `count` items takes: an empty listing still costs one."""
    return max(1, math.ceil(count / page_size))


# -- the console script ---------------------------------------------------------------------------------------
def run_console(*args: str, files: Mapping[str, Any] | None = None) -> tuple[int, list[dict[str, Any]], str]:
    """Run `source-sfmc ARGS` in a subprocess. `files` are written as JSON to a temporary folder and `{name}` in
    ARGS becomes that file's path. Returns (exit code, JSON messages on stdout, everything it printed)."""
    with tempfile.TemporaryDirectory() as directory:
        paths = {name: str(Path(directory) / f"{name}.json") for name in files or {}}
        for name, content in (files or {}).items():
            Path(paths[name]).write_text(content if isinstance(content, str) else json.dumps(content))
        command = [str(CONSOLE_SCRIPT), *(arg.format(**paths) for arg in args)]
        completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60)
    messages = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    return completed.returncode, messages, completed.stdout + completed.stderr
