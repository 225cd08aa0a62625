"""REST streams: Journey Builder, Automation Studio, campaigns and Content Builder assets.

Most REST objects are small catalogs that several streams derive from (journeys feed `journeys` and
`journey_statistics`), so a listing is fetched once per sync and shared (`SyncContext.memo`). Detail and
per-parent calls are slices, which the concurrent reader spreads over its workers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_sfmc.errors import parsed_body
from source_sfmc.stream_base import (
    WINDOW_END,
    WINDOW_START,
    SfmcStream,
    date_windows,
    format_window_bound,
    parse_window_bound,
    utc_now,
)

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
        """Every item of a `$page`/`$pageSize` listing, in order, until SFMC's `count` is reached."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            body = self.get_json(path, {**(params or {}), "$page": page, "$pageSize": LIST_PAGE_SIZE})
            page_items = (body or {}).get("items") or []
            items.extend(page_items)
            total = (body or {}).get("count")
            if not page_items or (isinstance(total, int) and len(items) >= total) or len(page_items) < LIST_PAGE_SIZE:
                return items
            page += 1

    probe_path = ""

    def probe(self) -> None:
        """One cheap call for `check`: raises a config error naming the scope when access is denied."""
        self.get_json(self.probe_path, {"$page": 1, "$pageSize": 1})

    def shared_listing(self, key: str, path: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.context.memo(key, lambda: self.list_all(path, params))

    def with_entity_id(self, item: Mapping[str, Any], entity_id: Any) -> dict[str, Any]:
        record = self.typed(item)
        record["entity_id"] = str(entity_id)
        return record


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

    def stream_slices(self, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        for campaign in _campaigns(self):
            yield {"campaign_id": str(campaign["id"])}

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        if not stream_slice:
            return
        campaign_id = stream_slice["campaign_id"]
        body = self.get_json(f"hub/v1/campaigns/{quote(campaign_id, safe='')}/assets")
        for item in body if isinstance(body, list) else (body or {}).get("items") or []:
            yield self.with_entity_id({"campaignId": campaign_id, **item}, item.get("id"))


class Journeys(RestStream):
    probe_path = "interaction/v1/interactions"
    stream_name = "journeys"
    scopes = ("journeys_read",)

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        for item in _journeys(self):
            yield self.with_entity_id(item, item.get("id"))


class JourneyStatistics(RestStream):
    probe_path = "interaction/v1/interactions"
    """Population and goal figures per journey version, and the same per activity where SFMC reports them."""

    stream_name = "journey_statistics"
    scopes = ("journeys_read",)

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        for journey in _journeys(self):
            stats = journey.get("stats") or {}
            record = {
                "id": journey.get("id"),
                "key": journey.get("key"),
                "name": journey.get("name"),
                "version": journey.get("version"),
                "status": journey.get("status"),
                "modifiedDate": journey.get("modifiedDate"),
                **{name: stats.get(name) for name in _JOURNEY_STAT_FIELDS},
                "activities": [_activity_statistics(activity) for activity in journey.get("activities") or []],
            }
            yield self.with_entity_id(record, journey.get("id"))


_JOURNEY_STAT_FIELDS = ("currentPopulation", "cumulativePopulation", "metGoal", "metExitCriteria", "goalPerformance")


def _activity_statistics(activity: Mapping[str, Any]) -> dict[str, Any]:
    metrics = activity.get("metaData", {}).get("statistics") if isinstance(activity.get("metaData"), dict) else None
    metrics = metrics or activity.get("stats") or activity.get("metrics") or {}
    return {
        "id": activity.get("id"),
        "key": activity.get("key"),
        "name": activity.get("name"),
        "type": activity.get("type"),
        "metrics": metrics,
    }


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
                yield self.with_entity_id(record, f"{journey.get('id')}:{activity.get('id') or activity.get('key')}")


class Automations(RestStream):
    probe_path = "automation/v1/automations"
    """Each automation's detail (schedule, steps, activities): the listing only has summaries."""

    stream_name = "automations"
    scopes = ("automations_read",)

    def stream_slices(self, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        for automation in _automations(self):
            yield {"automation_id": str(automation["id"])}

    def read_slice(self, stream_slice: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        if not stream_slice:
            return
        detail = self.get_json(f"automation/v1/automations/{quote(stream_slice['automation_id'], safe='')}")
        if detail:
            yield self.with_entity_id(detail, detail.get("id"))


class Assets(RestStream):
    """Content Builder assets, incremental on modifiedDate through the asset query endpoint (sorted, filtered)."""

    stream_name = "assets"
    scopes = ("documents_and_images_read", "saved_content_read")
    cursor_field_name = "modifiedDate"
    http_method = "POST"

    def path(self, **kwargs: Any) -> str:
        return "asset/v1/content/assets/query"

    def probe(self) -> None:
        self.get_json(self.path(), post={"page": {"page": 1, "pageSize": 1}})

    def request_body_json(
        self,
        stream_state: Mapping[str, Any] | None = None,
        stream_slice: Mapping[str, Any] | None = None,
        next_page_token: Mapping[str, Any] | None = None,
    ) -> Mapping[str, Any]:
        body: dict[str, Any] = {
            "page": {"page": (next_page_token or {}).get("page", 1), "pageSize": ASSET_PAGE_SIZE},
            "sort": [{"property": "modifiedDate", "direction": "ASC"}, {"property": "id", "direction": "ASC"}],
        }
        query = _modified_between(stream_slice or {})
        if query:
            body["query"] = query
        return body

    def next_page_token(self, response: requests.Response) -> Mapping[str, Any] | None:
        body = parsed_body(response) or {}
        page, size, count = body.get("page", 1), body.get("pageSize", ASSET_PAGE_SIZE), body.get("count", 0)
        if body.get("items") and page * size < count:
            return {"page": page + 1}
        return None

    def parse_response(self, response: requests.Response, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        for item in (parsed_body(response) or {}).get("items") or []:
            yield self.with_entity_id(item, item.get("id"))


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

    def stream_slices(self, **kwargs: Any) -> Iterable[Mapping[str, Any] | None]:
        if self.window_cursor is not None:
            yield from super().stream_slices(**kwargs)
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
        count = first.get("count") if isinstance(first.get("count"), int) else 0
        if count >= JOURNEY_HISTORY_CAP:
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
        while items:
            yield from items
            seen += len(items)
            if seen >= count:
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
