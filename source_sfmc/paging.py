"""When a paging loop ends: the one rule every REST and SOAP listing follows.

A listing ends on the server's own end signal (SOAP `OverallStatus` other than `MoreDataAvailable`; for REST, see
`rest_listing_read`: the `count` reached, or a short page when there is no count), on an empty page, on a page that
repeats any page before it in the listing (a server that ignores the page parameter, or cycles through a few pages,
would otherwise be asked until the cap and its records emitted again and again; two pages of one real listing never
hold the same items), or fails at a hard cap of pages with an error naming the stream and the endpoint. Paging
fields are read tolerantly: `"120"` is 120, and a value that is not a whole number is treated as absent.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import orjson
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

logger = logging.getLogger("airbyte")

# 100,000 pages is 5 million REST items or 250 million SOAP rows in one listing: far beyond any real account.
MAX_PAGES = 100_000


def whole_number(value: Any) -> int | None:
    """A paging field as an int: an int, a whole float, or text of ASCII digits; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) < 19:
        return int(value.strip())
    return None


def rest_listing_read(items_read: int, page_length: int, count: int | None, page_size: int) -> bool:
    """Whether a REST listing has been read to its end after a page of `page_length` items, `items_read` in all.

    SFMC's REST listings answer `{"count", "page", "pageSize", "items"}` where `count` is the number of items the
    whole listing holds ("GET /hub/v1/campaigns", developer.salesforce.com getCampaignCollection; the interactions,
    automations and asset query references show the same envelope), and the server may serve fewer items a page
    than the `$pageSize` asked for (its own `pageSize`). So a page shorter than the size asked is no end while the
    count says more remain: the listing ends when the items read reach the count, as public clients read it
    (SFMC-SDK `Rest.getBulk` pages until the items collected are at least `count`). Only a listing that gives no
    count ends at a page shorter than the size asked. (An empty page, or one repeating an earlier page, ends any
    listing, whatever the count says: `PageGuard`.)

    A count below the items already read (0 or negative beside a page of items, a stale or capped total) is proven
    wrong by the listing itself: it is no count, and the short-page rule applies, rather than leaving the rest of
    a listing of full pages unread.
    """
    if count is not None and items_read <= count:
        return items_read == count
    return page_length < page_size


def page_fingerprint(items: Any) -> str:
    """A digest of a page's content, to tell a page that repeats an earlier one.

    A list of items is digested in any order: a server that ignores the page parameter may serve the same items
    sorted differently each time (a sort on a key that ties, such as ModifiedDate), and that page is still a
    repeat. (Compact JSON has no raw newline, so joining the items' texts with one is unambiguous.) Each item is
    written with orjson, about as fast for a 2,500-row SOAP page as one json.dumps of the whole page was."""
    texts = sorted(_canonical(item) for item in items) if isinstance(items, list) else [_canonical(items)]
    return hashlib.blake2b(b"\n".join(texts), digest_size=16).hexdigest()


def _canonical(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    except TypeError:  # an integer past 64 bits, a lone surrogate: json writes them (ASCII, escaped)
        return json.dumps(value, sort_keys=True, default=str, separators=(",", ":")).encode("ascii")


class PageGuard:
    """Follows one listing's pages: says when it must stop, and fails it at the hard cap."""

    def __init__(self, stream_name: str, endpoint: str, max_pages: int = MAX_PAGES) -> None:
        self.stream_name = stream_name
        self.endpoint = endpoint
        self.max_pages = max_pages
        self.pages = 0
        # 16-byte digests of every page so far: at the cap of 100,000 pages, a few MB.
        self._seen: dict[str, int] = {}

    def repeats(self, items: Any) -> bool:
        """Count a page; True when it is the same as an earlier page (the listing must end, without it)."""
        self.pages += 1
        fingerprint = page_fingerprint(items)
        earlier = self._seen.get(fingerprint)
        if earlier is not None:
            logger.warning(
                f"Stream '{self.stream_name}': {self.endpoint} answered page {self.pages} with the same items as "
                f"page {earlier}; the listing ends here (the server ignored the page parameter)."
            )
            return True
        self._seen[fingerprint] = self.pages
        if self.pages >= self.max_pages:
            raise AirbyteTracedException(
                message=f"Stream '{self.stream_name}': {self.endpoint} still had more pages after {self.max_pages} "
                "pages; stopping rather than paging forever.",
                failure_type=FailureType.system_error,
            )
        return False
