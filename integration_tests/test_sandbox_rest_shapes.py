"""Every REST answer of the sandbox has the shape SFMC's reference gives that endpoint, over real HTTP.

The expected keys below are written from the reference, not from the sandbox:
- REST errors: "Handle Errors in REST API"
  (https://developer.salesforce.com/docs/atlas.en-us.mc-apis.meta/mc-apis/error-handling.htm):
  `{"message", "errorcode", "documentation"}`.
- Token errors: "Get an Access Token" / OAuth 2.0 (RFC 6749 section 5.2) as SFMC answers them:
  `{"error", "error_description", "error_uri"}`.
- Campaigns: "GET /hub/v1/campaigns" (getCampaignCollection.htm) example: `page`, `pageSize`, `count`,
  `links` with `self`/`next` as `{"href"}`, `items`.
- Journeys: "GET /interaction/v1/interactions" (getInteractionCollection.htm) and the recorded answers public
  clients test against: `count`, `page`, `pageSize`, `links`, `items`.
- Assets: "POST /asset/v1/content/assets/query" (assetAdvancedQuery.htm) and recorded answers: `count`, `page`,
  `pageSize`, `links`, `items`.
- Data extension rows: "GET /data/v1/customobjectdata/key/{key}/rowset": `links` (`self`, `next`), `pageSize`,
  `page`, `count`, `items` among others.
- Undocumented listings (campaign assets, automations, journey history search): the `count`/`page`/`pageSize`/
  `items` envelope public clients page them by.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from integration_tests.sandbox import Sandbox
from integration_tests.sandbox.faults import rest_rate_limit, rest_server_error
from integration_tests.sandbox.rest_data import build_rest_data

REST_ERROR = {"message", "errorcode", "documentation"}
TOKEN_ERROR = {"error", "error_description", "error_uri"}
PAGED = {"count", "page", "pageSize", "items"}
PAGED_WITH_LINKS = PAGED | {"links"}
HISTORY_SEARCH = "/interaction/v1/interactions/journeyhistory/search"


# --- builders -----------------------------------------------------------------------------------


def token(sandbox: Sandbox, **overrides: Any) -> str:
    body = {
        "grant_type": "client_credentials",
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        **overrides,
    }
    response = requests.post(f"{sandbox.base_url}/v2/token", json=body, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def call(sandbox: Sandbox, method: str, path: str, bearer: str | None, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return requests.request(method, f"{sandbox.base_url}{path}", headers=headers, timeout=5, **kwargs)


def assert_error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) >= REST_ERROR, body
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errorcode"], int)
    assert isinstance(body["documentation"], str)
    return body


@pytest.fixture(scope="module")
def bearer(sandbox: Sandbox) -> str:
    return token(sandbox)


# --- token ----------------------------------------------------------------------------------------


def test_token_error_has_the_oauth_error_keys(sandbox: Sandbox) -> None:
    response = requests.post(
        f"{sandbox.base_url}/v2/token",
        json={"grant_type": "client_credentials", "client_id": sandbox.client_id, "client_secret": "wrong"},
        timeout=5,
    )
    assert response.status_code == 401
    assert set(response.json()) == TOKEN_ERROR


# --- campaigns ------------------------------------------------------------------------------------


def test_campaign_list_has_the_documented_envelope_with_href_links(sandbox: Sandbox, bearer: str) -> None:
    response = call(sandbox, "GET", "/hub/v1/campaigns", bearer, params={"$page": 1, "$pageSize": 2})
    body = response.json()
    assert response.status_code == 200 and set(body) == PAGED_WITH_LINKS
    assert body["page"] == 1 and body["pageSize"] == 2 and len(body["items"]) == 2
    assert body["links"]["self"] == {"href": "/v1/campaigns?$page=1&$pagesize=2"}
    assert body["links"]["next"] == {"href": "/v1/campaigns?$page=2&$pagesize=2"}


def test_campaign_list_last_page_has_no_next_link(sandbox: Sandbox, bearer: str) -> None:
    total = call(sandbox, "GET", "/hub/v1/campaigns", bearer).json()["count"]
    last = (total + 1) // 2
    body = call(sandbox, "GET", "/hub/v1/campaigns", bearer, params={"$page": last, "$pageSize": 2}).json()
    assert set(body["links"]) == {"self"}


def test_campaign_list_error_has_the_rest_error_keys(sandbox: Sandbox) -> None:
    body = assert_error(call(sandbox, "GET", "/hub/v1/campaigns", None), 401)
    assert body["errorcode"] == 0


# --- campaign assets ------------------------------------------------------------------------------


def test_campaign_assets_answer_a_paged_envelope(sandbox: Sandbox, bearer: str) -> None:
    owner = next(cid for cid, assets in build_rest_data().campaign_assets.items() if assets)
    body = call(sandbox, "GET", f"/hub/v1/campaigns/{owner}/assets", bearer).json()
    assert set(body) >= PAGED and isinstance(body["items"], list) and body["items"]


def test_campaign_assets_error_has_the_rest_error_keys(sandbox: Sandbox, bearer: str) -> None:
    body = assert_error(call(sandbox, "GET", "/hub/v1/campaigns/no-such-campaign/assets", bearer), 400)
    assert body["errorcode"] == 10000


# --- assets query ---------------------------------------------------------------------------------

ANY_ASSET = {"property": "id", "simpleOperator": "greaterThan", "value": 0}


def test_asset_query_has_the_documented_envelope(sandbox: Sandbox, bearer: str) -> None:
    response = call(
        sandbox, "POST", "/asset/v1/content/assets/query", bearer, json={"query": ANY_ASSET, "page": {"pageSize": 5}}
    )
    body = response.json()
    assert response.status_code == 200 and set(body) == PAGED_WITH_LINKS
    assert body["pageSize"] == 5 and len(body["items"]) == 5 and isinstance(body["links"], dict)


def test_asset_query_with_a_malformed_query_answers_a_rest_error(sandbox: Sandbox, bearer: str) -> None:
    bad = {"query": {"property": "name", "simpleOperator": "sounds like", "value": "x"}}
    assert_error(call(sandbox, "POST", "/asset/v1/content/assets/query", bearer, json=bad), 400)


def test_asset_query_with_a_body_that_is_not_json_answers_invalid_message_format(sandbox: Sandbox, bearer: str) -> None:
    response = call(sandbox, "POST", "/asset/v1/content/assets/query", bearer, data=b"{not json")
    assert assert_error(response, 400)["errorcode"] == 10004  # "Invalid Message Format" in error-handling.htm


def test_asset_query_past_the_result_window_answers_a_rest_error(sandbox: Sandbox, bearer: str) -> None:
    body = {"query": ANY_ASSET, "page": {"page": 11, "pageSize": 1000}}
    assert_error(call(sandbox, "POST", "/asset/v1/content/assets/query", bearer, json=body), 500)


# --- journeys -------------------------------------------------------------------------------------


def test_journey_list_has_the_documented_envelope(sandbox: Sandbox, bearer: str) -> None:
    response = call(sandbox, "GET", "/interaction/v1/interactions", bearer, params={"$pageSize": 3})
    body = response.json()
    assert response.status_code == 200 and set(body) == PAGED_WITH_LINKS
    assert body["pageSize"] == 3 and len(body["items"]) == 3


def test_journey_list_without_the_scope_answers_insufficient_privileges(sandbox: Sandbox) -> None:
    narrow = token(sandbox, scope="campaign_read")
    body = assert_error(call(sandbox, "GET", "/interaction/v1/interactions", narrow), 403)
    assert body["errorcode"] == 20002  # "Insufficient Privileges" in error-handling.htm


def test_journey_by_unknown_id_answers_a_rest_error(sandbox: Sandbox, bearer: str) -> None:
    assert_error(call(sandbox, "GET", "/interaction/v1/interactions/00000000-0000-0000-0000-000000000000", bearer), 404)


# --- journey history ------------------------------------------------------------------------------


def test_journey_history_search_answers_a_paged_envelope(sandbox: Sandbox, bearer: str) -> None:
    body = call(sandbox, "POST", HISTORY_SEARCH, bearer, json={}, params={"$pageSize": 5}).json()
    assert set(body) >= PAGED and body["pageSize"] == 5


def test_journey_history_search_with_a_bad_date_answers_a_rest_error(sandbox: Sandbox, bearer: str) -> None:
    response = call(sandbox, "POST", HISTORY_SEARCH, bearer, json={"start": "yesterday"})
    assert_error(response, 400)


# --- automations ----------------------------------------------------------------------------------


def test_automation_list_answers_a_paged_envelope(sandbox: Sandbox, bearer: str) -> None:
    body = call(sandbox, "GET", "/automation/v1/automations", bearer, params={"$pageSize": 2}).json()
    assert set(body) >= PAGED and body["pageSize"] == 2 and len(body["items"]) == 2


def test_automation_by_unknown_id_answers_a_rest_error(sandbox: Sandbox, bearer: str) -> None:
    assert_error(call(sandbox, "GET", "/automation/v1/automations/no-such-automation", bearer), 404)


# --- data extension rows --------------------------------------------------------------------------


def test_rowset_answers_the_documented_envelope(sandbox: Sandbox, bearer: str) -> None:
    body = call(
        sandbox, "GET", "/data/v1/customobjectdata/key/CUSTOMERS_MASTER/rowset", bearer, params={"$pageSize": 2}
    )
    payload = body.json()
    assert set(payload) >= PAGED_WITH_LINKS and {"self", "next"} <= set(payload["links"])


def test_rowset_of_an_unknown_key_answers_a_rest_error(sandbox: Sandbox, bearer: str) -> None:
    assert_error(call(sandbox, "GET", "/data/v1/customobjectdata/key/NoSuchKey/rowset", bearer), 404)


# --- any route ------------------------------------------------------------------------------------


def test_an_unknown_route_answers_a_rest_error(sandbox: Sandbox, bearer: str) -> None:
    assert_error(call(sandbox, "GET", "/hub/v1/no-such-resource", bearer), 404)


@pytest.mark.parametrize("variant", [0, 3])
def test_throttle_answers_carry_the_rest_error_keys(variant: int) -> None:
    status, _, raw = rest_rate_limit(variant)
    assert status == 429 and set(json.loads(raw)) >= REST_ERROR


def test_the_json_server_error_carries_the_rest_error_keys() -> None:
    status, _, raw = rest_server_error(0)
    assert status == 500 and set(json.loads(raw)) == REST_ERROR
