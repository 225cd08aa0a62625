"""REST streams: Journey Builder, Automation Studio, campaigns and Content Builder assets.

Most REST objects are small catalogs that several streams derive from (journeys feed `journeys` and
`journey_statistics`), so a listing is fetched once per sync and shared (`SyncContext.memo`). Detail and
per-parent calls are slices, which the concurrent reader spreads over its workers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers import ErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_sfmc.datetimes import rest_datetime
from source_sfmc.errors import SfmcErrorHandler, parsed_body
from source_sfmc.keys import entity_id
from source_sfmc.paging import PageGuard, rest_listing_read, whole_number
from source_sfmc.stream_base import (
    WINDOW_END,
    WINDOW_START,
    SfmcStream,
    date_windows,
    format_window_bound,
    parse_window_bound,
    utc_now,
)

logger = logging.getLogger("airbyte")

# The REST API caps these list pages at 50 items (larger requests are clamped or refused).
LIST_PAGE_SIZE = 50
ASSET_PAGE_SIZE = 50


class RestStream(SfmcStream):
    api = "rest"

    @property
    def url_base(self) -> str:
        return self.context.authenticator.rest_base_url

    def path(self, **kwargs: Any) -> str:
        raise NotImplementedError

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        raise NotImplementedError

    def get_json(
        self, path: str, params: Mapping[str, Any] | None = None, *, post: Mapping[str, Any] | None = None
    ) -> Any:
        """One GET (or POST of `post` as JSON) through this stream's HTTP client: retries, token renewal, errors."""
        _, response = self._http_client.send_request(
            http_method="POST" if post is not None else "GET",
            url=self._join_url(self.url_base, path),
            request_kwargs=self.request_kwargs(),
            params=dict(params or {}),
            headers={"Accept": "application/json"},
            json=post,
        )
        return parsed_body(response)

    def list_all(self, path: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every item of a `$page`/`$pageSize` listing, in order, until the listing ends by the rule of `paging`:
        SFMC's count reached (a short page ends it only without a count), an empty page, a page repeating an
        earlier one, or the cap."""
        items: list[dict[str, Any]] = []
        guard = PageGuard(self.stream_name, path)
        page = 1
        while True:
            body = self.get_json(path, {**(params or {}), "$page": page, "$pageSize": LIST_PAGE_SIZE})
            page_items, total = page_of(body)
            if not page_items or guard.repeats(page_items):
                return items
            items.extend(page_items)
            if rest_listing_read(len(items), len(page_items), total, LIST_PAGE_SIZE):
                return items
            page += 1

    probe_path = ""

    def probe(self) -> None:
        """One cheap call for `check`: raises a config error naming the scope when access is denied."""
        self.get_json(self.probe_path, {"$page": 1, "$pageSize": 1})

    def shared_listing(self, key: str, path: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.context.memo(key, lambda: self.list_all(path, params))

    def with_entity_id(self, item: Mapping[str, Any], *identity: Any) -> dict[str, Any]:
        """The typed record with its entity_id from `identity` (the rule of `keys.entity_id`)."""
        record = self.typed(item)
        record["entity_id"] = entity_id(item, *identity)
        return record


def page_of(body: Any) -> tuple[list[dict[str, Any]], int | None]:
    """(items, total count) of one page of a REST listing, whichever envelope SFMC uses.

    Most listings answer `{"count", "page", "pageSize", "items"}`. The campaign assets reference
    ("GET /hub/v1/campaigns/{id}/assets", developer.salesforce.com getCampaignAssetCollection) shows
    `{"totalCount", "page", "pageSize", "entities"}`, while clients used against real accounts read `items`/`count`
    there; a bare list is accepted too. Anything else is an empty page.
    """
    if isinstance(body, list):
        return [item for item in body if isinstance(item, dict)], len(body)
    if not isinstance(body, Mapping):
        return [], None
    raw = body.get("items") if body.get("items") is not None else body.get("entities")
    total = body.get("count") if body.get("count") is not None else body.get("totalCount")
    items = [item for item in raw if isinstance(item, dict)] if isinstance(raw, list) else []
    return items, whole_number(total)  # read tolerantly: "120" is 120


# -- listings several streams share ------------------------------------------------------------------------
def _campaigns(stream: RestStream) -> list[dict[str, Any]]:
    return stream.shared_listing("campaigns", "hub/v1/campaigns", {"$orderBy": "ModifiedDate ASC"})


def _journeys(stream: RestStream) -> list[dict[str, Any]]:
    return stream.shared_listing(
        "journeys",
        "interaction/v1/interactions",
        # Every version, not just the latest: each version has its own id, activities and statistics.
        {"$orderBy": "ModifiedDate ASC", "extras": "all", "mostRecentVersionOnly": "false"},
    )


def _automations(stream: RestStream) -> list[dict[str, Any]]:
    return stream.shared_listing("automations", "automation/v1/automations")


class Campaigns(RestStream):
    probe_path = "hub/v1/campaigns"
    stream_name = "campaigns"
    scopes = ("campaigns_read",)

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        for item in _campaigns(self):
            yield self.with_entity_id(item, item.get("id"))


class CampaignAssets(RestStream):
    probe_path = "hub/v1/campaigns"
    stream_name = "campaign_assets"
    scopes = ("campaigns_read",)

    def unit_slices(self, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        # A campaign without an id has no assets path; the campaigns stream still emits it (digest key).
        campaigns, _ = self.parents_by_id(_campaigns(self), "campaigns", "id", "assets")
        for campaign_id, _campaign in campaigns:
            yield {"campaign_id": campaign_id}

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        if not stream_slice:
            return
        campaign_id = stream_slice["campaign_id"]
        # Paged like the other hub listings (see `page_of` for the envelopes SFMC is known to use).
        for item in self.list_all(f"hub/v1/campaigns/{quote(campaign_id, safe='')}/assets"):
            yield self.with_entity_id({"campaignId": campaign_id, **item}, item.get("id"))


class Journeys(RestStream):
    probe_path = "interaction/v1/interactions"
    stream_name = "journeys"
    scopes = ("journeys_read",)

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        for item in _journeys(self):
            yield self.with_entity_id(item, item.get("id"))


class JourneyStatistics(RestStream):
    """Journey-level figures per journey version: the `stats` object of the interactions listing (`extras=all`).

    SFMC source: "GET /interaction/v1/interactions" (developer.salesforce.com, getInteractionCollection): with
    `extras=stats` or `all` each version carries `stats` (currentPopulation, cumulativePopulation, metGoal,
    metExitCriteria, goalPerformance). No per-activity send/open/click figures are documented, so none are read.
    """

    probe_path = "interaction/v1/interactions"
    stream_name = "journey_statistics"
    scopes = ("journeys_read",)

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        for journey in _journeys(self):
            stats = journey.get("stats") if isinstance(journey.get("stats"), Mapping) else {}
            record = {
                "id": journey.get("id"),
                "key": journey.get("key"),
                "name": journey.get("name"),
                "version": journey.get("version"),
                "status": journey.get("status"),
                "modifiedDate": journey.get("modifiedDate"),
                **{name: stats.get(name) for name in _JOURNEY_STAT_FIELDS},
            }
            yield self.with_entity_id(record, journey.get("id"))


_JOURNEY_STAT_FIELDS = ("currentPopulation", "cumulativePopulation", "metGoal", "metExitCriteria", "goalPerformance")


class JourneyActivities(RestStream):
    """One record per activity of each journey version, with the journey it belongs to."""

    stream_name = "journey_activities"
    scopes = ("journeys_read",)
    probe_path = "interaction/v1/interactions"

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        for journey in _journeys(self):
            for activity in journey.get("activities") or []:
                record = {
                    "journeyId": journey.get("id"),
                    "journeyKey": journey.get("key"),
                    "journeyName": journey.get("name"),
                    "journeyVersion": journey.get("version"),
                    "journeyStatus": journey.get("status"),
                    **activity,
                }
                yield self.with_entity_id(record, journey.get("id"), activity.get("id") or activity.get("key"))


# The slice of a listed automation without an id: the entity_id (content digest) of its listing summary.
WITHOUT_ID = "automation_without_id"


class Automations(RestStream):
    probe_path = "automation/v1/automations"
    """Each automation's detail (schedule, steps, activities): the listing only has summaries."""

    stream_name = "automations"
    scopes = ("automations_read",)

    def unit_slices(self, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        automations, without_id = self.parents_by_id(
            _automations(self), "automations", "id", "detail", "each is emitted as its listing summary instead"
        )
        for automation_id, _automation in automations:
            yield {"automation_id": automation_id}
        # Still an automation of the account: its record is the listing's summary, keyed by its content's digest.
        for summary in without_id:
            yield {WITHOUT_ID: entity_id(summary, summary.get("id"))}

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        if not stream_slice:
            return
        if WITHOUT_ID in stream_slice:
            for summary in _automations(self):
                if entity_id(summary, summary.get("id")) == stream_slice[WITHOUT_ID]:
                    yield self.with_entity_id(summary, summary.get("id"))
                    return
            return
        detail = self.get_json(f"automation/v1/automations/{quote(stream_slice['automation_id'], safe='')}")
        if detail:
            yield self.with_entity_id(detail, detail.get("id"))


class Assets(RestStream):
    """Content Builder assets, incremental on modifiedDate, read through the advanced asset query.

    SFMC source: "POST /asset/v1/content/assets/query" (developer.salesforce.com, mc_rest_assets/assetAdvancedQuery):
    `query` is required; `fields` names the columns to return (content, views, data... come back only when named).

    How a window is read, and why:
    - Keyset paging on id (sort `id ASC`, `id greaterThan <last id>`, always page 1): SFMC's query fails past about
      10,000 results ("all shards failed"), which `page` numbers would reach; real clients (sfmc-devtools) page this
      way. The id condition also makes the required `query` valid on a full refresh, which has no date bounds.
    - The window's dates are sent as `modifiedDate greaterThanOrEqual/lessThan`: public clients filter this way,
      though the reference says greaterThan/lessThan compare numbers. If SFMC refuses the date condition (HTTP 400),
      the window is re-read with the id condition alone. Either way every item is also checked against the window
      on our side, so an account that compares dates loosely can neither add nor drop records.
    """

    stream_name = "assets"
    scopes = ("documents_and_images_read", "saved_content_read")
    cursor_field_name = "modifiedDate"
    probe_path = "asset/v1/content/assets/query"
    # Set once SFMC refused the date condition: later windows of the sync are read by id alone from the start
    # (one warning, no refused request per window).
    dates_refused = False

    def probe(self) -> None:
        self.get_json(self.probe_path, post=self.query_body(last_id=0, window={}, size=1))

    def query_body(self, *, last_id: int, window: Mapping[str, Any], size: int = ASSET_PAGE_SIZE) -> dict[str, Any]:
        """The query body for the page after `last_id`; `window` holds the date bounds to send (may be empty)."""
        after = {"property": "id", "simpleOperator": "greaterThan", "value": last_id}
        dates = _modified_between(window)
        return {
            "page": {"page": 1, "pageSize": size},
            "query": {"leftOperand": after, "logicalOperator": "AND", "rightOperand": dates} if dates else after,
            "sort": [{"property": "id", "direction": "ASC"}],
            "fields": self.requested_fields(),
        }

    def requested_fields(self) -> list[str]:
        """Every column the schema declares, so that a column added to the schema is requested without code."""
        return [
            name
            for name, spec in self.get_json_schema()["properties"].items()
            if name != "entity_id" and not spec.get("x-sfmc-computed")
        ]

    def get_error_handler(self) -> ErrorHandler | None:
        return AssetQueryErrorHandler(self.stream_name, self.api, self.scopes)

    def post_query(self, body: Mapping[str, Any]) -> tuple[int, Any]:
        """(HTTP status, parsed body) of one asset query; a 400 comes back only for a query naming a date."""
        _, response = self._http_client.send_request(
            http_method="POST",
            url=self._join_url(self.url_base, self.probe_path),
            request_kwargs=self.request_kwargs(),
            headers={"Accept": "application/json"},
            json=body,
        )
        if response.status_code == 400:
            try:
                return 400, response.json()
            except ValueError:
                return 400, None
        return response.status_code, parsed_body(response)

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        window = {key: stream_slice[key] for key in (WINDOW_START, WINDOW_END) if stream_slice.get(key)}
        in_window = _window_test(window)
        send_dates = bool(window) and not self.dates_refused
        last_id = 0
        guard = PageGuard(self.stream_name, self.probe_path)
        while True:
            status, body = self.post_query(self.query_body(last_id=last_id, window=window if send_dates else {}))
            if status == 400 and send_dates:  # only a query with a date condition gets here (AssetQueryErrorHandler)
                logger.warning(
                    f"Stream 'assets': Marketing Cloud refused the modifiedDate condition of the asset query "
                    f"({_message_of(body)}); reading this and later windows by id and keeping their dates on our "
                    "side instead."
                )
                send_dates, self.dates_refused = False, True
                continue
            page, total = page_of(body)
            if guard.repeats(page):  # checked before any record of the page is emitted: a repeat is dropped
                return
            for item in page:
                if in_window(item.get("modifiedDate")):
                    yield self.with_entity_id(item, item.get("id"))
            ids = [number for number in (whole_number(item.get("id")) for item in page) if number is not None]
            # Each query asks for page 1 of the items after `last_id`: its count is what remains from here on.
            if not ids or rest_listing_read(len(page), len(page), total, ASSET_PAGE_SIZE):
                return
            if max(ids) <= last_id:
                # The server ignored the id condition: asking again would bring the same items forever.
                logger.warning(
                    f"Stream 'assets': {self.probe_path} answered items at or below id {last_id} when asked for "
                    "those after it; the listing ends here."
                )
                return
            last_id = max(ids)


class AssetQueryErrorHandler(SfmcErrorHandler):
    """The shared error policy, except that a 400 to a query naming `modifiedDate` is handed back to the stream.

    The reference says greaterThan/lessThan compare numbers; should an account refuse a date comparison, the stream
    re-reads the window without it instead of failing.
    """

    def interpret_response(self, response_or_exception: requests.Response | Exception | None) -> ErrorResolution:
        response = response_or_exception
        if isinstance(response, requests.Response) and response.status_code == 400 and _names_a_date(response):
            return ErrorResolution(ResponseAction.IGNORE, None, "assets: the date condition was refused")
        return super().interpret_response(response_or_exception)


def _names_a_date(response: requests.Response) -> bool:
    """Whether the query that got this answer has a modifiedDate condition (not just the field in `fields`)."""
    try:
        sent = json.loads(response.request.body or b"{}")
    except (TypeError, ValueError):
        return False
    return '"modifiedDate"' in json.dumps(sent.get("query") if isinstance(sent, dict) else None)


def _message_of(body: Any) -> str:
    return str(body.get("message") or "no message") if isinstance(body, Mapping) else "no message"


def _window_test(window: Mapping[str, Any]) -> Callable[[Any], bool]:
    """Whether an asset's modifiedDate (ISO, with or without an offset) falls in [start, end) of the window.

    Dates are compared in the normaliser's form (UTC, fixed width), where string order is time order.
    """
    start, end = (rest_datetime(window[key]) if window.get(key) else None for key in (WINDOW_START, WINDOW_END))
    if start is None and end is None:
        return lambda value: True

    def test(value: Any) -> bool:
        try:
            moment = rest_datetime(value) if isinstance(value, str) else None
        except ValueError:
            return False
        return moment is not None and (start is None or moment >= start) and (end is None or moment < end)

    return test


def _modified_between(stream_slice: Mapping[str, Any]) -> Mapping[str, Any] | None:
    start, end = stream_slice.get(WINDOW_START), stream_slice.get(WINDOW_END)
    lower = {"property": "modifiedDate", "simpleOperator": "greaterThanOrEqual", "value": start} if start else None
    upper = {"property": "modifiedDate", "simpleOperator": "lessThan", "value": end} if end else None
    if lower and upper:
        return {"leftOperand": lower, "logicalOperator": "AND", "rightOperand": upper}
    return lower or upper


# SFMC keeps journey history for 30 days (PROTOCOL.md section 4): nothing older can be read.
JOURNEY_HISTORY_RETENTION = timedelta(days=30)
# A search answers at most this many entries (its `count` stops there); a range holding more is split in two.
JOURNEY_HISTORY_CAP = 10_000
# Public clients page the search by 50; larger pages are not documented.
JOURNEY_HISTORY_PAGE_SIZE = 50
# A range this short that still holds the cap cannot be split further.
JOURNEY_HISTORY_SHORTEST_RANGE = timedelta(seconds=1)


class JourneyHistory(RestStream):
    """Per-contact journey activity: which contact entered, passed or left which activity of which journey
    version, when, and with what status; incremental on `transactionTime` in windows, keyed by the entry's id.

    Read with `POST /interaction/v1/interactions/journeyhistory/search` rather than the documented
    `.../journeyhistory/download`: the search answers JSON pages whose shape public clients show (PROTOCOL.md
    section 4), and a failed page is retried alone, whereas the download is one CSV/TSV file of up to 1 GB that
    cannot be resumed and whose columns no source shows. The search stops counting at 10,000 entries and serves
    no page past them, so a window that reaches the cap is split in halves until each holds fewer. SFMC keeps
    30 days of history: a sync never starts earlier than that.
    """

    stream_name = "journey_history"
    scopes = ("journeys_read",)
    cursor_field_name = "transactionTime"
    path_of_search = "interaction/v1/interactions/journeyhistory/search"

    @property
    def cursor_start(self) -> datetime | None:
        kept_since = utc_now() - JOURNEY_HISTORY_RETENTION
        start = self.config.start_date
        return max(start, kept_since) if start else kept_since

    def unit_slices(self, **kwargs: Any) -> Iterable[Mapping[str, Any] | None]:
        if self.window_cursor is not None:
            yield from super().unit_slices(**kwargs)
            return
        # Full refresh: every window of what SFMC still keeps.
        start = self.cursor_start or utc_now()
        for lower, upper in date_windows(start, utc_now(), self.config.window):
            yield {WINDOW_START: format_window_bound(lower), WINDOW_END: format_window_bound(upper)}

    def probe(self) -> None:
        now = utc_now()
        self._search(now - timedelta(hours=1), now, page=1, page_size=1)

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        if WINDOW_START not in stream_slice:
            return
        start, end = parse_window_bound(stream_slice[WINDOW_START]), parse_window_bound(stream_slice[WINDOW_END])
        for item in self._entries_between(start, end):
            yield self.with_entity_id(item, item.get("id"))

    def _entries_between(self, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
        first = self._search(start, end, page=1)
        # Without a usable count, pages are read until one comes back shorter than the page size asked for.
        count = whole_number(first.get("count"))
        count = count if count is not None and count >= 0 else None
        if count is not None and count >= JOURNEY_HISTORY_CAP:
            if end - start <= JOURNEY_HISTORY_SHORTEST_RANGE:
                raise AirbyteTracedException(
                    message=f"Journey history holds {JOURNEY_HISTORY_CAP:,} or more entries between "
                    f"{format_window_bound(start)} and {format_window_bound(end)}, more than one search can "
                    "return; the connector cannot read them all.",
                    failure_type=FailureType.system_error,
                )
            middle = start + (end - start) / 2
            middle = middle.replace(microsecond=middle.microsecond // 1000 * 1000)
            yield from self._entries_between(start, middle)
            yield from self._entries_between(middle, end)
            return
        page, seen, items = 1, 0, first.get("items") or []
        guard = PageGuard(self.stream_name, self.path_of_search)
        while isinstance(items, list) and items and not guard.repeats(items):
            yield from items
            seen += len(items)
            if rest_listing_read(seen, len(items), count, JOURNEY_HISTORY_PAGE_SIZE):
                return
            page += 1
            items = self._search(start, end, page=page).get("items") or []

    def _search(self, start: datetime, end: datetime, *, page: int, page_size: int = JOURNEY_HISTORY_PAGE_SIZE) -> dict:
        body = self.get_json(
            self.path_of_search,
            {"$page": page, "$pageSize": page_size},
            # `end` may be inclusive (undocumented): an entry on a window's edge is then read twice, under one id.
            post={"start": format_window_bound(start), "end": format_window_bound(end)},
        )
        return body if isinstance(body, dict) else {}


REST_STREAMS: tuple[type[RestStream], ...] = (
    Campaigns,
    CampaignAssets,
    Assets,
    Journeys,
    JourneyStatistics,
    JourneyActivities,
    JourneyHistory,
    Automations,
)
