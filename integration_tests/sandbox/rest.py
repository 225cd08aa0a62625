"""SFMC's REST API over the sandbox data: routes, paging, filters and SFMC's error bodies.

Pure functions: a request and the data in, (status, headers, body) out. Authentication, faults and HTTP
live in `server.py`. Page-size limits the documentation does not state are marked as the sandbox's
choice in `PAGE_LIMITS`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote

from .rest_data import RestData

Response = tuple[int, dict[str, str], bytes]
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
DOCUMENTATION = "https://developer.salesforce.com/docs/atlas.en-us.mc-apis.meta/mc-apis/error-handling.htm"
SERVER_TIME = timezone(timedelta(hours=-6))  # SFMC's clock: CST all year, no daylight saving


# --- request, responses -------------------------------------------------------------------------


@dataclass(frozen=True)
class RestRequest:
    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)  # names lower-cased, last value wins
    body: bytes = b""


def json_response(status: int, payload: object, headers: Mapping[str, str] | None = None) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return status, {**JSON_HEADERS, **(headers or {})}, body


def error_response(status: int, message: str, errorcode: int, **extra: object) -> Response:
    """SFMC's REST error body: `{"message", "errorcode", "documentation"}`, every key always present.

    Shape and codes: "Handle Errors in REST API"
    (https://developer.salesforce.com/docs/atlas.en-us.mc-apis.meta/mc-apis/error-handling.htm): 400 with 10000-10006
    (validation), 401 with 0 (Not Authorized), 403 with 20000-20002 (authorization). `extra` carries the few keys
    an answer adds beside them (the throttle's `retryAfter`).
    """
    return json_response(status, {"message": message, "errorcode": errorcode, "documentation": DOCUMENTATION, **extra})


def not_authorized() -> Response:
    return error_response(401, "Not Authorized", 0)


def insufficient_privileges() -> Response:
    return error_response(403, "Insufficient privileges to complete this action.", 20002)


def not_found() -> Response:
    return error_response(404, "Not Found", 404)


def json_object_body(request: RestRequest) -> dict[str, Any] | Response:
    """The request's JSON object body, or the 400 SFMC answers (10004: not JSON; 10003: not an object)."""
    try:
        body = json.loads(request.body.decode("utf-8") or "{}")
    except ValueError:
        return bad_request("The request body is not valid JSON.", 10004)
    if not isinstance(body, dict):
        return bad_request("The request body must be a JSON object.", 10003)
    return body


def bad_request(message: str, errorcode: int = 10000) -> Response:
    return error_response(400, message, errorcode)


# --- paging -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageLimit:
    default: int
    maximum: int


PAGE_LIMITS = {
    "campaigns": PageLimit(50, 50),  # maximum not documented: clamped to 50
    "journeys": PageLimit(50, 50),  # documented: pageSize at most 50
    "automations": PageLimit(50, 500),  # maximum not documented: the sandbox's choice
    "assets": PageLimit(50, 1000),  # default 50 documented; public clients ask for 1000 and get them
    "journey_history": PageLimit(50, 50),  # undocumented; public clients page it by 50
}


def _int_or(raw: object, default: int) -> int:
    try:
        return int(str(raw).strip())
    except (TypeError, ValueError):
        return default


def _page_and_size(raw_page: object, raw_size: object, limit: PageLimit) -> tuple[int, int]:
    page = max(_int_or(raw_page, 1), 1)
    size = _int_or(raw_size, limit.default)
    size = limit.default if size < 1 else min(size, limit.maximum)
    return page, size


def _page_of(items: list[Any], page: int, size: int) -> list[Any]:
    return items[(page - 1) * size : page * size]


def _page_links(path: str, page: int, size: int, total: int, order_by: str | None) -> dict[str, dict[str, str]]:
    """HAL-style `links` of a hub listing, as in getCampaignCollection's example: relative to the API's version root
    (`/v1/campaigns`, without `/hub`), lower-case `$pagesize`/`$orderby`; `next` only while pages remain."""
    order = f"&$orderby={order_by}" if order_by else ""
    links = {"self": {"href": f"{path}?$page={page}&$pagesize={size}{order}"}}
    if page * size < total:
        links["next"] = {"href": f"{path}?$page={page + 1}&$pagesize={size}{order}"}
    return links


def _query_page(request: RestRequest, limit: PageLimit) -> tuple[int, int]:
    return _page_and_size(request.query.get("$page"), request.query.get("$pagesize"), limit)


# --- sorting ------------------------------------------------------------------------------------

_DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")


@functools.lru_cache(maxsize=65536)
def parse_date(text: str) -> datetime | None:
    """ISO date-time as an aware datetime; no offset means SFMC server time (UTC-6)."""
    if not isinstance(text, str) or not _DATE_PATTERN.match(text.strip()):
        return None
    value = text.strip().replace("Z", "+00:00")
    head, dot, fraction = value.partition(".")
    if dot:  # .NET writes 1-7 fraction digits; Python wants at most 6
        digits = re.match(r"\d+", fraction).group(0)
        value = f"{head}.{digits[:6].ljust(6, '0')}{fraction[len(digits) :]}"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=SERVER_TIME)


def _sortable(value: object) -> tuple[int, Any]:
    """Nulls first, then numbers, dates, strings; each compared within its kind."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool | int | float):
        return (1, value)
    if isinstance(value, str):
        moment = parse_date(value)
        return (2, moment) if moment else (3, value.lower())
    return (3, str(value))


def _sorted(items: list[dict[str, Any]], keys: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    """Stable multi-key sort; `keys` holds (dotted property, descending) pairs, most significant first."""
    result = list(items)
    for prop, descending in reversed(keys):
        result.sort(key=lambda item, prop=prop: _sortable(_lookup(item, prop)), reverse=descending)
    return result


def _order_by(raw: str | None, columns: Mapping[str, str], default: str) -> list[tuple[str, bool]]:
    """`$orderBy=ModifiedDate DESC` style; unknown columns fall back to the default order."""
    text = (raw or default).strip()
    column, _, direction = text.partition(" ")
    prop = columns.get(column.strip().lower())
    if prop is None:
        return _order_by(default, columns, default)
    return [(prop, direction.strip().upper() == "DESC")]


def _lookup(item: Mapping[str, Any], dotted: str) -> Any:
    value: Any = item
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        match = next((key for key in value if key.lower() == part.lower()), None)
        if match is None:
            return None
        value = value[match]
    return value


# --- campaigns ----------------------------------------------------------------------------------

_CAMPAIGN_COLUMNS = {"modifieddate": "modifiedDate", "createddate": "createdDate", "name": "name", "id": "id"}


def list_campaigns(data: RestData, request: RestRequest, params: Mapping[str, str]) -> Response:
    page, size = _query_page(request, PAGE_LIMITS["campaigns"])
    order = _order_by(request.query.get("$orderby"), _CAMPAIGN_COLUMNS, "id ASC")
    ordered = _sorted(sorted(data.campaigns, key=lambda c: int(c["id"])), order)
    # Envelope of the reference's example ("GET /hub/v1/campaigns", getCampaignCollection.htm): `page`, `pageSize`,
    # `count`, `links` (`self`, and `next` while pages remain, each `{"href"}`), `items`.
    links = _page_links("/v1/campaigns", page, size, len(ordered), request.query.get("$orderby"))
    return json_response(
        200,
        {"page": page, "pageSize": size, "count": len(ordered), "links": links, "items": _page_of(ordered, page, size)},
    )


def campaign_assets(data: RestData, request: RestRequest, params: Mapping[str, str]) -> Response:
    """A page of the campaign's assets, in the envelope clients used against real accounts read.

    Sources disagree on this answer: the reference's example ("GET /hub/v1/campaigns/{id}/assets",
    getCampaignAssetCollection) shows `totalCount`/`entities`; sfmc-sdk's pager and FuelSDK-CSharp page it with
    `$page`/`$pageSize` and read `count`/`items`. The sandbox serves the latter; neither is a bare list.
    """
    assets = data.campaign_assets.get(params["id"].strip())
    if assets is None:
        return bad_request("Campaign ID is invalid", 10000)
    page, size = _query_page(request, PAGE_LIMITS["campaigns"])
    return json_response(
        200, {"count": len(assets), "page": page, "pageSize": size, "items": _page_of(assets, page, size)}
    )


# --- assets -------------------------------------------------------------------------------------


ASSET_RESULT_WINDOW = 10_000


class QueryError(ValueError):
    pass


def query_assets(data: RestData, request: RestRequest, params: Mapping[str, str]) -> Response:
    body = json_object_body(request)
    if not isinstance(body, dict):
        return body
    paging = body.get("page") if isinstance(body.get("page"), dict) else {}
    page, size = _page_and_size(paging.get("page"), paging.get("pageSize"), PAGE_LIMITS["assets"])
    if page * size > ASSET_RESULT_WINDOW:
        # The query runs on a search index whose result window stops at 10,000 (PROTOCOL.md: "all shards failed";
        # sfmc-devtools pages past it by id). The status SFMC uses for it is not documented.
        return error_response(500, "all shards failed", 0)
    try:
        query = body.get("query")
        predicate = _compile(query) if query is not None else (lambda item: True)
        matching = [asset for asset in data.assets if predicate(asset)]
        order = _asset_sort(body.get("sort"))
    except QueryError as error:
        return bad_request(str(error), 10002)
    items = _page_of(_sorted(matching, order), page, size)
    fields = body.get("fields")
    if isinstance(fields, list) and fields:
        items = [_project(item, fields) for item in items]
    return json_response(200, {"count": len(matching), "page": page, "pageSize": size, "links": {}, "items": items})


def _asset_sort(raw: object) -> list[tuple[str, bool]]:
    keys: list[tuple[str, bool]] = []
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("property"), str):
            raise QueryError("Each sort entry needs a property and a direction.")
        keys.append((entry["property"], str(entry.get("direction", "ASC")).upper() == "DESC"))
    return [*keys, ("id", False)]  # documented default, and the tie-breaker that keeps pages stable


def _project(item: Mapping[str, Any], fields: list[object]) -> dict[str, Any]:
    wanted = {str(name).split(".")[0].lower() for name in fields} | {"id"}
    return {key: value for key, value in item.items() if key.lower() in wanted}


def _compile(query: object) -> Callable[[Mapping[str, Any]], bool]:
    """The query as a predicate on assets; QueryError when it is malformed."""
    if not isinstance(query, dict):
        raise QueryError("query must be an object.")
    if "leftOperand" in query or "logicalOperator" in query:
        operator = str(query.get("logicalOperator", "")).upper()
        if operator not in ("AND", "OR"):
            raise QueryError(f"Invalid logicalOperator '{query.get('logicalOperator')}'.")
        left, right = _compile(query.get("leftOperand")), _compile(query.get("rightOperand"))
        if operator == "AND":
            return lambda item: left(item) and right(item)
        return lambda item: left(item) or right(item)
    prop = query.get("property")
    if not isinstance(prop, str) or not prop:
        raise QueryError("A simple query needs a property.")
    operator = str(query.get("simpleOperator", ""))
    test = _SIMPLE_OPERATORS.get(operator.lower())
    if test is None:
        raise QueryError(f"Invalid simpleOperator '{operator}'.")
    expected = query.get("values", query.get("value"))
    return lambda item: test(_lookup(item, prop), expected)


def _comparable(actual: object, expected: object) -> tuple[Any, Any] | None:
    """The pair to compare, as dates, numbers or text; None when they cannot be compared."""
    if actual is None or expected is None:
        return None
    if isinstance(actual, str) and (left := parse_date(actual)) is not None:
        right = parse_date(str(expected))
        return (left, right) if right is not None else None
    if isinstance(actual, int | float) and not isinstance(actual, bool):
        try:
            return actual, float(expected)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
    return str(actual), str(expected)


def _compare(check: Callable[[Any, Any], bool]) -> Callable[[object, object], bool]:
    def test(actual: object, expected: object) -> bool:
        pair = _comparable(actual, expected)
        return pair is not None and check(*pair)

    return test


def _text_test(check: Callable[[str, str], bool]) -> Callable[[object, object], bool]:
    def test(actual: object, expected: object) -> bool:
        if actual is None or expected is None:
            return False
        return check(str(actual).lower(), str(expected).lower().strip("%"))

    return test


def _in(actual: object, expected: object) -> bool:
    options = expected if isinstance(expected, list) else [expected]
    return any(_compare(lambda a, b: a == b)(actual, option) for option in options)


_SIMPLE_OPERATORS: dict[str, Callable[[object, object], bool]] = {
    "equal": _compare(lambda a, b: a == b),
    "equals": _compare(lambda a, b: a == b),  # not SFMC's documented spelling, accepted leniently
    "notequal": lambda a, e: not _compare(lambda x, y: x == y)(a, e),
    "greaterthan": _compare(lambda a, b: a > b),
    "greaterthanorequal": _compare(lambda a, b: a >= b),
    "lessthan": _compare(lambda a, b: a < b),
    "lessthanorequal": _compare(lambda a, b: a <= b),
    "like": _text_test(lambda a, b: b in a),
    "contains": _text_test(lambda a, b: b in a),
    "mustcontain": _text_test(lambda a, b: b in a),
    "startswith": _text_test(lambda a, b: a.startswith(b)),
    "isnull": lambda a, e: a is None,
    "isnotnull": lambda a, e: a is not None,
    "in": _in,
}


# --- journeys -----------------------------------------------------------------------------------

_JOURNEY_COLUMNS = {"modifieddate": "modifiedDate", "name": "name", "performance": "stats.goalPerformance"}


def _extras(raw: str | None) -> set[str]:
    return {part.strip().lower() for part in (raw or "").split(",") if part.strip()}


def _journey_view(journey: Mapping[str, Any], extras: set[str], *, always_activities: bool) -> dict[str, Any]:
    """The journey as SFMC shows it for the asked `extras` (all|activities|outcome|stats)."""
    everything = "all" in extras
    with_stats = everything or "stats" in extras
    view = {key: value for key, value in journey.items() if key != "stats" or with_stats}
    if not (always_activities or everything or "activities" in extras):
        view.pop("activities", None)
    return view


def _latest_versions(journeys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for journey in journeys:
        current = latest.get(journey["key"])
        if current is None or journey["version"] > current["version"]:
            latest[journey["key"]] = journey
    return list(latest.values())


def list_journeys(data: RestData, request: RestRequest, params: Mapping[str, str]) -> Response:
    query = request.query
    page, size = _query_page(request, PAGE_LIMITS["journeys"])
    # Transactional send definitions are listed only when asked for by definitionType.
    wanted_type = "transactional" if query.get("definitiontype", "").lower() == "transactional" else "multistep"
    journeys = [j for j in data.journeys if j["definitionType"].lower() == wanted_type]
    if query.get("versionnumber"):
        journeys = [j for j in journeys if str(j["version"]) == query["versionnumber"].strip()]
    elif query.get("mostrecentversiononly", "true").strip().lower() != "false":
        journeys = _latest_versions(journeys)
    if query.get("status"):
        journeys = [j for j in journeys if j["status"].lower() == query["status"].strip().lower()]
    if query.get("nameordescription"):
        needle = query["nameordescription"].lower()
        journeys = [j for j in journeys if needle in f"{j['name']} {j.get('description') or ''}".lower()]
    order = _order_by(query.get("$orderby"), _JOURNEY_COLUMNS, "ModifiedDate DESC")
    ordered = _sorted(journeys, [*order, ("id", False)])
    # The collection's documented default: a blank `extras` returns all extras.
    extras = _extras(query.get("extras")) or {"all"}
    items = [_journey_view(j, extras, always_activities=False) for j in _page_of(ordered, page, size)]
    return json_response(200, {"count": len(ordered), "page": page, "pageSize": size, "links": {}, "items": items})


def get_journey(data: RestData, request: RestRequest, params: Mapping[str, str]) -> Response:
    ident = params["id"].strip()
    number = request.query.get("versionnumber", "").strip()
    if ident.lower().startswith("key:"):
        siblings = [j for j in data.journeys if j["key"] == ident[4:]]
        found = next((j for j in siblings if str(j["version"]) == (number or "1")), None)
    else:
        found = next((j for j in data.journeys if j["id"].lower() == ident.lower()), None)
        if found is not None and number:
            found = next((j for j in data.journeys if j["key"] == found["key"] and str(j["version"]) == number), None)
    if found is None:
        return not_found()
    return json_response(200, _journey_view(found, _extras(request.query.get("extras")), always_activities=True))


# --- journey history ----------------------------------------------------------------------------


def search_journey_history(data: RestData, request: RestRequest, params: Mapping[str, str]) -> Response:
    """Entries between the body's `start` and `end` (both inclusive, either may be null), newest kept 30 days."""
    body = json_object_body(request)
    if not isinstance(body, dict):
        return body
    # .NET binds JSON properties case-insensitively: public clients send both `start` and `Start`.
    fields = {str(key).lower(): value for key, value in body.items()}
    bounds = []
    for name in ("start", "end"):
        raw = fields.get(name)
        moment = parse_date(raw) if isinstance(raw, str) else None
        if raw is not None and moment is None:
            return bad_request(f"'{name}' is not a date-time.", 10002)
        bounds.append(moment)
    page, size = _query_page(request, PAGE_LIMITS["journey_history"])
    answer = data.journey_history.search(bounds[0], bounds[1], datetime.now(UTC), page, size)
    return json_response(200, answer)


