"""Tracking events: one on-demand stream per event type, whose days follow the sends that cause them."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from ..soap_dates import DAY_MS, MIN_DATE_MS
from ..soap_objects import PAIRS, SCHEMAS
from .hashing import fraction, hash_at, salt_for
from .people import Subscribers
from .rows import PERIOD_DAYS, PERIOD_START_MS, Collection, scaled


@dataclass(frozen=True)
class EventSpec:
    object_type: str
    event_type: str  # BounceEvent overrides per event
    count_at_scale_1: int
    kernel: tuple[float, ...]  # share of a send's events on its day, the day after, ...
    triggered_share: float  # share of events from always-on triggered sends, spread over every day


EVENT_SPECS = (
    EventSpec("SentEvent", "Sent", 15_000, (1.0,), 0.12),
    EventSpec("OpenEvent", "Open", 6_000, (0.45, 0.25, 0.12, 0.08, 0.05, 0.03, 0.02), 0.12),
    EventSpec("ClickEvent", "Click", 2_500, (0.5, 0.25, 0.12, 0.07, 0.06), 0.12),
    EventSpec("BounceEvent", "HardBounce", 600, (0.85, 0.15), 0.10),
    EventSpec("UnsubEvent", "Unsubscribe", 200, (0.4, 0.3, 0.15, 0.1, 0.05), 0.05),
    EventSpec("NotSentEvent", "NotSent", 300, (1.0,), 0.15),
    EventSpec("ForwardedEmailEvent", "ForwardedEmail", 100, (0.3, 0.25, 0.2, 0.15, 0.1), 0.0),
    EventSpec("ForwardedEmailOptInEvent", "ForwardedEmailOptIn", 40, (0.2, 0.25, 0.2, 0.2, 0.15), 0.0),
    EventSpec("SurveyEvent", "Survey", 120, (0.5, 0.3, 0.2), 0.0),
)
SURVEY_ANSWERS = (  # Question, Answer
    ("How satisfied are you with your order?", "Very satisfied"),
    ("How satisfied are you with your order?", "Neutral"),
    ("Would you recommend us to a friend?", "Yes"),
    ("Would you recommend us to a friend?", "No"),
    ("What should we improve?", "Livraison plus rapide & moins d'emballage"),
)
BOUNCES = (  # EventType, BounceCategory, SMTPCode, SMTPReason, BounceType
    (
        "HardBounce",
        "Hard bounce",
        "550",
        "550 5.1.1 <recipient>: Recipient address rejected: User unknown",
        "immediate",
    ),
    ("SoftBounce", "Soft bounce", "452", "452 4.2.2 Mailbox full", "delayed"),
    ("HardBounce", "Block bounce", "554", "554 5.7.1 Message rejected (spam & policy)", "immediate"),
    ("OtherBounce", "Technical/Other bounce", "421", "421 4.4.2 Connection timed out", "delayed"),
    ("SoftBounce", "Soft bounce", "450", "450 4.7.1 Greylisted, try again later", "delayed"),
)


@dataclass(frozen=True)
class EventSource:
    """A send events belong to: a user-initiated send, or the job of an always-on triggered send."""

    send_id: int
    mid: int
    list_id: int
    tsd_object_id: str | None
    links: tuple[tuple[int, str], ...]


class EventStream(Collection):
    """Events of one type; event i's time is the inverse of a per-day cumulative weight at (i + 0.5) / n."""

    order_prop = "EventDate"

    def __init__(
        self,
        seed: int,
        spec: EventSpec,
        size: int,
        day_weights: Sequence[float],
        day_pickers: Sequence[tuple[list[float], list[int]]],
        sources: Sequence[EventSource],
        subscribers: Subscribers,
        start_ms: int = PERIOD_START_MS,
    ):
        self.spec = spec
        self.size = size
        self.object_type = spec.object_type
        self._salt = salt_for(seed, spec.object_type)
        self._cum = [0.0]
        for w in day_weights:
            self._cum.append(self._cum[-1] + w)
        self._x_per_index = self._cum[-1] / max(1, size)
        self._ms_per_weight = [DAY_MS / w if w else 0.0 for w in day_weights]
        self._day_start = [start_ms + d * DAY_MS for d in range(len(day_weights))]
        self._pickers = day_pickers
        self._sources = sources
        self._subscribers = subscribers
        self._n_subscribers = max(1, subscribers.size)
        base = {p.name: None for p in SCHEMAS[spec.object_type].props if p.kind != PAIRS}
        base.update({"ID": 0, "CreatedDate": MIN_DATE_MS, "EventType": spec.event_type})
        self._base = base

    def _raw_time(self, i: int) -> tuple[int, int]:
        x = (i + 0.5) * self._x_per_index
        d = bisect.bisect_right(self._cum, x) - 1
        if d >= PERIOD_DAYS:
            d = PERIOD_DAYS - 1
        offset = int((x - self._cum[d]) * self._ms_per_weight[d])
        return self._day_start[d] + (offset if offset < DAY_MS else DAY_MS - 1), d

    def _time(self, i: int, h: int) -> tuple[int, int]:
        t, d = self._raw_time(i)
        if (h >> 60) & 3 == 0 and i:
            # a quarter of events carry whole seconds; only when that keeps times monotonic in i
            whole = t - t % 1000
            if self._raw_time(i - 1)[0] < whole:
                t = whole
        return t, d

    def order_key(self, i: int) -> int:
        return self._time(i, hash_at(self._salt, i))[0]

    def row(self, i: int) -> dict:
        h = hash_at(self._salt, i)
        t, d = self._time(i, h)
        upper, idx = self._pickers[d]
        if len(idx) > 1:
            pick = bisect.bisect_right(upper, fraction(h) * upper[-1])
            src = self._sources[idx[pick if pick < len(idx) else -1]]
        else:
            src = self._sources[idx[0]]
        s = (h >> 20) % self._n_subscribers
        row = self._base.copy()
        row["Client.ID"] = src.mid
        row["SendID"] = src.send_id
        row["SubscriberKey"] = self._subscribers.key(s)
        row["EventDate"] = t
        row["TriggeredSendDefinitionObjectID"] = src.tsd_object_id
        row["BatchID"] = (1000 + d) if src.tsd_object_id else 0
        row["PartnerProperties"] = (("ListID", str(src.list_id)), ("SubscriberID", str(40_000_000 + s)))
        kind = self.object_type
        if kind == "ClickEvent":
            url_id, url = src.links[(h >> 50) % len(src.links)]
            row["URLID"] = url_id
            row["URLIDLong"] = url_id
            row["URL"] = url
        elif kind == "BounceEvent":
            event_type, category, code, reason, bounce_type = BOUNCES[(h >> 50) % len(BOUNCES)]
            row["EventType"] = event_type
            row["BounceCategory"] = category
            row["SMTPCode"] = code
            row["SMTPReason"] = reason
            row["BounceType"] = bounce_type
        elif kind == "ForwardedEmailOptInEvent":
            row["OptInSubscriberKey"] = self._subscribers.key((s + 1 + (h >> 50) % 97) % self._n_subscribers)
        elif kind == "SurveyEvent":
            row["Question"], row["Answer"] = SURVEY_ANSWERS[(h >> 50) % len(SURVEY_ANSWERS)]
        elif kind == "UnsubEvent":
            row["List.ID"] = src.list_id
            row["IsMasterUnsubscribed"] = (h >> 50) % 10 < 3
        return row


