"""Hostile answers over real HTTP: every paging loop ends, no record is emitted twice because a server ignored a
page parameter, paging fields are read tolerantly, and no record is keyed by the text of a missing value."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airbyte_cdk.models import ConfiguredAirbyteCatalogSerializer
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
from airbyte_cdk.test.models.outcome import ExpectedOutcome

from integration_tests.harness import (
    configured_catalog,
    discovered,
    error_messages,
    only_unit,
    records_by_stream,
    run_console,
)
from integration_tests.sandbox import Sandbox
from integration_tests.standins import (
    Answer,
    Received,
    is_token_request,
    json_answer,
    soap_answer,
    stand_in,
    token_answer,
)
from source_sfmc.keys import DIGEST_PREFIX
from source_sfmc.paging import MAX_EMPTY_PAGES_IN_A_ROW
from source_sfmc.source import SourceSfmc


def _read_stream(sandbox: Sandbox, stream: str, answer: Callable[[Received], Answer], **config: Any):
    """Read one stream (full refresh) from a stand-in whose token endpoint works and `answer` does the rest."""

    def script(request: Received) -> Answer:
        return token_answer(server.url) if is_token_request(request) else answer(request)

    with stand_in(script) as server:
        catalog = configured_catalog(discovered(sandbox), [stream], incremental=False)
        output: EntrypointOutput = read(
            SourceSfmc(), server.config(**config), catalog, None, expected_outcome=ExpectedOutcome.EXPECT_EXCEPTION
        )
        requests = server.retrieves_and_rest()
    return output, records_by_stream(output.records).get(stream, []), requests


def _campaigns(first: int, count: int) -> list[dict[str, Any]]:
    return [{"id": str(n), "name": f"campaign {n}"} for n in range(first, first + count)]


def _page_of(request: Received) -> int:
    return int(parse_qs(urlsplit(request.path).query).get("$page", ["1"])[0])


# -- 7. every paging loop ends -------------------------------------------------------------------------------------
def test_a_listing_without_count_that_ignores_the_page_parameter_ends_and_emits_each_record_once(
    sandbox: Sandbox,
) -> None:
    output, records, requests = _read_stream(
        sandbox, "campaigns", lambda request: json_answer({"items": _campaigns(0, 50)})
    )
    assert len(requests) == 2  # the second page repeats the first: the listing ends there
    assert sorted(record["entity_id"] for record in records) == sorted(str(n) for n in range(50))
    assert error_messages(output) == []


def test_a_listing_that_cycles_between_two_pages_ends_at_the_first_page_it_has_seen_before(sandbox: Sandbox) -> None:
    # Pages A, B, A, B...: no page repeats the one just before it, but the third repeats the first.
    output, records, requests = _read_stream(
        sandbox, "campaigns", lambda request: json_answer({"items": _campaigns(50 * (_page_of(request) % 2), 50)})
    )
    assert len(requests) == 3
    assert sorted(int(record["entity_id"]) for record in records) == list(range(100))
    assert error_messages(output) == []


def test_a_listing_whose_count_is_text_reads_it_as_the_number(sandbox: Sandbox) -> None:
    def answer(request: Received) -> Answer:
        page = _page_of(request)
        return json_answer({"items": _campaigns((page - 1) * 50, min(50, 120 - (page - 1) * 50)), "count": "120"})

    output, records, requests = _read_stream(sandbox, "campaigns", answer)
    assert len(records) == 120 and len(requests) == 3
    assert error_messages(output) == []


def test_a_listing_served_in_pages_shorter_than_asked_is_read_to_its_count(sandbox: Sandbox) -> None:
    # SFMC may serve fewer items a page than `$pageSize` asks (its own `pageSize`); `count` says how many remain.
    def answer(request: Received) -> Answer:
        page = _page_of(request)
        first = (page - 1) * 25
        return json_answer(
            {"count": 120, "page": page, "pageSize": 25, "items": _campaigns(first, min(25, 120 - first))}
        )

    output, records, requests = _read_stream(sandbox, "campaigns", answer)
    assert sorted(int(record["entity_id"]) for record in records) == list(range(120))
    assert len(requests) == 5
    assert error_messages(output) == []


def _parents_missing_an_id(request: Received) -> Answer:
    path = urlsplit(request.path).path.rstrip("/")
    listed = [{"id": "1", "name": "a"}, {"name": "no id"}, {"id": None, "name": "null id"}]
    if path.endswith(("hub/v1/campaigns", "automation/v1/automations")):
        return json_answer({"count": 3, "page": 1, "pageSize": 50, "items": listed})
    if path.endswith("/assets"):
        return json_answer({"count": 1, "page": 1, "pageSize": 50, "items": [{"id": "x" + path.split("/")[-2]}]})
    if "automation/v1/automations/" in path:
        return json_answer({"id": path.rsplit("/", 1)[1], "name": "detail"})
    return json_answer({"message": "Not Found", "errorcode": 404}, 404)


def test_a_campaign_without_an_id_gets_no_assets_request(sandbox: Sandbox) -> None:
    output, records, requests = _read_stream(sandbox, "campaign_assets", _parents_missing_an_id)
    assert [record["id"] for record in records] == ["x1"]
    assert [urlsplit(r.path).path for r in requests] == ["/hub/v1/campaigns", "/hub/v1/campaigns/1/assets"]
    assert error_messages(output) == []


def test_an_automation_without_an_id_is_emitted_from_its_summary_without_a_detail_request(sandbox: Sandbox) -> None:
    output, records, requests = _read_stream(sandbox, "automations", _parents_missing_an_id)
    assert sorted(record["name"] for record in records) == ["detail", "no id", "null id"]
    assert sorted(urlsplit(r.path).path for r in requests) == [
        "/automation/v1/automations",
        "/automation/v1/automations/1",
    ]
    assert error_messages(output) == []


def test_a_listing_that_never_stops_growing_ends_at_a_short_page_or_the_page_cap(sandbox: Sandbox) -> None:
    def answer(request: Received) -> Answer:
        page = _page_of(request)
        return json_answer({"items": _campaigns((page - 1) * 50, 50) if page <= 4 else [], "count": "lots"})

    output, records, requests = _read_stream(sandbox, "campaigns", answer)
    assert len(records) == 200 and len(requests) == 5
    assert error_messages(output) == []


def _asset_answer(page: Any, items: list[dict[str, Any]], count: Any = 120) -> Answer:
    return json_answer({"page": page, "pageSize": 50, "count": count, "items": items})


def _assets(first: int, count: int) -> list[dict[str, Any]]:
    return [
        {"id": n, "name": f"asset {n}", "modifiedDate": "2025-02-01T00:00:00Z"} for n in range(first, first + count)
    ]


def _after_id(request: Received) -> int:
    """The id the asset query asks for items after (its keyset condition)."""
    query = json.loads(request.body)["query"]
    condition = query.get("leftOperand", query)
    return int(condition["value"])


def test_asset_paging_fields_given_as_text_are_read_as_numbers(sandbox: Sandbox) -> None:
    def answer(request: Received) -> Answer:
        after = _after_id(request)
        remaining = max(0, 120 - after)
        return _asset_answer("1", _assets(after + 1, min(50, remaining)), count=str(remaining))

    output, records, requests = _read_stream(sandbox, "assets", answer)
    assert error_messages(output) == []
    assert len(records) == 120 and len(requests) == 3


def test_an_asset_query_that_ignores_its_id_condition_emits_each_asset_once(sandbox: Sandbox) -> None:
    output, records, requests = _read_stream(
        sandbox, "assets", lambda request: _asset_answer("1", _assets(1, 50), count=1000)
    )
    assert error_messages(output) == []
    assert len(records) == 50 and len({record["entity_id"] for record in records}) == 50
    assert len(requests) == 2


def test_an_asset_query_answering_lower_ids_than_asked_ends(sandbox: Sandbox) -> None:
    def answer(request: Received) -> Answer:
        after = _after_id(request)
        return _asset_answer(1, _assets(1 if after else 100, 50), count=1000)  # then ids below those asked for

    output, records, requests = _read_stream(sandbox, "assets", answer)
    assert error_messages(output) == []
    assert len(requests) == 2 and len(records) == 100


_ROW = '<Results xsi:type="List" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><ID>{id}</ID><ListName>l{id}</ListName></Results>'


def test_a_soap_retrieve_that_always_has_more_data_with_the_same_page_ends_and_emits_each_row_once(
    sandbox: Sandbox,
) -> None:
    rows = "".join(_ROW.format(id=n) for n in range(5))
    output, records, requests = _read_stream(
        sandbox, "subscriber_lists", lambda request: soap_answer(rows, "MoreDataAvailable", "same-request-id")
    )
    assert error_messages(output) == []
    assert sorted(record["entity_id"] for record in records) == [str(n) for n in range(5)]
    assert len(requests) == 2


def _rows(first: int, count: int) -> str:
    return "".join(_ROW.format(id=n) for n in range(first, first + count))


def test_a_soap_retrieve_continues_past_empty_more_data_pages_to_the_rows_after_them(sandbox: Sandbox) -> None:
    # SFMC's "SOAP API Performance": continue making calls until the API returns OK. An empty MoreDataAvailable
    # page (two in a row here) is no end: the rows after it belong to the same retrieve.
    pages = iter(
        [
            soap_answer(_rows(0, 3), "MoreDataAvailable", "rid-1"),
            soap_answer("", "MoreDataAvailable", "rid-1"),
            soap_answer("", "MoreDataAvailable", "rid-1"),
            soap_answer(_rows(3, 2), "OK", "rid-1"),
        ]
    )

    output, records, requests = _read_stream(sandbox, "subscriber_lists", lambda request: next(pages))

    assert error_messages(output) == []
    assert sorted(int(record["entity_id"]) for record in records) == list(range(5))
    assert len(requests) == 4


def test_a_soap_retrieve_answering_empty_more_data_pages_forever_fails_loudly(sandbox: Sandbox) -> None:
    def answer(request: Received) -> Answer:
        first = b"ContinueRequest" not in request.body
        return soap_answer(_rows(0, 3) if first else "", "MoreDataAvailable", "rid-1")

    output, _, requests = _read_stream(sandbox, "subscriber_lists", answer)

    errors = error_messages(output)
    assert any("subscriber_lists" in error and "empty pages in a row" in error for error in errors), errors
    assert len(requests) == 1 + MAX_EMPTY_PAGES_IN_A_ROW


def test_no_state_passes_a_window_whose_retrieve_answers_empty_more_data_pages_forever(sandbox: Sandbox) -> None:
    # One window (start ten days ago, 30-day windows): every window costs 1 + MAX_EMPTY_PAGES_IN_A_ROW requests.
    start = (datetime.now(UTC) - timedelta(days=10)).strftime("%Y-%m-%dT00:00:00Z")

    def script(request: Received) -> Answer:
        return token_answer(server.url) if is_token_request(request) else soap_answer("", "MoreDataAvailable", "rid-1")

    with stand_in(script) as server:
        catalog = configured_catalog(discovered(sandbox), ["sent_events"], incremental=True)
        config = server.config(start_date=start, window_days=30, num_workers=1)
        output = read(SourceSfmc(), config, catalog, None, expected_outcome=ExpectedOutcome.EXPECT_EXCEPTION)

    assert any("empty pages in a row" in error for error in error_messages(output))
    states = [only_unit(message.state.stream.stream_state) for message in output.state_messages]
    assert not output.records
    assert all(state["EventDate"] <= start.replace("Z", ".000Z") for state in states if "EventDate" in state), states


# -- 8. no record is keyed "None" ----------------------------------------------------------------------------------
def test_campaigns_without_an_id_get_distinct_keys_never_none(sandbox: Sandbox) -> None:
    items = [{"id": None, "name": "a"}, {"name": "b"}, {"id": None, "name": "c"}]
    output, records, _ = _read_stream(sandbox, "campaigns", lambda request: json_answer({"items": items, "count": 3}))
    keys = [record["entity_id"] for record in records]
    assert len(keys) == 3 and len(set(keys)) == 3
    assert all(key.startswith(DIGEST_PREFIX) for key in keys)
    assert error_messages(output) == []


def test_a_folder_answer_without_its_id_gets_a_digest_key(sandbox: Sandbox) -> None:
    folder = (
        '<Results xsi:type="DataFolder" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<Name>{name}</Name><ContentType>email</ContentType></Results>"
    )
    rows = folder.format(name="Shared") + folder.format(name="Private")
    output, records, _ = _read_stream(sandbox, "folders", lambda request: soap_answer(rows))
    keys = [record["entity_id"] for record in records]
    assert len(set(keys)) == 2 and all(key.startswith(DIGEST_PREFIX) for key in keys)
    assert not any(re.fullmatch(r"None|", key) for key in keys)
    assert error_messages(output) == []


# -- values emitted as null are written as null --------------------------------------------------------------------
def test_the_source_sfmc_command_writes_a_null_value_as_a_null_not_an_absent_key(sandbox: Sandbox) -> None:
    campaign = {"id": "1", "name": "c", "description": None, "campaignCode": "", "color": None}

    def script(request: Received) -> Answer:
        if is_token_request(request):
            return token_answer(server.url)
        return json_answer({"count": 1, "page": 1, "pageSize": 50, "items": [campaign]})

    catalog = configured_catalog(discovered(sandbox), ["campaigns"], incremental=False)
    with stand_in(script) as server:
        code, messages, _ = run_console(
            "read",
            "--config",
            "{config}",
            "--catalog",
            "{catalog}",
            files={"config": server.config(), "catalog": ConfiguredAirbyteCatalogSerializer.dump(catalog)},
        )
    (record,) = [message["record"]["data"] for message in messages if message.get("type") == "RECORD"]
    assert code == 0
    assert record["description"] is None and record["color"] is None and "description" in record and "color" in record
    assert record["campaignCode"] == ""
