"""Incremental state per business unit (`UnitCursors`): each unit resumes from its own cursor, a unit the state does
not know starts from start_date, a state saved before business units is the home unit's, and no input state
crashes the sync."""

from datetime import UTC, datetime

from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import InMemoryMessageRepository
from airbyte_cdk.test.state_builder import StateBuilder
from hypothesis import given, settings
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
