"""Collections (an object type's rows by index, materialised or generated on demand) and shared row shapes."""

from __future__ import annotations

from collections.abc import Sequence

from ..soap_dates import DAY_MS, SECOND_MS, utc_ms
from .hashing import hash_at

# The data set is drawn around a fixed epoch: activity (sends, events) falls in the PERIOD_DAYS before it, older
# objects further back. A sandbox started with another epoch shifts every date by whole days (`epoch_shift_ms`),
# so the same seed gives the same data relative to its epoch.
FIXED_EPOCH_MS = utc_ms(2025, 7, 1)
PERIOD_START_MS = utc_ms(2025, 1, 1)
PERIOD_END_MS = FIXED_EPOCH_MS
PERIOD_DAYS = (PERIOD_END_MS - PERIOD_START_MS) // DAY_MS


def epoch_shift_ms(epoch_ms: int) -> int:
    """How far (whole days, in ms) dates move for a data set whose activity ends at `epoch_ms` (UTC midnight)."""
    return (epoch_ms - FIXED_EPOCH_MS) // DAY_MS * DAY_MS


class Collection:
    """Rows by index. ``order_key(i)`` is monotonic non-decreasing in i for ``order_prop`` (or absent)."""

    size: int = 0
    order_prop: str | None = None

    def row(self, i: int) -> dict:
        raise NotImplementedError

    def order_key(self, i: int) -> int:
        raise NotImplementedError

    def first_index(self, key: int, *, after: bool) -> int:
        """First index whose order key is >= key (or > key when ``after``): a binary search, O(log n)."""
        lo, hi = 0, self.size
        while lo < hi:
            mid = (lo + hi) // 2
            k = self.order_key(mid)
            if k > key or (k == key and not after):
                hi = mid
            else:
                lo = mid + 1
        return lo


class RowList(Collection):
    def __init__(self, rows: Sequence[dict], order_prop: str | None = None):
        if order_prop:
            rows = sorted(rows, key=lambda r: r[order_prop])
        self.rows = tuple(rows)
        self.size = len(self.rows)
        self.order_prop = order_prop

    def row(self, i: int) -> dict:
        return self.rows[i]

    def order_key(self, i: int) -> int:
        return self.rows[i][self.order_prop]


def scaled(n: int, scale: float) -> int:
    return max(0, round(n * scale))


def base_row(
    mid: int,
    created: int | None,
    modified: int | None,
    *,
    id_: int | None,
    object_id: str | None,
    customer_key: str | None,
) -> dict:
    return {
        "Client.ID": mid,
        "PartnerKey": None,
        "PartnerProperties": (),
        "CreatedDate": created,
        "ModifiedDate": modified,
        "ID": id_,
        "ObjectID": object_id,
        "CustomerKey": customer_key,
    }


def dated(salt: int, i: int, start_ms: int, span_days: int) -> tuple[int, int]:
    """(created, modified) with modified on or after created; milliseconds on some, whole seconds on others."""
    h = hash_at(salt, i)
    created = start_ms + (h % (span_days * 86400)) * SECOND_MS + ((h >> 40) % 1000 if h & 1 else 0)
    modified = created + ((h >> 20) % (60 * 86400)) * SECOND_MS + ((h >> 50) % 1000 if h & 2 else 0)
    return created, modified
