"""The closing error of a failed read (`FailedStreams`): each failed stream once per reason, in words."""

from datetime import UTC, datetime, timedelta

from airbyte_cdk.models import AirbyteErrorTraceMessage, FailureType, StreamDescriptor
from hypothesis import given, settings
from hypothesis import strategies as st

from source_sfmc.source import FailedStreams
from source_sfmc.stream_base import format_window_bound
from source_sfmc.window_split import span_text

START = datetime(2025, 1, 1, tzinfo=UTC)


def stream_error(stream: str, message: str) -> AirbyteErrorTraceMessage:
    return AirbyteErrorTraceMessage(
        message=message,
        stream_descriptor=StreamDescriptor(name=stream),
        failure_type=FailureType.transient_error,
    )


def timed_out_window(stream: str, lower: datetime, upper: datetime, piece: timedelta) -> AirbyteErrorTraceMessage:
    """What a window that kept timing out reports (SoapStream._read_piece, with SfmcStream._with_context)."""
    return stream_error(
        stream,
        f"Stream '{stream}', window {format_window_bound(lower)} to {format_window_bound(upper)}: Marketing Cloud "
        f"timed out 3 times retrieving SentEvent between {format_window_bound(lower)} and "
        f"{format_window_bound(lower + piece)} (a piece of {span_text(piece)}; pieces of 1 hour or less are not "
        "split further). It is read again from there in the next sync.",
    )


@settings(max_examples=60, deadline=None)
@given(
    windows=st.lists(
        st.tuples(st.integers(min_value=0, max_value=400), st.integers(min_value=60, max_value=3600)),
        min_size=2,
        max_size=40,
    )
)
def test_windows_that_failed_alike_name_their_stream_once_with_a_count(windows):
    failed = FailedStreams()
    for day, piece_seconds in windows:
        lower = START + timedelta(days=day)
        failed.add(timed_out_window("sent_events", lower, lower + timedelta(days=30), timedelta(seconds=piece_seconds)))
    summary = failed.summary()
    assert summary is not None
    assert summary.count("sent_events") == 1 and f"sent_events ({len(windows)} windows" in summary
    assert summary.count("timed out") == 1


def test_different_reasons_of_one_stream_are_each_named_once():
    failed = FailedStreams()
    failed.add(timed_out_window("sent_events", START, START + timedelta(days=30), timedelta(minutes=45)))
    failed.add(stream_error("sent_events", "Stream 'sent_events', business unit 7294501: Marketing Cloud refused"))
    failed.add(stream_error("sent_events", "Stream 'sent_events', business unit 7294502: Marketing Cloud refused"))
    summary = failed.summary()
    assert summary.count("timed out") == 1
    assert "business unit 7294501" in summary and "business unit 7294502" in summary