# --- automations --------------------------------------------------------------------------------


def list_automations(data: RestData, request: RestRequest, params: Mapping[str, str]) -> Response:
    page, size = _query_page(request, PAGE_LIMITS["automations"])
    items = [
        {key: value for key, value in automation.items() if key != "steps"}
        for automation in _page_of(data.automations, page, size)
    ]
    return json_response(
        200, {"items": items, "count": len(data.automations), "page": page, "pageSize": size, "links": {}}
    )


def get_automation(data: RestData, request: RestRequest, params: Mapping[str, str]) -> Response:
    ident = params["id"].strip().lower()
    found = next((a for a in data.automations if a["id"].lower() == ident), None)
    return json_response(200, found) if found is not None else not_found()


# --- routing ------------------------------------------------------------------------------------

Handler = Callable[[RestData, RestRequest, Mapping[str, str]], Response]


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # also the name under which requests are counted
    scopes: tuple[str, ...]  # a token needs every one of them
    handler: Handler | None  # None: answered by the SOAP side (data extension rows)
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        object.__setattr__(self, "pattern", re.compile(f"^{regex}/?$", re.IGNORECASE))


ROWSET_TEMPLATE = "/data/v1/customobjectdata/key/{key}/rowset"

# Each route's scope is the one SFMC's "REST API Permission IDs and Scopes" table (developer.salesforce.com,
# mc-apis/rest-permissions-and-scopes.htm) names for it; the table does not list the journey history search,
# the automations listing or the rowset route, which take their family's read scope.
ROUTES: tuple[Route, ...] = (
    Route("GET", "/hub/v1/campaigns", ("campaign_read",), list_campaigns),
    Route("GET", "/hub/v1/campaigns/{id}/assets", ("campaign_read",), campaign_assets),
    Route("POST", "/asset/v1/content/assets/query", ("documents_and_images_read",), query_assets),
    Route("GET", "/interaction/v1/interactions", ("journeys_read",), list_journeys),
    Route(
        "POST",
        "/interaction/v1/interactions/journeyhistory/search",
        ("journeys_read",),
        search_journey_history,
    ),
    Route("GET", "/interaction/v1/interactions/{id}", ("journeys_read",), get_journey),
    Route("GET", "/automation/v1/automations", ("automations_read",), list_automations),
    Route("GET", "/automation/v1/automations/{id}", ("automations_read",), get_automation),
    Route("GET", ROWSET_TEMPLATE, ("data_extensions_read",), None),
)


def match_route(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in ROUTES:
        if route.method == method and (found := route.pattern.match(path)):
            return route, {name: unquote(value) for name, value in found.groupdict().items()}
    return None


def authorize(
    route: Route, token: str | None, token_state: Callable[[str], str], has_scope: Callable[[str, str], bool]
) -> Response | None:
    """The error answer for a request its token may not make, or None when it may."""
    if not token or token_state(token) != "ok":
        return not_authorized()
    if not all(has_scope(token, scope) for scope in route.scopes):
        return insufficient_privileges()
    return None


def handle(data: RestData, route: Route, request: RestRequest, params: Mapping[str, str]) -> Response:
    assert route.handler is not None
    return route.handler(data, request, params)
