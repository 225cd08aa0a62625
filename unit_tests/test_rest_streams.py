"""REST streams: paging to the last page, shared listings, windows on the asset query, and retries."""

import pytest
import requests_mock as requests_mock_module
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from hypothesis import given, settings
from hypothesis import strategies as st

from source_sfmc.business_units import UnitTokens, set_unit
from source_sfmc.config import parse_config
from source_sfmc.rest import (
    Assets,
    Automations,
    CampaignAssets,
    Campaigns,
    JourneyActivities,
    JourneyHistory,
    Journeys,
    JourneyStatistics,
    page_of,
)
from source_sfmc.stream_base import WINDOW_END, WINDOW_START, SyncContext

SUBDOMAIN = "mc563885gzs27c5t9-63k636ttgm"
REST = f"https://{SUBDOMAIN}.rest.marketingcloudapis.com/"


@pytest.fixture(autouse=True)
def token_endpoint(requests_mock):
    a_token_endpoint(requests_mock)


def a_token_endpoint(requests_mock):
    requests_mock.post(
        f"https://{SUBDOMAIN}.auth.marketingcloudapis.com/v2/token",
        json={
            "access_token": "tok",
            "expires_in": 1079,
            "rest_instance_url": REST,
            "soap_instance_url": f"https://{SUBDOMAIN}.soap.marketingcloudapis.com/",
        },
    )
    requests_mock.get(
        f"https://{SUBDOMAIN}.auth.marketingcloudapis.com/v2/userinfo", json={"organization": {"member_id": 7281234}}
    )


@pytest.fixture(autouse=True)
def no_backoff_sleep(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: None)


@pytest.fixture(autouse=True)
def home_unit_afterwards():
    """`stream_slices` names each slice's unit for the rest of the thread (`set_unit`); a test ending there would
    leave it named for the next test's requests and memo keys."""
    yield
    set_unit(None)


@pytest.fixture
def context():
    return a_context()


def a_context():
    config = parse_config({"client_id": "a-client-id-01", "client_secret": "a-secret-45", "subdomain": SUBDOMAIN})
    return SyncContext(config=config, authenticator=UnitTokens(config))


def items(first_id, count):
    return [{"id": str(first_id + n), "name": f"item {first_id + n}"} for n in range(count)]


def a_page(page, total, page_size=50):
    first = (page - 1) * page_size
    return {"count": total, "page": page, "pageSize": page_size, "items": items(first, min(page_size, total - first))}


def read(stream, stream_slice=None):
    return list(stream.read_records(SyncMode.full_refresh, stream_slice=stream_slice or {}))


def test_listing_follows_pages_until_count_is_reached(requests_mock, context):
    route = requests_mock.get(
        f"{REST}hub/v1/campaigns", [{"json": a_page(1, 120)}, {"json": a_page(2, 120)}, {"json": a_page(3, 120)}]
    )
    records = read(Campaigns(context))
    assert [record["entity_id"] for record in records] == [str(n) for n in range(120)]
    assert [request.qs["$page"] for request in route.request_history] == [["1"], ["2"], ["3"]]
    assert route.request_history[0].qs["$pagesize"] == ["50"]


def served_by(page_size, total, *, with_count=True):
    """A listing's answers from a server that serves `page_size` items a page whatever `$pageSize` asks for."""

    def answer(request, response_context):
        page = int(request.qs["$page"][0])
        first = (page - 1) * page_size
        body = {"page": page, "pageSize": page_size, "items": items(first, max(0, min(page_size, total - first)))}
        return {**body, "count": total} if with_count else body

    return answer


def test_a_short_page_does_not_end_a_listing_whose_count_says_more_remain(requests_mock, context):
    # The server serves 25 items a page (its own pageSize) while the count says 120.
    route = requests_mock.get(f"{REST}hub/v1/campaigns", json=served_by(25, 120))
    records = read(Campaigns(context))
    assert [record["entity_id"] for record in records] == [str(n) for n in range(120)]
    assert route.call_count == 5


