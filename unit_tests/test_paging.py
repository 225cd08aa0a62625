"""The paging rule's handling of empty pages (`PageGuard`): never a repeat, and bounded when they go on."""

from __future__ import annotations

import pytest
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_sfmc.paging import MAX_EMPTY_PAGES_IN_A_ROW, PageGuard


def a_guard(**limits: int) -> PageGuard:
    return PageGuard("sent_events", "Retrieve of SentEvent", **limits)


def test_two_empty_pages_in_a_row_are_not_a_repeated_page() -> None:
    guard = a_guard()

    assert [guard.repeats([]), guard.repeats([])] == [False, False]


def test_empty_pages_in_a_row_fail_the_listing_loudly_at_the_bound() -> None:
    guard = a_guard()
    for _ in range(MAX_EMPTY_PAGES_IN_A_ROW - 1):
        assert not guard.repeats([])

    with pytest.raises(AirbyteTracedException, match=r"sent_events.*empty pages in a row"):
        guard.repeats([])


def test_a_page_with_items_restarts_the_count_of_empty_pages() -> None:
    guard = a_guard(max_empty=3)
    guard.repeats([])
    guard.repeats([])
    guard.repeats([{"ID": 1}])

    assert not guard.repeats([]) and not guard.repeats([])


def test_a_page_of_items_seen_before_is_still_a_repeat() -> None:
    guard = a_guard()
    guard.repeats([{"ID": 1}])
    guard.repeats([])

    assert guard.repeats([{"ID": 1}])
