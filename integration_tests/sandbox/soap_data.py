"""Deterministic data behind the sandbox's SOAP API (and the REST rowset of data extensions): ``SoapData``.

Everything is a pure function of ``(seed, scale, epoch)``: activity lies in the six months before the epoch
(2025-01-01 .. 2025-07-01 UTC for the default epoch, which tests use; the command line defaults to today). Small
object types (lists, sends, emails, folders, data extension definitions...) are materialised as row dicts. Large
ones (tracking events, subscribers, list memberships, data extension rows) are generated on demand from ``(seed,
type, index)`` so that scale 100 (1.5M sent events) builds instantly and holds nothing: their ordering property
(``EventDate``, ``CreatedDate``, a data extension's date field) is monotonic in the index, so a date filter
becomes an index range found by binary search and paging is an index cursor.

Rows are dicts keyed by property name (``"Client.ID"`` for nested ones) holding raw values: ``int``, ``str``,
``bool``, ``None``, dates as ``int`` milliseconds since the Unix epoch (UTC), Name/Value lists as tuples of
pairs. Data extension rows hold the strings SFMC renders (``"6/23/2024 12:00:00 AM"``, ``"True"``).

This module assembles the data set from the generators in ``soap_generators``. The pieces live in:
``soap_accounts`` (business units), ``soap_dates`` (server time, rendering and parsing), ``soap_objects``
(retrievable properties and scopes), ``soap_filters`` (filter trees and their evaluation). Their names used
elsewhere are re-exported here so that ``from .soap_data import ...`` keeps working.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from .soap_accounts import ALL_MIDS, CHILD_MIDS, MAIN_MID
from .soap_dates import parse_sfmc_datetime, server_iso, server_us, to_utc_ms, utc_ms
from .soap_filters import (
    VALUE_TYPE_OF_KIND,
    ComplexFilter,
    FieldRef,
    FilterError,
    FilterNode,
    Predicate,
    SimpleFilter,
    compile_filter,
    order_bounds,
)
from .soap_generators.assets import (
    build_content_areas,
    build_emails,
    build_folders,
    build_lists,
    build_triggered_sends,
)
from .soap_generators.data_extensions import DataExtension, build_data_extensions, data_extension_rows
from .soap_generators.events import build_event_streams
from .soap_generators.people import SUBSCRIBERS_AT_SCALE_1, ListMembers, Subscribers
from .soap_generators.rows import FIXED_EPOCH_MS, Collection, RowList, epoch_shift_ms, scaled
from .soap_generators.sends import (
    build_link_sends,
    build_list_sends,
    build_sends,
    build_triggered_send_summaries,
    fill_send_counts,
)
from .soap_objects import BOOL, DATE, INT, PAIRS, SCHEMAS, ObjectSchema, Prop

__all__ = [
    "ALL_MIDS",
    "BOOL",
    "CHILD_MIDS",
    "DATE",
    "INT",
    "MAIN_MID",
    "PAIRS",
    "SCHEMAS",
    "VALUE_TYPE_OF_KIND",
    "Collection",
    "ComplexFilter",
    "DataExtension",
    "FieldRef",
    "FilterError",
    "FilterNode",
    "ObjectSchema",
    "Predicate",
    "Prop",
    "SimpleFilter",
    "SoapData",
    "build_soap_data",
    "compile_filter",
    "order_bounds",
    "parse_sfmc_datetime",
    "server_iso",
    "server_us",
    "to_utc_ms",
    "utc_ms",
]


@dataclass
class SoapData:
    """Everything the SOAP service can retrieve; immutable once built, so safe to share between threads."""

    seed: int
    scale: float
    subscribers: Subscribers
    collections: dict[str, Collection]
    data_extensions: tuple[DataExtension, ...]

    def data_extension(self, key_or_name: str, mid: int = MAIN_MID) -> DataExtension | None:
        """The data extension a token of unit `mid` names by external key or name (case-insensitive; keys win
        over names): the unit's own first, then, in a child, the parent's shared ones. External keys are unique
        within a unit only; a child reaches the parent's shared data extensions, no other unit's (PROTOCOL.md
        section 7)."""
        wanted = key_or_name.strip().casefold()
        own = [de for de in self.data_extensions if de.spec.owner == mid]
        shared = [de for de in self.data_extensions if de.spec.shared and de.spec.owner == MAIN_MID != mid]
        for visible in (own, shared):
            for attribute in ("key", "name"):
                found = next((de for de in visible if getattr(de, attribute).casefold() == wanted), None)
                if found is not None:
                    return found
        return None

    def collection(self, object_type: str, mid: int = MAIN_MID) -> Collection | None:
        if object_type.startswith("DataExtensionObject[") and object_type.endswith("]"):
            de = self.data_extension(object_type[len("DataExtensionObject[") : -1], mid)
            return de.rows if de else None
        return self.collections.get(object_type)

    def count(
        self, object_type: str, predicate: Callable[[dict], bool] | None = None, *, all_accounts: bool = False
    ) -> int:
        """How many rows of a type a retrieve sees (the token's unit only unless ``all_accounts``)."""
        coll = self.collection(object_type)
        if coll is None:
            raise KeyError(object_type)
        return self._count_range(coll, 0, coll.size, predicate, all_accounts, object_type)

    def events_between(
        self, object_type: str, start_utc: datetime, end_utc: datetime, *, all_accounts: bool = False
    ) -> int:
        """Events with start <= EventDate <= end (both inclusive, like ``between``); naive datetimes are UTC."""
        coll = self.collections[object_type]
        lo = coll.first_index(to_utc_ms(start_utc), after=False)
        hi = coll.first_index(to_utc_ms(end_utc), after=True)
        return self._count_range(coll, lo, hi, None, all_accounts, object_type)

    @staticmethod
    def _count_range(coll, lo, hi, predicate, all_accounts, object_type) -> int:
        check_mid = not all_accounts and not object_type.startswith("DataExtensionObject[")
        n = 0
        for i in range(lo, hi):
            row = coll.row(i)
            if check_mid and row.get("Client.ID") != MAIN_MID:
                continue
            if predicate is None or predicate(row):
                n += 1
        return n


def build_business_units(shift: int) -> list[dict]:
    """The enterprise: the parent (ParentID 0, ENTERPRISE_2) and its child units; each row is its own unit's."""
    names = {MAIN_MID: "Sandbox Enterprise", CHILD_MIDS[0]: "Sandbox Retail", CHILD_MIDS[1]: "Sandbox Travel"}
    created = 1_600_000_000_000 + shift
    return [
        {
            "Client.ID": mid,
            "ID": mid,
            "CustomerKey": f"BU-{mid}",
            "CreatedDate": created + n * 86_400_000,
            "ModifiedDate": created + n * 86_400_000,
            "AccountType": "ENTERPRISE_2" if mid == MAIN_MID else "BUSINESS_UNIT",
            "ParentID": 0 if mid == MAIN_MID else MAIN_MID,
            "ParentName": None if mid == MAIN_MID else names[MAIN_MID],
            "Name": names[mid],
            "Email": f"bu{mid}@example.com",
            "FromName": names[mid],
            "BusinessName": names[mid],
            "Country": "us",
            "IsActive": 1,
            "IsTestAccount": False,
            "EditionID": 3,
            "Description": f"{names[mid]} business unit",
        }
        for n, mid in enumerate(ALL_MIDS)
    ]


def build_soap_data(seed: int = 42, scale: float = 1.0, epoch_ms: int = FIXED_EPOCH_MS) -> SoapData:
    """The sandbox's data set: same (seed, scale, epoch), same data. Builds in milliseconds at any scale.

    Activity (sends and tracking events) falls in the six months before `epoch_ms` (a UTC midnight); objects are
    dated relative to it too. The default epoch, 2025-07-01, is the fixed data set tests are written against.
    Data extension rows keep their own fixed dates.
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    shift = epoch_shift_ms(epoch_ms)
    folders = build_folders(seed, shift)
    lists = build_lists(seed, shift)
    emails = build_emails(seed, shift)
    subscribers = Subscribers(seed, max(1, scaled(SUBSCRIBERS_AT_SCALE_1, scale)), shift)
    tsds = build_triggered_sends(seed, emails, lists, shift)
    sends, send_lists, sources, send_days, send_weights = build_sends(seed, scale, emails, lists, tsds, shift)
    streams, expected = build_event_streams(
        seed, scale, sources, send_days, send_weights, len(tsds), subscribers, shift
    )
    fill_send_counts(sends, expected, sources)
    list_sends = build_list_sends(sends, send_lists)
    summaries = build_triggered_send_summaries(tsds, sends, expected, sources)
    data_extensions = build_data_extensions(seed, scale, subscribers)
    de_rows, field_rows = data_extension_rows(seed, data_extensions)
    collections: dict[str, Collection] = {
        "List": RowList(lists),
        "ListSubscriber": ListMembers(seed, subscribers, [lst for lst in lists if lst["Type"] == "Public"]),
        "Subscriber": subscribers,
        "Send": RowList(sends),
        "ListSend": RowList(list_sends),
        "LinkSend": RowList(build_link_sends(sends, expected, sources)),
        "Email": RowList(emails),
        "ContentArea": RowList(build_content_areas(seed, shift)),
        "DataFolder": RowList(folders),
        "TriggeredSendDefinition": RowList(tsds),
        "TriggeredSendSummary": RowList(summaries),
        "DataExtension": RowList(de_rows),
        "DataExtensionField": RowList(field_rows),
        "BusinessUnit": RowList(build_business_units(shift)),
        **streams,
    }
    return SoapData(seed, scale, subscribers, collections, data_extensions)
