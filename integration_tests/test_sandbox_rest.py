"""The sandbox's token endpoint, REST API, routing, stats and CLI behave like SFMC, over real HTTP."""

from __future__ import annotations

import importlib.util
import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from integration_tests.sandbox import Sandbox
from integration_tests.sandbox.rest_data import build_rest_data
from integration_tests.sandbox.soap_accounts import MAIN_MID

SOAP_SIDE_PRESENT = importlib.util.find_spec("integration_tests.sandbox.soap") is not None
ASSET_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?-06:00$")
NOT_AUTHORIZED = {
    "documentation": "https://developer.salesforce.com/docs/atlas.en-us.mc-apis.meta/mc-apis/error-handling.htm",
    "errorcode": 0,
    "message": "Not Authorized",
}


# --- builders -----------------------------------------------------------------------------------


def token_body(sandbox: Sandbox, **overrides: Any) -> dict[str, Any]:
    return {
        "grant_type": "client_credentials",
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        **overrides,
    }


def request_token(sandbox: Sandbox, **overrides: Any) -> requests.Response:
    return requests.post(f"{sandbox.base_url}/v2/token", json=token_body(sandbox, **overrides), timeout=5)


def access_token(sandbox: Sandbox, **overrides: Any) -> str:
    response = request_token(sandbox, **overrides)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def api_session(sandbox: Sandbox) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {access_token(sandbox)}"
    return session


def get(session: requests.Session, sandbox: Sandbox, path: str, **params: Any) -> requests.Response:
    return session.get(f"{sandbox.base_url}{path}", params=params, timeout=5)


def query_assets(session: requests.Session, sandbox: Sandbox, **body: Any) -> requests.Response:
    return session.post(f"{sandbox.base_url}/asset/v1/content/assets/query", json=body, timeout=5)


def all_pages(fetch: Any, page_size: int) -> list[dict[str, Any]]:
    """Every page of a `$page`-paged collection until an empty page; asserts each page's envelope."""
    items: list[dict[str, Any]] = []
    for page in range(1, 100):
        payload = fetch(page)
        assert payload["page"] == page and payload["pageSize"] == page_size
        if not payload["items"]:
            assert len(items) == payload["count"]
            return items
        items.extend(payload["items"])
    raise AssertionError("paging never ended")


@pytest.fixture(scope="module")
def api(sandbox: Sandbox) -> requests.Session:
    return api_session(sandbox)


# --- token --------------------------------------------------------------------------------------


def test_token_grants_a_bearer_token_with_instance_urls_ending_in_slash(sandbox: Sandbox) -> None:
    response = request_token(sandbox)
    answer = response.json()
    assert response.status_code == 200
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 1079
    assert answer["rest_instance_url"] == answer["soap_instance_url"] == f"{sandbox.base_url}/"
    assert {"campaigns_read", "journeys_read", "data_extensions_read"} <= set(answer["scope"].split(" "))
    assert len(answer["access_token"]) > 40


def test_token_accepts_a_form_encoded_body(sandbox: Sandbox) -> None:
    response = requests.post(f"{sandbox.base_url}/v2/token", data=token_body(sandbox), timeout=5)
    assert response.status_code == 200 and response.json()["access_token"]


def test_token_with_a_wrong_secret_answers_sfmcs_invalid_client_body(sandbox: Sandbox) -> None:
    response = request_token(sandbox, client_secret="wrong")
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "Client authentication failed. Make sure that the client ID and client secret are "
        "valid and that the package is installed and enabled.",
        "error_uri": "https://developer.salesforce.com/docs",
    }


@pytest.mark.parametrize("grant_type", [None, "password"])
def test_token_without_the_client_credentials_grant_is_unsupported(sandbox: Sandbox, grant_type: Any) -> None:
    response = request_token(sandbox, grant_type=grant_type)
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"


def test_token_for_a_known_child_business_unit_is_granted(sandbox: Sandbox) -> None:
    assert request_token(sandbox, account_id=7294501).status_code == 200
    assert request_token(sandbox, account_id="7294502").status_code == 200


