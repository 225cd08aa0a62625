"""Incremental state per business unit (`UnitCursors`): each unit resumes from its own cursor, a unit the state does
not know starts from start_date, a state saved before business units is the home unit's, and no input state
crashes the sync."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import InMemoryMessageRepository
from airbyte_cdk.test.state_builder import StateBuilder
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from source_sfmc.business_units import UnitTokens, in_unit
from source_sfmc.config import parse_config
from source_sfmc.soap.streams import soap_streams
from source_sfmc.state import UNITS_KEY, UnitCursors
from source_sfmc.stream_base import WINDOW_END, WINDOW_START, SyncContext, parse_window_bound

HOME, CHILD = 7281234, 7294501
START = datetime(2025, 1, 1, tzinfo=UTC)
SAVED = "2025-05-01T00:00:00.000Z"


def emails_stream():
    config = parse_config(
        {
            "client_id": "a-client-id-long-enough",
            "client_secret": "a-client-secret-long-enough",
            "subdomain": "mc563885gzs27c5t9-63k636ttgm",
            "start_date": "2025-01-01T00:00:00Z",
            "business_units": [str(HOME), str(CHILD)],
            "account_id": str(HOME),
            "lookback_hours": 0,
        }
    )
    context = SyncContext(config=config, authenticator=UnitTokens(config))
    return next(stream for stream in soap_streams(context) if stream.name == "emails")


def cursors_from(stream_state, stream=None):
    stream = stream or emails_stream()
    manager = ConnectorStateManager(StateBuilder().with_stream_state(stream.name, stream_state).build())
    return UnitCursors(stream, manager, InMemoryMessageRepository(), lambda: HOME)


def first_window_start(cursors, mid):
    with in_unit(mid):
        windows = list(cursors.stream_slices())
    return parse_window_bound(windows[0][WINDOW_START]) if windows else None


def test_each_unit_resumes_from_its_own_cursor_and_a_new_unit_from_start_date():
    cursors = cursors_from({UNITS_KEY: {str(HOME): {"ModifiedDate": SAVED}}})
    assert first_window_start(cursors, HOME) == parse_window_bound(SAVED)
    assert first_window_start(cursors, CHILD) == START


def test_a_state_saved_before_business_units_is_the_home_units():
    cursors = cursors_from({"ModifiedDate": SAVED})
    assert first_window_start(cursors, HOME) == parse_window_bound(SAVED)
    assert first_window_start(cursors, CHILD) == START


def test_units_not_read_keep_their_saved_state():
    cursors = cursors_from({UNITS_KEY: {"7777777": {"ModifiedDate": SAVED}}})
    assert cursors.state[UNITS_KEY]["7777777"] == {"ModifiedDate": SAVED}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3),
    max_leaves=8,
)
UNIT_STATES = st.dictionaries(
    st.sampled_from([str(HOME), str(CHILD), "x", ""]),
    JSON_VALUES | st.fixed_dictionaries({"ModifiedDate": st.sampled_from([SAVED, "not a date", "2099-01-01"])}),
    max_size=3,
)


@settings(max_examples=150, deadline=None)
@given(state=st.fixed_dictionaries({UNITS_KEY: UNIT_STATES | JSON_VALUES}) | JSON_VALUES.filter(bool))
def test_any_input_state_gives_every_unit_windows_from_start_date_or_its_cursor_up_to_now(state):
    if not isinstance(state, dict):
        state = {"ModifiedDate": state}  # a stream state is an object (read_input_state drops any other)
    cursors = cursors_from(state)
    for mid in (HOME, CHILD):
        with in_unit(mid):
            windows = list(cursors.stream_slices())
        now = datetime.now(UTC)
        assert windows, f"unit {mid} has nothing to read"
        assert START <= parse_window_bound(windows[0][WINDOW_START]) <= now
        assert parse_window_bound(windows[-1][WINDOW_END]) <= now


# -- what the input state holds under business_units ------------------------------------------------------------
def test_a_saved_unit_this_sync_does_not_read_is_kept_and_logged_once_naming_it(caplog):
    cursors = cursors_from({UNITS_KEY: {"7777777": {"ModifiedDate": SAVED}, "1234567": {}}})
    with caplog.at_level(logging.INFO, logger="airbyte"):
        first_window_start(cursors, HOME)
        first_window_start(cursors, CHILD)
    noted = [r.getMessage() for r in caplog.records if "does not read" in r.getMessage()]
    assert len(noted) == 1 and "Stream 'emails'" in noted[0] and "1234567, 7777777" in noted[0]
    assert cursors.state[UNITS_KEY]["7777777"] == {"ModifiedDate": SAVED}


@pytest.mark.parametrize("key", ["x", "", " 7281234", "07281234", "-5", "0", "7281234.0", str(2**31), "٣"])
def test_a_key_that_is_not_a_mid_is_dropped_with_a_warning_naming_stream_and_key(key, caplog):
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        cursors = cursors_from({UNITS_KEY: {key: {"ModifiedDate": SAVED}, str(CHILD): {"ModifiedDate": SAVED}}})
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("Stream 'emails'" in w and repr(key) in w and "not the MID" in w for w in warned), warned
    assert set(cursors.state[UNITS_KEY]) == {str(CHILD)}
    assert first_window_start(cursors, CHILD) == parse_window_bound(SAVED)  # the rest of the state resumes


@pytest.mark.parametrize(
    "value", ["2025-05-01T00:00:00.000Z", 5, None, ["a"], {"ModifiedDate": "soon"}, {"ModifiedDate": "2999-01-01"}]
)
def test_a_unit_state_that_is_not_usable_is_dropped_with_a_warning_and_the_unit_restarts(value, caplog):
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        cursors = cursors_from({UNITS_KEY: {str(HOME): value, str(CHILD): {"ModifiedDate": SAVED}}})
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("Stream 'emails'" in w and f"business unit {HOME}" in w and "dropped" in w for w in warned), warned
    assert str(HOME) not in cursors.state[UNITS_KEY]
    assert first_window_start(cursors, HOME) == START
    assert first_window_start(cursors, CHILD) == parse_window_bound(SAVED)


MID_OR_NOT = st.one_of(
    st.sampled_from([str(HOME), str(CHILD), "7777777"]),
    st.integers(min_value=-5, max_value=2**32).map(str),
    st.text(max_size=8),
)
CURSOR_VALUES = st.sampled_from([SAVED, "2025-02-01T00:00:00Z", "not a date", "2999-01-01T00:00:00Z", ""])
ANY_UNIT_STATE = JSON_VALUES | st.fixed_dictionaries({"ModifiedDate": CURSOR_VALUES})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(by_unit=st.dictionaries(MID_OR_NOT, ANY_UNIT_STATE, max_size=5))
def test_any_per_unit_state_keeps_usable_mids_only_and_no_cursor_passes_now(by_unit):
    cursors = cursors_from({UNITS_KEY: by_unit})
    for mid in (HOME, CHILD):
        start = first_window_start(cursors, mid)
        assert start is not None and START <= start <= datetime.now(UTC)

    out = cursors.state[UNITS_KEY]
    assert set(out) <= set(by_unit)
    for key, state in out.items():
        assert key.isdigit() and str(int(key)) == key and 0 < int(key) < 2**31
        assert isinstance(state, dict)
        if state.get("ModifiedDate") is not None:
            assert parse_window_bound(state["ModifiedDate"]) <= datetime.now(UTC)
    for key in set(out) - {str(HOME), str(CHILD)}:
        assert out[key] == by_unit[key]  # a unit not read is carried as it was


@pytest.mark.parametrize(
    ("saved", "instant"),
    [
        ("2025-05-01T05:00:00+05:00", "2025-05-01T00:00:00Z"),
        ("2025-04-30T18:00:00-06:00", "2025-05-01T00:00:00Z"),
        ("2025-05-01T00:00:00.000+00:00", "2025-05-01T00:00:00Z"),
    ],
)
def test_a_unit_cursor_written_with_an_offset_resumes_from_that_instant(saved, instant):
    # The CDK's ISO converter writes a date's wall-clock digits followed by "Z", whatever its offset: a cursor of
    # 05:00+05:00 became a window starting at 05:00Z, five hours past the saved instant, and those hours were skipped.
    cursors = cursors_from({UNITS_KEY: {str(HOME): {"ModifiedDate": saved}}})
    assert first_window_start(cursors, HOME) == parse_window_bound(instant)


def test_a_unit_cursor_of_exactly_now_resumes_from_now_without_a_warning(caplog):
    now = datetime.now(UTC)
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        cursors = cursors_from({UNITS_KEY: {str(HOME): {"ModifiedDate": now.isoformat()}}})
        start = first_window_start(cursors, HOME)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert start is not None and abs(start - now) < timedelta(milliseconds=1)


def test_thousands_of_junk_unit_entries_give_a_few_warnings_naming_keys_and_one_counting_the_rest(caplog):
    junk = {f"junk{i}": {"ModifiedDate": SAVED} for i in range(3000)}
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        cursors = cursors_from({UNITS_KEY: {**junk, str(CHILD): {"ModifiedDate": SAVED}}})
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) <= 11 and all("Stream 'emails'" in w for w in warned)
    assert "'junk0'" in warned[0] and "2990 more entries" in warned[-1]
    assert first_window_start(cursors, CHILD) == parse_window_bound(SAVED)


def test_thousands_of_saved_units_not_read_are_counted_in_one_short_line(caplog):
    saved = {str(1_000_000 + i): {"ModifiedDate": SAVED} for i in range(5000)}
    cursors = cursors_from({UNITS_KEY: saved})
    with caplog.at_level(logging.INFO, logger="airbyte"):
        first_window_start(cursors, HOME)
    (noted,) = [r.getMessage() for r in caplog.records if "does not read" in r.getMessage()]
    assert "5000 business units" in noted and "1000000, 1000001" in noted and len(noted) < 600
    assert len(cursors.state[UNITS_KEY]) == 5000  # every one is still kept


def child_only_emails_stream():
    config = parse_config(
        {
            "client_id": "a-client-id-long-enough",
            "client_secret": "a-client-secret-long-enough",
            "subdomain": "mc563885gzs27c5t9-63k636ttgm",
            "start_date": "2025-01-01T00:00:00Z",
            "business_units": [str(CHILD)],
            "lookback_hours": 0,
        }
    )
    context = SyncContext(config=config, authenticator=UnitTokens(config))
    context.memo("home_mid", lambda: HOME, per_unit=False)  # the package's own unit (/v2/userinfo), not read
    return next(stream for stream in soap_streams(context) if stream.name == "emails")


def test_a_state_saved_before_business_units_is_kept_as_the_home_units_when_the_home_unit_is_not_read():
    # The legacy cursor is the home unit's; a sync of other units only wrote {"business_units": {CHILD: ...}} and the
    # home unit's cursor was gone: read again later, it restarted from start_date.
    cursors = cursors_from({"ModifiedDate": SAVED}, stream=child_only_emails_stream())
    assert first_window_start(cursors, CHILD) == START
    assert cursors.state[UNITS_KEY][str(HOME)] == {"ModifiedDate": SAVED}


def test_a_junk_key_quoting_a_secret_never_shows_part_of_it_when_cut_short(caplog):
    secret = "state-secret-0123456789abcdef"
    add_to_secrets(secret)
    key = "k" * 40 + secret  # the warning quotes a key cut to 60 characters: the cut fell inside the secret
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        cursors_from({UNITS_KEY: {key: {"ModifiedDate": SAVED}}})
    warned = [r.getMessage() for r in caplog.records if "not the MID" in r.getMessage()]
    assert warned and all(secret[:6] not in w for w in warned)
