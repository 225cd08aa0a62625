"""Sends (user-initiated and triggered send jobs), their per-list rows and triggered send summaries."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

from ..soap_accounts import CHILD_MIDS, MAIN_MID
from ..soap_dates import DAY_MS, HOUR_MS, SECOND_MS, civil_day
from ..soap_objects import SEND_COUNTS
from .events import EventSource
from .hashing import choose, fraction, hash_at, salt_for
from .rows import PERIOD_DAYS, PERIOD_START_MS, base_row

# Uneven months so that some 30-day windows need several 2,500-result pages: the period's first month .. sixth
MONTH_SEND_WEIGHT = (1.0, 0.7, 1.8, 0.9, 0.6, 1.2)
SENDS_AT_SCALE_1 = 50


def _month_of_day(day: int, start_ms: int = PERIOD_START_MS) -> int:
    """Calendar months from the period's first month to its day `day` (0 .. 5; a seventh partial month counts as 5)."""
    first, that = civil_day(start_ms // DAY_MS), civil_day(start_ms // DAY_MS + day)
    return min((that.year - first.year) * 12 + that.month - first.month, len(MONTH_SEND_WEIGHT) - 1)


def build_sends(
    seed: int,
    scale: float,
    emails: Sequence[dict],
    lists: Sequence[dict],
    tsds: Sequence[dict],
    shift_ms: int = 0,
) -> tuple[list[dict], list[tuple[int, ...]], list[EventSource], list[int], list[float]]:
    """User-initiated sends on uneven days, plus one send job per triggered send definition."""
    start_ms = PERIOD_START_MS + shift_ms
    salt = salt_for(seed, "Send")
    n = max(5, round(SENDS_AT_SCALE_1 * math.sqrt(scale)))
    day_cum = [0.0]
    for d in range(PERIOD_DAYS):
        day_cum.append(day_cum[-1] + MONTH_SEND_WEIGHT[_month_of_day(d, start_ms)])
    public_lists = [lst for lst in lists if lst["Type"] == "Public"]
    sends, send_lists, sources, send_days, send_weights = [], [], [], [], []
    for k in range(n):
        h = hash_at(salt, k)
        x = (k + fraction(h)) / n * day_cum[-1]
        day = min(bisect.bisect_right(day_cum, x) - 1, PERIOD_DAYS - 1)
        send_ms = start_ms + day * DAY_MS + (13 * 3600 + (h >> 12) % (4 * 3600)) * SECOND_MS
        email = emails[(h >> 20) % len(emails)]
        mid = MAIN_MID if k % 8 != 7 else CHILD_MIDS[(k // 8) % 2]
        send_id = 300_000 + 17 * k
        row = base_row(
            mid,
            send_ms - (1 + (h >> 24) % 3) * DAY_MS,
            send_ms + (2 + (h >> 28) % 20) * HOUR_MS,
            id_=send_id,
            object_id=None,
            customer_key=None,
        )
        row.update(
            {
                "Email.ID": email["ID"],
                "SendDate": send_ms,
                "FromAddress": "news@northwind.example.com",
                "FromName": choose(h >> 32, ("Northwind", "Northwind Store", "L'équipe Northwind")),
                "Subject": email["Subject"],
                "PreviewURL": f"https://view.example.com/?j={send_id}",
                "SentDate": send_ms + (5 + (h >> 36) % 90) * 60 * SECOND_MS,
                "EmailName": email["Name"],
                "Status": "Canceled" if k == 3 else "Complete",
                "IsMultipart": True,
                "SendLimit": 0,
                "SendWindowOpen": "00:00:00",
                "SendWindowClose": "00:00:00",
                "IsAlwaysOn": False,
                "Additional": "",
                "BccEmail": "archive@northwind.example.com" if k % 6 == 1 else "",
            }
        )
        sends.append(row)
        list_ids = [public_lists[(h >> 40) % len(public_lists)]["ID"]]
        if (h >> 44) % 3 == 0:
            list_ids.append(public_lists[((h >> 40) + 5) % len(public_lists)]["ID"])
        send_lists.append(tuple(list_ids))
        sources.append(EventSource(send_id, mid, list_ids[0], None, _links(send_id, h)))
        send_days.append(day)
        send_weights.append((0.5 + fraction(h >> 3)) * (3.0 if k % 10 == 4 else 1.0) * (0.0 if k == 3 else 1.0))
    for t, tsd in enumerate(tsds):
        send_id = 290_000 + t
        row = base_row(
            MAIN_MID, tsd["CreatedDate"], tsd["ModifiedDate"], id_=send_id, object_id=None, customer_key=None
        )
        email = next(e for e in emails if e["ID"] == tsd["Email.ID"])
        row.update(
            {
                "Email.ID": email["ID"],
                "SendDate": tsd["CreatedDate"],
                "FromAddress": tsd["FromAddress"],
                "FromName": tsd["FromName"],
                "Subject": tsd["EmailSubject"],
                "PreviewURL": "",
                "SentDate": tsd["CreatedDate"],
                "EmailName": email["Name"],
                "Status": "Sending",
                "IsMultipart": True,
                "SendLimit": tsd["SendLimit"],
                "SendWindowOpen": tsd["SendWindowOpen"],
                "SendWindowClose": tsd["SendWindowClose"],
                "IsAlwaysOn": True,
                "Additional": "",
                "BccEmail": tsd["BccEmail"],
            }
        )
        sends.append(row)
        send_lists.append(())
        sources.append(EventSource(send_id, MAIN_MID, lists[0]["ID"], tsd["ObjectID"], _links(send_id, send_id)))
    return sends, send_lists, sources, send_days, send_weights


def _links(send_id: int, h: int) -> tuple[tuple[int, str], ...]:
    paths = ("offers", "été-2025", "account/preferences", "p/12345", "blog/tips & tricks")
    return tuple(
        (
            send_id * 10 + k,
            f"https://www.example.com/{paths[(h + k) % len(paths)]}?utm_source=sfmc&utm_campaign={send_id}",
        )
        for k in range(3 + h % 2)
    )


def fill_send_counts(sends: list[dict], expected: dict[str, list[float]], sources: Sequence[EventSource]) -> None:
    """Send counters are the expected event counts of the data set (close to, not exactly, the events)."""
    for s, row in enumerate(sends):
        sent = round(expected["SentEvent"][s])
        bounces = expected["BounceEvent"][s]
        not_sent = round(expected["NotSentEvent"][s])
        row.update(
            {
                "NumberSent": sent,
                "NumberDelivered": max(0, sent - round(bounces)),
                "HardBounces": round(bounces * 0.5),
                "SoftBounces": round(bounces * 0.35),
                "OtherBounces": round(bounces * 0.15),
                "UniqueOpens": round(expected["OpenEvent"][s] * 0.8),
                "UniqueClicks": round(expected["ClickEvent"][s] * 0.7),
                "Unsubscribes": round(expected["UnsubEvent"][s]),
                "ForwardedEmails": round(expected["ForwardedEmailEvent"][s]),
                "Duplicates": not_sent // 5,
                "InvalidAddresses": not_sent // 10,
                "ExistingUndeliverables": not_sent // 4,
                "ExistingUnsubscribes": not_sent // 3,
                "MissingAddresses": 0,
                "NumberErrored": not_sent // 10,
                "NumberExcluded": not_sent - not_sent // 10,
                "NumberTargeted": sent + not_sent,
            }
        )


def build_list_sends(sends: Sequence[dict], send_lists: Sequence[tuple[int, ...]]) -> list[dict]:
    """One row per (send, list); a send's counters are split between its lists."""
    rows = []
    for send, list_ids in zip(sends, send_lists, strict=True):
        k = len(list_ids)
        for n, list_id in enumerate(list_ids):
            row = base_row(
                send["Client.ID"], send["SendDate"], None, id_=send["ID"] * 10 + n, object_id=None, customer_key=None
            )
            del row["ModifiedDate"]
            row.update({"SendID": send["ID"], "List.ID": list_id})
            row.update({c: send[c] // k + (send[c] % k if n == 0 else 0) for c in SEND_COUNTS})
            rows.append(row)
    return rows


LINK_ALIASES = ("Shop now", "Offers", "", "Read more", "View in browser")


def build_link_sends(
    sends: Sequence[dict], expected: dict[str, list[float]], sources: Sequence[EventSource]
) -> list[dict]:
    """One row per (send, link): the send's expected clicks shared between its links, the first link most."""
    rows = []
    for s, (send, source) in enumerate(zip(sends, sources, strict=True)):
        clicks = round(expected["ClickEvent"][s])
        weights = [2 ** (len(source.links) - k) for k in range(len(source.links))]
        for k, (link_id, url) in enumerate(source.links):
            total = clicks * weights[k] // sum(weights)
            row = base_row(send["Client.ID"], None, None, id_=send["ID"] * 100 + k, object_id=None, customer_key=None)
            row.update(
                {
                    "SendID": send["ID"],
                    "Link.ID": link_id,
                    "Link.Alias": LINK_ALIASES[(link_id + k) % len(LINK_ALIASES)],
                    "Link.TotalClicks": total,
                    "Link.UniqueClicks": total * 7 // 10,
                    "Link.URL": url,
                }
            )
            rows.append(row)
    return rows


def build_triggered_send_summaries(
    tsds: Sequence[dict], sends: Sequence[dict], expected: dict[str, list[float]], sources: Sequence[EventSource]
) -> list[dict]:
    rows = []
    for tsd in tsds:
        s = next(i for i, src in enumerate(sources) if src.tsd_object_id == tsd["ObjectID"])
        send = sends[s]
        # A summary is one per definition; it carries the definition's ObjectID.
        row = base_row(MAIN_MID, None, None, id_=None, object_id=tsd["ObjectID"], customer_key=tsd["CustomerKey"])
        opens = round(expected["OpenEvent"][s])
        clicks = round(expected["ClickEvent"][s])
        row.update(
            {
                "Sent": send["NumberSent"],
                "NotSentDueToOptOut": send["ExistingUnsubscribes"],
                "NotSentDueToUndeliverable": send["ExistingUndeliverables"],
                "Bounces": send["HardBounces"] + send["SoftBounces"] + send["OtherBounces"],
                "Opens": opens,
                "Clicks": clicks,
                "UniqueOpens": send["UniqueOpens"],
                "UniqueClicks": send["UniqueClicks"],
                "OptOuts": send["Unsubscribes"],
                "SurveyResponses": round(expected["SurveyEvent"][s]),
                "FTAFRequests": send["ForwardedEmails"],
                "FTAFEmailsSent": send["ForwardedEmails"],
                "FTAFOptIns": round(expected["ForwardedEmailOptInEvent"][s]),
                "Conversions": clicks // 10,
                "UniqueConversions": clicks // 12,
                "InProcess": 0,
                "NotSentDueToError": send["NumberErrored"],
                "Queued": 0,
            }
        )
        rows.append(row)
    return rows
