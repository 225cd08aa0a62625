"""Journey history: per-contact journey activity, as `POST /interaction/v1/interactions/journeyhistory/search`.

SFMC keeps history for 30 days, so unlike the rest of the sandbox's data its times are relative to when the
sandbox starts (`anchor`): entries are spread evenly over the 35 days before it, and a search sees only those
within the 30 days before the request. Entry i is a pure function of (seed, anchor, i), generated when asked
for, and entries are in time order, so a time range is an index range.

What a search answers (PROTOCOL.md section 4): `{count, page, pageSize, items}`, `count` stopping at 10,000 and
no page reaching past the 10,000th entry, so a reader must split a range that holds more.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

RETENTION = timedelta(days=30)
SPREAD = timedelta(days=35)
SEARCH_CAP = 10_000
ENTRIES_AT_SCALE_1 = 12_000  # more than the cap in one 30-day window, so a default sync must split it
_STATUSES = ("Complete", "Complete", "Complete", "Complete", "Waiting", "Failed")
_MESSAGES = {"Failed": "Contact was not sent the email: the subscriber is unsubscribed.", "Waiting": ""}


@dataclass(frozen=True)
class JourneyStep:
    """An activity of a journey version, where contacts are recorded as passing."""

    definition_id: str
    definition_name: str
    version: int
    activity_id: str
    activity_name: str
    activity_type: str


def journey_steps(journeys: Sequence[Mapping[str, Any]]) -> tuple[JourneyStep, ...]:
    """Every activity of every multi-step journey version that ran (published, stopped or finishing)."""
    return tuple(
        JourneyStep(
            journey["id"],
            journey["name"],
            journey["version"],
            activity["id"],
            activity.get("name") or activity["key"],
            activity["type"],
        )
        for journey in journeys
        if journey["definitionType"].lower() == "multistep" and journey["status"] != "Draft"
        for activity in journey.get("activities") or ()
    )


class JourneyHistory:
    def __init__(self, seed: int, scale: float, anchor: datetime, steps: Sequence[JourneyStep]) -> None:
        self.seed = seed
        self.size = max(1, round(ENTRIES_AT_SCALE_1 * scale)) if steps else 0
        self.anchor = anchor.astimezone(UTC)
        self._first = self.anchor - SPREAD
        self._step = SPREAD / max(1, self.size)
        self._steps = tuple(steps)

    def time(self, i: int) -> datetime:
        """Entry i's transaction time: evenly spread, rounded to the millisecond."""
        moment = self._first + self._step * i
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def first_at_or_after(self, moment: datetime) -> int:
        lo, hi = 0, self.size
        while lo < hi:
            mid = (lo + hi) // 2
            if self.time(mid) < moment:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def entry(self, i: int) -> dict[str, Any]:
        digest = hashlib.blake2b(f"{self.seed}:{self.anchor.isoformat()}:{i}".encode(), digest_size=16).digest()
        h = int.from_bytes(digest[:8], "big")
        step = self._steps[h % len(self._steps)]
        status = _STATUSES[(h >> 16) % len(_STATUSES)]
        contact = (h >> 24) % 3000
        return {
            "id": str(uuid.UUID(bytes=digest, version=4)),
            "mid": 7281234,
            "eventId": str(uuid.UUID(int=(h << 64) | (h >> 1), version=4)),
            "definitionId": step.definition_id,
            "definitionName": step.definition_name,
            "definitionVersion": step.version,
            "contactKey": f"SK-{contact:07d}" if contact % 3 else f"contact{contact}@example.com",
            "activityId": step.activity_id,
            "activityName": step.activity_name,
            "activityType": step.activity_type,
            "status": status,
            "transactionTime": _server_time(self.time(i)),
            "message": _MESSAGES.get(status, ""),
        }

    def search(
        self, start: datetime | None, end: datetime | None, now: datetime, page: int, size: int
    ) -> dict[str, Any]:
        """One page of the entries with start <= transactionTime <= end that are still kept at `now`."""
        floor = max(now - RETENTION, start) if start else now - RETENTION
        lo = self.first_at_or_after(floor)
        hi = self.first_at_or_after(end + timedelta(milliseconds=1)) if end else self.size
        total = max(0, hi - lo)
        reachable = min(total, SEARCH_CAP)
        first = (page - 1) * size
        indexes = range(lo + first, lo + min(first + size, reachable)) if first < reachable else range(0)
        return {"count": reachable, "page": page, "pageSize": size, "items": [self.entry(i) for i in indexes]}


def _server_time(moment: datetime) -> str:
    """SFMC's server clock (UTC-6), no offset, milliseconds with trailing zeros dropped."""
    local = (moment - timedelta(hours=6)).replace(tzinfo=None)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    millis = f"{local.microsecond // 1000:03d}".rstrip("0")
    return f"{text}.{millis}" if millis else text