@pytest.mark.parametrize("account_id", [999, "not-a-mid", True])
def test_token_for_an_unknown_or_malformed_account_id_is_refused(sandbox: Sandbox, account_id: Any) -> None:
    response = request_token(sandbox, account_id=account_id)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_token_scope_request_narrows_the_token(sandbox: Sandbox) -> None:
    response = request_token(sandbox, scope="campaigns_read not_granted")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    assert response.json()["scope"] == "campaigns_read"
    assert get(session, sandbox, "/hub/v1/campaigns").status_code == 200
    assert get(session, sandbox, "/automation/v1/automations").status_code == 403


def test_token_expires_after_its_ttl(start_sandbox: Any) -> None:
    short_lived = start_sandbox(token_ttl=0.3)
    session = api_session(short_lived)
    assert get(session, short_lived, "/hub/v1/campaigns").status_code == 200
    time.sleep(0.35)
    expired = get(session, short_lived, "/hub/v1/campaigns")
    assert expired.status_code == 401 and expired.json() == NOT_AUTHORIZED


# --- authorization ------------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic abc"])
def test_rest_without_a_live_token_is_not_authorized(sandbox: Sandbox, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.get(f"{sandbox.base_url}/hub/v1/campaigns", headers=headers, timeout=5)
    assert response.status_code == 401 and response.json() == NOT_AUTHORIZED


def test_rest_call_without_its_scope_is_forbidden(start_sandbox: Any) -> None:
    narrow = start_sandbox(scopes=["campaigns_read"])
    session = api_session(narrow)
    denied = get(session, narrow, "/interaction/v1/interactions")
    assert denied.status_code == 403 and denied.json()["errorcode"] == 20002
    assert denied.json()["message"] == "Insufficient privileges to complete this action."
    assert get(session, narrow, "/hub/v1/campaigns").status_code == 200
    rows = get(session, narrow, "/data/v1/customobjectdata/key/Customers/rowset")
    assert rows.status_code == 403


def test_unknown_path_answers_not_found(sandbox: Sandbox, api: requests.Session) -> None:
    response = get(api, sandbox, "/hub/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {
        "errorcode": 404,
        "message": "Not Found",
        "documentation": NOT_AUTHORIZED["documentation"],
    }


# --- campaigns ----------------------------------------------------------------------------------


def test_campaign_pages_hold_every_campaign_once(sandbox: Sandbox, api: requests.Session) -> None:
    def fetch(page: int) -> dict[str, Any]:
        return get(api, sandbox, "/hub/v1/campaigns", **{"$page": page, "$pageSize": 50}).json()

    campaigns = all_pages(fetch, 50)
    assert len(campaigns) == 120 and len({c["id"] for c in campaigns}) == 120
    assert len(fetch(3)["items"]) == 20
    assert set(campaigns[0]) >= {"id", "name", "description", "campaignCode", "color", "favorite", "modifiedDate"}


def test_campaign_page_size_is_clamped_to_50(sandbox: Sandbox, api: requests.Session) -> None:
    payload = get(api, sandbox, "/hub/v1/campaigns", **{"$pageSize": 500}).json()
    assert payload["pageSize"] == 50 and len(payload["items"]) == 50


def test_campaigns_follow_order_by_modified_date(sandbox: Sandbox, api: requests.Session) -> None:
    params = {"$pageSize": 50, "$orderBy": "ModifiedDate ASC"}
    dates = [c["modifiedDate"] for c in get(api, sandbox, "/hub/v1/campaigns", **params).json()["items"]]
    assert dates == sorted(dates)


def test_campaign_assets_are_a_paged_items_envelope_not_a_bare_list(sandbox: Sandbox, api: requests.Session) -> None:
    owners = [cid for cid, assets in build_rest_data().campaign_assets.items() if assets]
    body = get(api, sandbox, f"/hub/v1/campaigns/{owners[0]}/assets").json()
    assert set(body) == {"count", "page", "pageSize", "items"}
    assert {a["campaignId"] for a in body["items"]} == {owners[0]}
    assert set(body["items"][0]) == {"id", "campaignId", "type", "itemID", "objectID", "createdDate"}


def test_some_campaign_has_more_assets_than_one_page(sandbox: Sandbox, api: requests.Session) -> None:
    big = next(cid for cid, assets in build_rest_data().campaign_assets.items() if len(assets) > 50)
    first = get(api, sandbox, f"/hub/v1/campaigns/{big}/assets?$page=1&$pageSize=50").json()
    third = get(api, sandbox, f"/hub/v1/campaigns/{big}/assets?$page=3&$pageSize=50").json()
    assert len(first["items"]) == 50 and first["count"] > 100
    assert len(third["items"]) == first["count"] - 100


def test_asset_query_past_the_10000_result_window_fails(sandbox: Sandbox, api: requests.Session) -> None:
    query = {"property": "id", "simpleOperator": "greaterThan", "value": 0}
    assert query_assets(api, sandbox, page={"page": 200, "pageSize": 50}, query=query).status_code == 200
    refused = query_assets(api, sandbox, page={"page": 201, "pageSize": 50}, query=query)
    assert refused.status_code == 500 and refused.json()["message"] == "all shards failed"


def test_automation_detail_has_no_created_or_saved_dates(sandbox: Sandbox, api: requests.Session) -> None:
    """GET /automation/v1/automations/{id} answers lastRunTime, status, schedule and steps, no created dates."""
    automation = build_rest_data().automations[0]
    detail = get(api, sandbox, f"/automation/v1/automations/{automation['id']}").json()
    assert {"lastRunTime", "status", "schedule", "steps"} <= set(detail)
    assert not {"createdDate", "createdName", "lastSavedDate", "lastSavedByName"} & set(detail)


def test_journey_activities_carry_no_invented_statistics(sandbox: Sandbox, api: requests.Session) -> None:
    body = get(api, sandbox, "/interaction/v1/interactions?extras=all&$pageSize=50").json()
    assert all("stats" in journey for journey in body["items"])
    assert not [a for journey in body["items"] for a in journey["activities"] if "stats" in a]


def test_assets_of_an_unknown_campaign_are_a_bad_request(sandbox: Sandbox, api: requests.Session) -> None:
    response = get(api, sandbox, "/hub/v1/campaigns/999999/assets")
    assert response.status_code == 400
    assert response.json() == {
        "message": "Campaign ID is invalid",
        "errorcode": 10000,
        "documentation": NOT_AUTHORIZED["documentation"],
    }


# --- assets -------------------------------------------------------------------------------------


def modified_after(value: str) -> dict[str, Any]:
    return {"property": "modifiedDate", "simpleOperator": "greaterThan", "value": value}


def test_asset_query_pages_through_a_date_filter_in_order(sandbox: Sandbox, api: requests.Session) -> None:
    def fetch(page: int) -> dict[str, Any]:
        return query_assets(
            api,
            sandbox,
            page={"page": page, "pageSize": 40},
            query=modified_after("2025-01-01T00:00:00Z"),
            sort=[{"property": "modifiedDate", "direction": "ASC"}],
        ).json()

    assets = all_pages(fetch, 40)
    dates = [a["modifiedDate"] for a in assets]
    assert 40 < len(assets) < 300
    assert all(ASSET_DATE.match(d) for d in dates)
    assert min(dates) > "2024-12-31T18:00:00-06:00"
    assert dates == sorted(dates)


def test_asset_query_combines_operands_with_and(sandbox: Sandbox, api: requests.Session) -> None:
    query = {
        "leftOperand": modified_after("2024-09-01T00:00:00"),
        "logicalOperator": "AND",
        "rightOperand": {"property": "modifiedDate", "simpleOperator": "lessThan", "value": "2024-10-01T00:00:00"},
    }
    items = query_assets(api, sandbox, page={"page": 1, "pageSize": 200}, query=query).json()["items"]
    assert items and all("2024-09-01" <= item["modifiedDate"][:10] <= "2024-09-30" for item in items)


def test_asset_query_returns_only_the_asked_fields(sandbox: Sandbox, api: requests.Session) -> None:
    items = query_assets(api, sandbox, query=modified_after("2024-01-01"), fields=["name", "modifiedDate"]).json()
    assert {frozenset(item) for item in items["items"]} == {frozenset({"id", "name", "modifiedDate"})}


def test_asset_query_with_an_unknown_operator_is_a_bad_request(sandbox: Sandbox, api: requests.Session) -> None:
    query = {"property": "name", "simpleOperator": "sortOf", "value": "x"}
    response = query_assets(api, sandbox, query=query)
    assert response.status_code == 400 and "sortOf" in response.json()["message"]


# --- journeys -----------------------------------------------------------------------------------


def journeys(api: requests.Session, sandbox: Sandbox, **params: Any) -> dict[str, Any]:
    return get(api, sandbox, "/interaction/v1/interactions", **params).json()


def test_journey_pages_hold_the_latest_version_of_each_journey(sandbox: Sandbox, api: requests.Session) -> None:
    items = all_pages(lambda page: journeys(api, sandbox, **{"$page": page, "$pageSize": 10}), 10)
    assert len(items) == len({j["key"] for j in items}) > 30
    assert {j["definitionType"] for j in items} == {"Multistep"}


def test_journey_page_size_is_clamped_to_50(sandbox: Sandbox, api: requests.Session) -> None:
    assert journeys(api, sandbox, **{"$pageSize": 200})["pageSize"] == 50


def test_journeys_list_every_version_when_not_most_recent_only(sandbox: Sandbox, api: requests.Session) -> None:
    latest = journeys(api, sandbox)["count"]
    every = journeys(api, sandbox, mostRecentVersionOnly="false")["count"]
    assert every > latest


def test_transactional_journeys_are_listed_only_when_asked(sandbox: Sandbox, api: requests.Session) -> None:
    items = journeys(api, sandbox, definitionType="transactional")["items"]
    assert items and {j["definitionType"] for j in items} == {"Transactional"}


def test_journey_extras_choose_activities_and_stats(sandbox: Sandbox, api: requests.Session) -> None:
    with_activities = journeys(api, sandbox, extras="activities")["items"][0]
    with_stats = journeys(api, sandbox, extras="stats")["items"][0]
    assert "activities" in with_activities and "stats" not in with_activities
    assert "stats" in with_stats and "activities" not in with_stats
    assert set(with_stats["stats"]) >= {"currentPopulation", "cumulativePopulation", "metGoal", "goalPerformance"}


def test_email_activities_carry_their_triggered_send(sandbox: Sandbox, api: requests.Session) -> None:
    items = journeys(api, sandbox, extras="all", **{"$pageSize": 50})["items"]
    emails = [a for j in items for a in j["activities"] if a["type"] == "EMAILV2"]
    assert emails and all(a["configurationArguments"]["triggeredSend"]["emailSubject"] for a in emails)
    assert {"WAIT"} <= {a["type"] for j in items for a in j["activities"]}


def test_journey_by_id_is_that_version(sandbox: Sandbox, api: requests.Session) -> None:
    listed = journeys(api, sandbox, mostRecentVersionOnly="false", **{"$pageSize": 50})["items"]
    older = next(j for j in listed if j["version"] > 1)
    found = get(api, sandbox, f"/interaction/v1/interactions/{older['id']}").json()
    first = get(api, sandbox, f"/interaction/v1/interactions/{older['id']}", versionNumber=1).json()
    assert (found["id"], found["version"]) == (older["id"], older["version"])
    assert "activities" in found and "stats" not in found
    assert (first["key"], first["version"]) == (older["key"], 1)


def test_unknown_journey_is_not_found(sandbox: Sandbox, api: requests.Session) -> None:
    response = get(api, sandbox, "/interaction/v1/interactions/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404


# --- automations --------------------------------------------------------------------------------


def test_automation_pages_count_every_automation(sandbox: Sandbox, api: requests.Session) -> None:
    def fetch(page: int) -> dict[str, Any]:
        return get(api, sandbox, "/automation/v1/automations", **{"$page": page, "$pageSize": 8}).json()

    automations = all_pages(fetch, 8)
    assert len(automations) == fetch(1)["count"] == 30
    assert len(fetch(4)["items"]) == 6


def test_automation_by_id_has_its_schedule_and_steps(sandbox: Sandbox, api: requests.Session) -> None:
    listed = get(api, sandbox, "/automation/v1/automations").json()["items"]
    scheduled = next(a for a in listed if a["type"] == "scheduled")
    detail = get(api, sandbox, f"/automation/v1/automations/{scheduled['id']}").json()
    assert detail["schedule"]["icalRecur"].startswith("FREQ=")
    assert detail["steps"] and all(step["activities"] for step in detail["steps"])
    assert get(api, sandbox, "/automation/v1/automations/nope").status_code == 404


# --- data, routing, stats, latency --------------------------------------------------------------


def test_data_is_deterministic_for_a_seed_and_scales_linearly() -> None:
    assert build_rest_data(seed=7) == build_rest_data(seed=7)
    assert build_rest_data(seed=7).campaigns != build_rest_data(seed=8).campaigns
    doubled = build_rest_data(seed=7, scale=2)
    assert (len(doubled.campaigns), len(doubled.assets), len(doubled.automations)) == (240, 600, 60)


def test_two_sandboxes_with_one_seed_answer_the_same(start_sandbox: Any) -> None:
    pages = []
    for _ in range(2):
        running = start_sandbox(seed=5)
        pages.append(get(api_session(running), running, "/hub/v1/campaigns").content)
    assert pages[0] == pages[1]


def test_stats_count_requests_by_kind_and_reset(start_sandbox: Any) -> None:
    running = start_sandbox()
    session = api_session(running)
    get(session, running, "/hub/v1/campaigns")
    get(session, running, "/hub/v1/campaigns", **{"$page": 2})
    get(session, running, "/hub/v1/campaigns/1000/assets")
    stats = requests.get(f"{running.base_url}/_sandbox/stats", timeout=5).json()
    assert stats["requests"]["token"] == 1 and stats["tokens_issued"] == 1
    assert stats["requests"]["rest"] == {"/hub/v1/campaigns": 2, "/hub/v1/campaigns/{id}/assets": 1}
    assert stats == running.stats()
    requests.post(f"{running.base_url}/_sandbox/reset-stats", timeout=5)
    assert running.stats()["requests"] == {"token": 0, "rest": {}, "soap": {}}


def test_latency_delays_every_answer(start_sandbox: Any) -> None:
    slow = start_sandbox(latency_ms=150)
    started = time.perf_counter()
    request_token(slow)
    assert time.perf_counter() - started >= 0.15


SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "Retrieve"}


def post_soap(sandbox: Sandbox, envelope: str) -> requests.Response:
    return requests.post(f"{sandbox.base_url}/Service.asmx", data=envelope, headers=SOAP_HEADERS, timeout=10)


def test_soap_requests_go_to_the_soap_side_and_count_by_object_type(
    start_sandbox: Any, recording_soap_side: Any, soap_envelope: Any
) -> None:
    running = start_sandbox()
    running.soap_service = recording_soap_side
    token = access_token(running)
    retrieve = "<ObjectType>SentEvent</ObjectType><Properties>SendID</Properties>"
    first = post_soap(running, soap_envelope(token, retrieve))
    post_soap(
        running, soap_envelope(token, f"<ContinueRequest>{recording_soap_side.last_request_id}</ContinueRequest>")
    )
    post_soap(running, soap_envelope(token, "<ObjectType>DataExtensionObject[Customers]</ObjectType>"))
    assert first.status_code == 200 and b"MoreDataAvailable" in first.content
    assert [call["soap_action"] for call in recording_soap_side.calls] == ["Retrieve"] * 3
    assert running.stats()["requests"]["soap"] == {"SentEvent": 2, "DataExtensionObject": 1}


def test_rowset_requests_go_to_the_soap_side_with_their_token_and_query(
    start_sandbox: Any, recording_soap_side: Any
) -> None:
    running = start_sandbox()
    running.soap_service = recording_soap_side
    response = get(api_session(running), running, "/data/v1/customobjectdata/key/My%20DE/rowset", **{"$page": 2})
    assert response.status_code == 200
    assert recording_soap_side.calls == [
        {"key": "My DE", "query": {"$page": "2"}, "token_state": "ok", "mid": MAIN_MID}
    ]


@pytest.mark.skipif(not SOAP_SIDE_PRESENT, reason="the SOAP side of the sandbox is not present")
def test_the_real_soap_side_answers_a_retrieve(sandbox: Sandbox, soap_envelope: Any) -> None:
    retrieve = "<ObjectType>List</ObjectType><Properties>ID</Properties>"
    response = post_soap(sandbox, soap_envelope(access_token(sandbox), retrieve))
    assert response.status_code == 200 and b"RetrieveResponseMsg" in response.content


# --- command line -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_cli_announces_its_url_once_and_exits_quietly_on_sigterm() -> None:
    port = free_port()
    command = [sys.executable, "-m", "integration_tests.sandbox", "--port", str(port), "--scale", "0.1"]
    command += ["--epoch", "2025-07-01"]
    process = subprocess.Popen(
        command, cwd=Path(__file__).parent.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout.readline() == (
            f"SFMC sandbox listening on http://127.0.0.1:{port} (activity from 2025-01-01 to 2025-07-01)\n"
        )
        assert requests.get(f"http://127.0.0.1:{port}/_sandbox/stats", timeout=5).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    assert (process.returncode, out, err) == (0, "", "")


def test_checked_in_config_points_at_the_cli_default() -> None:
    config = json.loads((Path(__file__).parent / "sandbox_config.json").read_text())
    assert config == {
        "client_id": "sandbox-client-id",
        "client_secret": "sandbox-client-secret",
        "subdomain": "http://127.0.0.1:8765",
        "start_date": "2025-01-01T00:00:00Z",
    }


# --- journey history ----------------------------------------------------------------------------

HISTORY_SEARCH = "/interaction/v1/interactions/journeyhistory/search"


def search_history(session: requests.Session, sandbox: Sandbox, body: Any, **params: Any) -> requests.Response:
    return session.post(f"{sandbox.base_url}{HISTORY_SEARCH}", params=params, json=body, timeout=5)


def test_journey_history_count_stops_at_ten_thousand_and_no_page_reaches_past(api, sandbox: Sandbox) -> None:
    first = search_history(api, sandbox, {}, **{"$page": 1, "$pageSize": 50}).json()
    past = search_history(api, sandbox, {}, **{"$page": 201, "$pageSize": 50}).json()

    assert first["count"] == 10_000
    assert len(first["items"]) == 50
    assert past["items"] == []


def test_journey_history_is_searched_between_inclusive_bounds_in_any_case(api, sandbox: Sandbox) -> None:
    history = sandbox.rest_data.journey_history
    i = history.size - 10
    at = history.time(i).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    exact = search_history(api, sandbox, {"Start": at, "End": at}).json()

    assert exact["count"] == 1
    assert exact["items"][0]["id"] == history.entry(i)["id"]


def test_journey_history_older_than_thirty_days_is_gone(api, sandbox: Sandbox) -> None:
    history = sandbox.rest_data.journey_history
    old = history.time(0).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    assert search_history(api, sandbox, {"start": old, "end": old}).json()["count"] == 0


def test_journey_history_refuses_a_bound_that_is_not_a_date(api, sandbox: Sandbox) -> None:
    response = search_history(api, sandbox, {"start": "yesterday"})

    assert response.status_code == 400
    assert "'start'" in response.json()["message"]