def build_event_streams(
    seed: int,
    scale: float,
    sources: Sequence[EventSource],
    send_days: Sequence[int],
    send_weights: Sequence[float],
    n_triggered: int,
    subscribers: Subscribers,
    shift_ms: int = 0,
) -> tuple[dict[str, EventStream], dict[str, list[float]]]:
    """Per event type: day weights = sends' weights spread by the type's kernel, plus triggered traffic."""
    streams: dict[str, EventStream] = {}
    expected: dict[str, list[float]] = {}
    n_regular = len(send_days)
    for spec in EVENT_SPECS:
        per_day: list[dict[int, float]] = [{} for _ in range(PERIOD_DAYS)]
        for s, (day, w) in enumerate(zip(send_days, send_weights, strict=True)):
            for k, share in enumerate(spec.kernel):
                if day + k < PERIOD_DAYS and w:
                    per_day[day + k][s] = per_day[day + k].get(s, 0.0) + w * share
        regular_total = sum(sum(d.values()) for d in per_day)
        share = spec.triggered_share
        per_day_triggered = regular_total * share / (1 - share) / PERIOD_DAYS / max(1, n_triggered) if share else 0.0
        if per_day_triggered:
            for d in range(PERIOD_DAYS):
                for t in range(n_triggered):
                    per_day[d][n_regular + t] = per_day_triggered
        weights, pickers = [], []
        for d in range(PERIOD_DAYS):
            # per day: cumulative upper bounds of each source's weight, to pick an event's send
            upper, idx, acc = [], [], 0.0
            for src, w in sorted(per_day[d].items()):
                acc += w
                upper.append(acc)
                idx.append(src)
            weights.append(acc)
            pickers.append((upper, idx) if idx else ([1.0], [0]))
        total = sum(weights)
        size = scaled(spec.count_at_scale_1, scale)
        per_source = [0.0] * len(sources)
        for d in range(PERIOD_DAYS):
            for src, w in per_day[d].items():
                per_source[src] += size * w / total if total else 0.0
        expected[spec.object_type] = per_source
        streams[spec.object_type] = EventStream(
            seed, spec, size, weights, pickers, sources, subscribers, PERIOD_START_MS + shift_ms
        )
    return streams, expected