@settings(max_examples=60, deadline=None)
@given(total=st.integers(min_value=0, max_value=260), page_size=st.integers(min_value=1, max_value=50))
def test_a_listing_with_a_count_is_read_whole_and_once_whatever_page_size_the_server_serves(total, page_size):
    with requests_mock_module.Mocker() as mock:
        a_token_endpoint(mock)
        route = mock.get(f"{REST}hub/v1/campaigns", json=served_by(page_size, total))
        records = read(Campaigns(a_context()))
    assert [record["entity_id"] for record in records] == [str(n) for n in range(total)]
    assert route.call_count == max(1, -(-total // page_size))


def test_a_listing_without_a_count_ends_at_a_page_shorter_than_the_size_asked(requests_mock, context):
    route = requests_mock.get(f"{REST}hub/v1/campaigns", json=served_by(50, 120, with_count=False))
    assert len(read(Campaigns(context))) == 120
    assert route.call_count == 3


def test_listing_stops_on_an_empty_page_even_without_count(requests_mock, context):
    requests_mock.get(f"{REST}hub/v1/campaigns", [{"json": {"items": items(0, 50)}}, {"json": {"items": []}}])
    assert len(read(Campaigns(context))) == 50


def test_journey_listing_is_fetched_once_for_every_stream_derived_from_it(requests_mock, context):
    journey = {"id": "j1", "key": "k", "version": 2, "activities": [{"id": "a1"}, {"id": "a2"}]}
    route = requests_mock.get(f"{REST}interaction/v1/interactions", json={"count": 1, "items": [journey]})
    assert len(read(Journeys(context))) == 1
    assert [record["entity_id"] for record in read(JourneyActivities(context))] == ["j1:a1", "j1:a2"]
    assert route.call_count == 1
    assert route.last_request.qs["mostrecentversiononly"] == ["false"]


def test_automations_are_read_in_detail_one_slice_each(requests_mock, context):
    requests_mock.get(f"{REST}automation/v1/automations", json={"count": 2, "items": items(0, 2)})
    requests_mock.get(f"{REST}automation/v1/automations/1", json={"id": "1", "name": "n", "steps": [{"step": 1}]})
    stream = Automations(context)
    slices = list(stream.stream_slices(sync_mode=SyncMode.full_refresh))
    assert slices == [{"automation_id": "0", "mid": 7281234}, {"automation_id": "1", "mid": 7281234}]
    (record,) = read(stream, slices[1])
    assert record["steps"] == [{"step": 1}]
    assert record["mid"] == 7281234


# -- a listed parent without an id gets no child request -----------------------------------------------------
PARENTS_MISSING_AN_ID = [{"id": "1", "name": "a"}, {"name": "no id"}, {"id": None, "name": "null id"}, {"id": " "}]


def test_campaigns_without_an_id_get_no_assets_request_and_one_warning(requests_mock, context, caplog):
    requests_mock.get(f"{REST}hub/v1/campaigns", json={"count": 4, "items": PARENTS_MISSING_AN_ID})
    assets = requests_mock.get(f"{REST}hub/v1/campaigns/1/assets", json={"count": 1, "items": [{"id": "x1"}]})
    stream = CampaignAssets(context)
    slices = list(stream.stream_slices(sync_mode=SyncMode.full_refresh))
    assert slices == [{"campaign_id": "1", "mid": 7281234}]
    assert [record["id"] for record in read(stream, slices[0])] == ["x1"]
    assert assets.call_count == 1
    (warning,) = [r.getMessage() for r in caplog.records if "had no 'id'" in r.getMessage()]
    assert "campaign_assets" in warning and "3 campaigns" in warning and "'no id' (digest:" in warning


def test_campaigns_without_an_id_are_still_emitted_by_the_campaigns_stream_with_a_digest_key(requests_mock, context):
    requests_mock.get(f"{REST}hub/v1/campaigns", json={"count": 4, "items": PARENTS_MISSING_AN_ID})
    keys = [record["entity_id"] for record in read(Campaigns(context))]
    assert keys[0] == "1" and all(key.startswith("digest:") for key in keys[1:]) and len(set(keys)) == 4


def test_automations_without_an_id_are_emitted_from_their_summary_without_a_detail_request(
    requests_mock, context, caplog
):
    requests_mock.get(f"{REST}automation/v1/automations", json={"count": 4, "items": PARENTS_MISSING_AN_ID})
    detail = requests_mock.get(f"{REST}automation/v1/automations/1", json={"id": "1", "name": "a", "steps": []})
    stream = Automations(context)
    records = [record for s in stream.stream_slices(sync_mode=SyncMode.full_refresh) for record in read(stream, s)]
    assert [record.get("name") for record in records] == ["a", "no id", "null id", None]
    assert records[0]["entity_id"] == "1" and all(r["entity_id"].startswith("digest:") for r in records[1:])
    assert detail.call_count == 1
    assert [r.url for r in requests_mock.request_history if "None" in r.url or r.url.endswith("/")] == []
    (warning,) = [r.getMessage() for r in caplog.records if "had no 'id'" in r.getMessage()]
    assert "'automations'" in warning and "listing summary" in warning


WINDOW = {WINDOW_START: "2025-01-01T00:00:00.000Z", WINDOW_END: "2025-02-01T00:00:00.000Z"}
IN_WINDOW = "2025-01-15T10:00:00.5-06:00"  # the asset API writes dates with an offset


def an_asset(asset_id, modified=IN_WINDOW):
    """An item of the advanced asset query's answer, with the reference's field names."""
    return {
        "id": asset_id,
        "customerKey": f"ck-{asset_id}",
        "assetType": {"id": 208, "name": "htmlemail"},
        "name": f"asset {asset_id}",
        "modifiedDate": modified,
    }


def an_asset_page(ids, count, **dates):
    """`{"count", "page", "pageSize", "links", "items"}` as POST /asset/v1/content/assets/query answers."""
    return {"count": count, "page": 1, "pageSize": 50, "links": {}, "items": [an_asset(i, **dates) for i in ids]}


def test_asset_query_pages_by_id_so_it_never_walks_past_the_10000_result_window(requests_mock, context):
    route = requests_mock.post(
        f"{REST}asset/v1/content/assets/query",
        [{"json": an_asset_page(range(1, 51), 70)}, {"json": an_asset_page(range(51, 71), 20)}],
    )
    records = read(Assets(context), WINDOW)
    assert [record["id"] for record in records] == list(range(1, 71))
    first, second = (request.json() for request in route.request_history)
    assert first["page"] == second["page"] == {"page": 1, "pageSize": 50}
    assert first["sort"] == [{"property": "id", "direction": "ASC"}]
    assert first["query"]["leftOperand"] == {"property": "id", "simpleOperator": "greaterThan", "value": 0}
    assert second["query"]["leftOperand"] == {"property": "id", "simpleOperator": "greaterThan", "value": 50}


def test_asset_query_sends_the_window_as_a_modified_date_condition(requests_mock, context):
    route = requests_mock.post(f"{REST}asset/v1/content/assets/query", json=an_asset_page([1], 1))
    read(Assets(context), WINDOW)
    assert route.last_request.json()["query"]["rightOperand"] == {
        "leftOperand": {
            "property": "modifiedDate",
            "simpleOperator": "greaterThanOrEqual",
            "value": WINDOW[WINDOW_START],
        },
        "logicalOperator": "AND",
        "rightOperand": {"property": "modifiedDate", "simpleOperator": "lessThan", "value": WINDOW[WINDOW_END]},
    }


def test_a_full_refresh_asset_query_still_sends_the_required_query(requests_mock, context):
    route = requests_mock.post(f"{REST}asset/v1/content/assets/query", json=an_asset_page([1, 2], 2))
    assert len(read(Assets(context))) == 2
    assert route.last_request.json()["query"] == {"property": "id", "simpleOperator": "greaterThan", "value": 0}


def test_asset_query_asks_for_every_field_the_schema_declares(requests_mock, context):
    route = requests_mock.post(f"{REST}asset/v1/content/assets/query", json=an_asset_page([1], 1))
    stream = Assets(context)
    read(stream)
    declared = set(stream.get_json_schema()["properties"]) - {"entity_id", "mid"}
    assert set(route.last_request.json()["fields"]) == declared
    assert {"content", "views", "data", "objectID"} <= declared


def test_assets_outside_the_window_are_dropped_when_sfmc_compares_dates_loosely(requests_mock, context):
    requests_mock.post(
        f"{REST}asset/v1/content/assets/query",
        json={**an_asset_page([1], 2), "items": [an_asset(1), an_asset(2, modified="2025-03-01T00:00:00-06:00")]},
    )
    assert [record["id"] for record in read(Assets(context), WINDOW)] == [1]


def test_a_refused_date_condition_is_dropped_and_the_window_filtered_locally(requests_mock, context, caplog):
    def answer(request, response_context):
        if "modifiedDate" in str(request.json()["query"]):
            response_context.status_code = 400
            return {"message": "greaterThanOrEqual needs a number", "errorcode": 10002}
        return {**an_asset_page([1], 2), "items": [an_asset(1), an_asset(2, modified="2024-12-31T17:59:59-06:00")]}

    route = requests_mock.post(f"{REST}asset/v1/content/assets/query", json=answer)
    assert [record["id"] for record in read(Assets(context), WINDOW)] == [1]
    assert route.call_count == 2
    assert "refused the modifiedDate condition" in caplog.text


def test_campaign_assets_page_through_the_documented_entities_envelope(requests_mock, context):
    """The reference's example answer: `{"totalCount", "page", "pageSize", "entities"}`."""

    def entities(first, count, total):
        return {
            "totalCount": total,
            "page": 1,
            "pageSize": 50,
            "entities": [
                {
                    "id": str(n),
                    "type": "EMAIL",
                    "itemID": str(9000 + n),
                    "objectID": f"o-{n}",
                    "createdDate": "2025-01-01T00:00:00",
                }
                for n in range(first, first + count)
            ],
        }

    requests_mock.get(f"{REST}hub/v1/campaigns", json={"count": 1, "items": [{"id": "77"}]})
    route = requests_mock.get(
        f"{REST}hub/v1/campaigns/77/assets", [{"json": entities(0, 50, 60)}, {"json": entities(50, 10, 60)}]
    )
    stream = CampaignAssets(context)
    (campaign,) = stream.stream_slices(sync_mode=SyncMode.full_refresh)
    records = read(stream, campaign)
    assert len(records) == 60
    assert records[0]["campaignId"] == "77" and records[0]["objectID"] == "o-0"
    assert [request.qs["$page"] for request in route.request_history] == [["1"], ["2"]]


def test_journey_statistics_hold_only_the_documented_journey_level_stats(requests_mock, context):
    journey = {
        "id": "j1",
        "key": "k",
        "version": 1,
        "status": "Published",
        "stats": {
            "currentPopulation": 5,
            "cumulativePopulation": 9,
            "metGoal": 2,
            "metExitCriteria": 1,
            "goalPerformance": 22.2,
        },
        "activities": [{"id": "a1", "stats": {"sent": 3}}],
    }
    requests_mock.get(f"{REST}interaction/v1/interactions", json={"count": 1, "items": [journey]})
    (record,) = read(JourneyStatistics(context))
    assert record["cumulativePopulation"] == 9 and record["goalPerformance"] == 22.2
    assert "activities" not in record


def test_a_server_error_is_retried_and_the_page_is_read_once(requests_mock, context):
    route = requests_mock.get(
        f"{REST}hub/v1/campaigns", [{"status_code": 503, "text": "unavailable"}, {"json": a_page(1, 3)}]
    )
    assert len(read(Campaigns(context))) == 3
    assert route.call_count == 2


def test_a_cut_short_json_page_is_retried_not_parsed(requests_mock, context):
    route = requests_mock.get(
        f"{REST}hub/v1/campaigns", [{"text": '{"count": 3, "items": [{"id": "1"'}, {"json": a_page(1, 3)}]
    )
    assert len(read(Campaigns(context))) == 3
    assert route.call_count == 2


def test_an_expired_token_is_renewed_and_the_request_retried(requests_mock, context):
    requests_mock.get(
        f"{REST}hub/v1/campaigns",
        [{"status_code": 401, "json": {"message": "Not Authorized", "errorcode": 0}}, {"json": a_page(1, 3)}],
    )
    assert len(read(Campaigns(context))) == 3
    assert context.authenticator.tokens_fetched == 2


NOT_AUTHORIZED = {"status_code": 401, "json": {"message": "Not Authorized", "errorcode": 0}}


def test_a_401_to_a_freshly_issued_token_fails_the_stream_as_a_config_error_naming_it(requests_mock, context):
    requests_mock.get(f"{REST}hub/v1/campaigns", **NOT_AUTHORIZED)
    with pytest.raises(Exception) as raised:
        read(Campaigns(context))
    assert getattr(raised.value, "failure_type", None) == FailureType.config_error
    message = str(getattr(raised.value, "message", raised.value))
    assert "'campaigns'" in message and "'campaigns_read'" in message and "freshly issued" in message
    assert context.authenticator.tokens_fetched == 3  # the first token and two renewals (DENIED_AFTER_RENEWALS)


def test_after_a_fresh_token_is_refused_other_streams_fail_at_once_without_new_tokens(requests_mock, context):
    requests_mock.get(f"{REST}hub/v1/campaigns", **NOT_AUTHORIZED)
    route = requests_mock.get(f"{REST}automation/v1/automations", **NOT_AUTHORIZED)
    for stream in (Campaigns(context), Automations(context)):
        with pytest.raises(Exception) as raised:
            list(stream.stream_slices(sync_mode=SyncMode.full_refresh))
            read(stream)
        assert getattr(raised.value, "failure_type", None) == FailureType.config_error
    assert context.authenticator.tokens_fetched == 3
    assert route.call_count == 1


def test_a_token_that_expires_twice_with_requests_served_in_between_is_renewed_each_time(requests_mock, context):
    route = requests_mock.get(
        f"{REST}hub/v1/campaigns",
        [NOT_AUTHORIZED, {"json": a_page(1, 3)}, NOT_AUTHORIZED, {"json": a_page(1, 3)}],
    )
    assert len(read(Campaigns(context))) == 3
    assert len(read(Campaigns(a_context_sharing(context)))) == 3
    assert route.call_count == 4 and context.authenticator.tokens_fetched == 3


def test_a_renewed_token_that_expires_before_any_answer_is_renewed_once_more(requests_mock, context):
    # An early expiry of a just renewed token: one more renewal, not a denial.
    requests_mock.get(f"{REST}hub/v1/campaigns", [NOT_AUTHORIZED, NOT_AUTHORIZED, {"json": a_page(1, 3)}])
    assert len(read(Campaigns(context))) == 3
    assert context.authenticator.tokens_fetched == 3


def a_context_sharing(context):
    """Another sync context with the same tokens (so the campaign listing is fetched again, not memoised)."""
    return SyncContext(config=context.config, authenticator=context.authenticator)


def test_a_missing_scope_fails_naming_it(requests_mock, context):
    requests_mock.get(
        f"{REST}hub/v1/campaigns", status_code=403, json={"message": "Insufficient privileges", "errorcode": 20002}
    )
    with pytest.raises(Exception, match="campaigns_read"):
        read(Campaigns(context))


HISTORY_SEARCH = f"{REST}interaction/v1/interactions/journeyhistory/search"
A_DAY = {WINDOW_START: "2026-11-01T00:00:00.000Z", WINDOW_END: "2026-11-02T00:00:00.000Z"}


def test_a_journey_history_range_at_the_cap_is_split_until_each_half_is_under_it(requests_mock, context):
    noon = "2026-11-01T12:00:00.000Z"

    def answer(request, _):
        body = request.json()
        spans_noon = body["start"] < noon < body["end"]
        return {"count": 10_000 if spans_noon else 3, "items": [{"id": f"{body['start']}#{n}"} for n in range(3)]}

    route = requests_mock.post(HISTORY_SEARCH, json=answer)

    records = read(JourneyHistory(context), A_DAY)

    ranges = [(r.json()["start"], r.json()["end"]) for r in route.request_history]
    assert ranges == [
        ("2026-11-01T00:00:00.000Z", "2026-11-02T00:00:00.000Z"),
        ("2026-11-01T00:00:00.000Z", "2026-11-01T12:00:00.000Z"),
        ("2026-11-01T12:00:00.000Z", "2026-11-02T00:00:00.000Z"),
    ]
    assert len(records) == 6


def test_a_second_that_holds_the_cap_fails_with_a_clear_error(requests_mock, context):
    requests_mock.post(HISTORY_SEARCH, json={"count": 10_000, "page": 1, "pageSize": 50, "items": []})

    with pytest.raises(AirbyteTracedException, match="10,000 or more entries"):
        read(
            JourneyHistory(context), {WINDOW_START: "2026-11-01T00:00:00.000Z", WINDOW_END: "2026-11-01T00:00:01.000Z"}
        )


def history_page(first, size, **extra):
    return {**extra, "items": [{"id": f"entry-{first + n}"} for n in range(size)]}


@pytest.mark.parametrize("count", [None, "120", -1])
def test_a_journey_history_answer_without_a_usable_count_is_paged_until_a_short_page(requests_mock, context, count):
    extra = {} if count is None else {"count": count}
    route = requests_mock.post(
        HISTORY_SEARCH,
        [
            {"json": history_page(0, 50, **extra)},
            {"json": history_page(50, 50, **extra)},
            {"json": history_page(100, 20, **extra)},
        ],
    )

    records = read(JourneyHistory(context), A_DAY)

    assert [record["entity_id"] for record in records] == [f"entry-{n}" for n in range(120)]
    assert [request.qs["$page"] for request in route.request_history] == [["1"], ["2"], ["3"]]


def test_a_short_journey_history_page_does_not_end_a_search_whose_count_says_more_remain(requests_mock, context):
    def answer(request, response_context):
        page = int(request.qs["$page"][0])
        return {**history_page((page - 1) * 25, max(0, min(25, 120 - (page - 1) * 25))), "count": 120}

    route = requests_mock.post(HISTORY_SEARCH, json=answer)
    records = read(JourneyHistory(context), A_DAY)
    assert [record["entity_id"] for record in records] == [f"entry-{n}" for n in range(120)]
    assert route.call_count == 5


def test_journey_history_entries_without_an_id_get_distinct_stable_keys(requests_mock, context):
    entries = [
        {"contactKey": "a", "transactionTime": "2026-11-01T01:00:00"},
        {"contactKey": "b", "transactionTime": "2026-11-01T01:00:00"},
    ]
    requests_mock.post(HISTORY_SEARCH, json={"count": 2, "items": entries})

    first, second = (record["entity_id"] for record in read(JourneyHistory(context), A_DAY))
    again = read(JourneyHistory(context), A_DAY)[0]["entity_id"]

    assert first != second and "None" not in (first, second)
    assert again == first


@given(
    st.one_of(
        st.none(),
        st.integers(),
        st.text(max_size=5),
        st.lists(st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), max_size=3),
        st.dictionaries(
            st.sampled_from(["items", "entities", "count", "totalCount", "page", "links"]),
            st.one_of(st.none(), st.integers(), st.booleans(), st.lists(st.one_of(st.integers(), st.just({"id": 1})))),
        ),
    )
)
def test_any_listing_body_reads_as_a_list_of_items_and_an_integer_total_or_none(body):
    items, total = page_of(body)
    assert all(isinstance(item, dict) for item in items)
    assert total is None or (isinstance(total, int) and not isinstance(total, bool))


def test_the_campaign_list_of_the_reference_example_reads_its_items_and_count():
    # "GET /hub/v1/campaigns" (getCampaignCollection.htm), example response: HAL-style links beside the page.
    body = {
        "page": 1,
        "pageSize": 2,
        "count": 3,
        "links": {
            "self": {"href": "/v1/campaigns?$page=1&$pagesize=2"},
            "next": {"href": "/v1/campaigns?$page=2&$pagesize=2"},
        },
        "items": [{"id": "301", "name": "2012 Master Campaign"}, {"id": "302", "name": "Spring"}],
    }
    items, total = page_of(body)
    assert [item["id"] for item in items] == ["301", "302"] and total == 3


def test_asset_ids_written_as_strings_still_page_past_the_first_page(requests_mock, context):
    def answer(request, response_context):
        after = int(request.json()["query"]["leftOperand"]["value"])
        ids = [i for i in range(1, 71) if i > after][:50]
        return {**an_asset_page([], 70 - after), "items": [an_asset(str(i)) for i in ids]}

    requests_mock.post(f"{REST}asset/v1/content/assets/query", json=answer)
    assert [record["id"] for record in read(Assets(context), WINDOW)] == list(range(1, 71))


def test_an_asset_query_that_ignores_the_id_condition_ends_instead_of_looping(requests_mock, context):
    route = requests_mock.post(f"{REST}asset/v1/content/assets/query", json=an_asset_page(range(1, 51), 500))
    assert len(read(Assets(context), WINDOW)) == 50
    assert route.call_count == 2


def test_a_short_asset_page_does_not_end_a_query_whose_count_says_more_remain(requests_mock, context):
    # 25 assets an answer; each query's count is what remains after the id it asks from.
    def answer(request, response_context):
        after = request.json()["query"]["leftOperand"]["value"]
        return an_asset_page(range(after + 1, min(after + 25, 120) + 1), 120 - after)

    route = requests_mock.post(f"{REST}asset/v1/content/assets/query", json=answer)
    assert [record["id"] for record in read(Assets(context), WINDOW)] == list(range(1, 121))
    assert route.call_count == 5


def test_a_listing_that_ignores_page_ends_instead_of_looping(requests_mock, context):
    route = requests_mock.get(f"{REST}hub/v1/campaigns", json={"items": items(0, 50)})
    assert len(read(Campaigns(context))) == 50
    assert route.call_count == 2


def test_a_listing_count_written_as_a_string_still_ends_the_listing(requests_mock, context):
    route = requests_mock.get(f"{REST}hub/v1/campaigns", [{"json": {**a_page(1, 50), "count": "50"}}])
    assert len(read(Campaigns(context))) == 50
    assert route.call_count == 1


def test_a_refused_date_condition_is_warned_about_once_and_not_sent_again_for_later_windows(
    requests_mock, context, caplog
):
    def answer(request, response_context):
        if "modifiedDate" in str(request.json()["query"]):
            response_context.status_code = 400
            return {"message": "greaterThanOrEqual needs a number", "errorcode": 10002}
        return an_asset_page([1], 1)

    route = requests_mock.post(f"{REST}asset/v1/content/assets/query", json=answer)
    stream = Assets(context)
    later = {WINDOW_START: "2025-02-01T00:00:00.000Z", WINDOW_END: "2025-03-01T00:00:00.000Z"}
    read(stream, WINDOW), read(stream, later)
    assert route.call_count == 3
    assert caplog.text.count("refused the modifiedDate condition") == 1


def shuffled_pages_of(page_items, *, count=None, seed=0):
    """A server that ignores `$page` and serves the same items in a new order every time (an unstable sort)."""
    import random

    order = random.Random(seed)

    def answer(request, response_context):
        page = list(page_items)
        order.shuffle(page)
        return {"items": page} if count is None else {"count": count, "items": page}

    return answer


@pytest.mark.parametrize("count", [None, 10**6])
def test_a_listing_that_ignores_page_and_reorders_its_items_ends_at_the_first_repeat(requests_mock, context, count):
    # Full pages without a count, or a count no page will reach: only the repeat can end the listing.
    route = requests_mock.get(f"{REST}hub/v1/campaigns", json=shuffled_pages_of(items(0, 50), count=count))
    assert sorted(int(record["entity_id"]) for record in read(Campaigns(context))) == list(range(50))
    assert route.call_count == 2


def test_a_journey_history_search_that_reorders_a_repeated_page_ends_at_the_repeat(requests_mock, context):
    entries = history_page(0, 50)["items"]
    route = requests_mock.post(HISTORY_SEARCH, json=shuffled_pages_of(entries, count=5000))
    assert len(read(JourneyHistory(context), A_DAY)) == 50
    assert route.call_count == 2


@pytest.mark.parametrize("count", [0, 10, -1, "7"])
def test_a_count_below_the_items_already_read_is_ignored_and_the_listing_read_to_its_short_page(
    requests_mock, context, count
):
    route = requests_mock.get(
        f"{REST}hub/v1/campaigns", json=lambda request, ctx: {**served_by(50, 120)(request, ctx), "count": count}
    )
    assert [record["entity_id"] for record in read(Campaigns(context))] == [str(n) for n in range(120)]
    assert route.call_count == 3


@pytest.mark.parametrize("count", [0, 3])
def test_a_journey_history_count_below_the_entries_read_is_ignored(requests_mock, context, count):
    pages = [history_page(0, 50, count=count), history_page(50, 50, count=count), history_page(100, 20, count=count)]
    requests_mock.post(HISTORY_SEARCH, [{"json": page} for page in pages])
    assert [record["entity_id"] for record in read(JourneyHistory(context), A_DAY)] == [
        f"entry-{n}" for n in range(120)
    ]


def test_an_asset_count_below_the_page_it_came_with_is_ignored(requests_mock, context):
    def answer(request, response_context):
        after = request.json()["query"]["leftOperand"]["value"]
        return an_asset_page(range(after + 1, min(after + 50, 120) + 1), 1)

    requests_mock.post(f"{REST}asset/v1/content/assets/query", json=answer)
    assert [record["id"] for record in read(Assets(context), WINDOW)] == list(range(1, 121))


@pytest.mark.parametrize("dot_id", [".", ".."])
def test_a_campaign_whose_id_is_a_dot_segment_gets_no_request_for_another_path(requests_mock, context, caplog, dot_id):
    # `hub/v1/campaigns/../assets` is sent as `hub/v1/assets` (the HTTP client resolves dot segments).
    requests_mock.get(f"{REST}hub/v1/campaigns", json={"count": 2, "items": [{"id": "1"}, {"id": dot_id}]})
    stream = CampaignAssets(context)
    assert list(stream.stream_slices(sync_mode=SyncMode.full_refresh)) == [{"campaign_id": "1", "mid": 7281234}]
    (warning,) = [r.getMessage() for r in caplog.records if "campaign_assets" in r.getMessage()]
    assert "1 campaigns" in warning


def test_an_automation_whose_id_is_a_dot_segment_is_emitted_from_its_summary(requests_mock, context):
    requests_mock.get(f"{REST}automation/v1/automations", json={"count": 1, "items": [{"id": "..", "name": "x"}]})
    stream = Automations(context)
    slices = list(stream.stream_slices(sync_mode=SyncMode.full_refresh))
    assert [record["name"] for stream_slice in slices for record in read(stream, stream_slice)] == ["x"]
    assert [request.path for request in requests_mock.request_history if "automation" in request.path] == [
        "/automation/v1/automations"
    ]
