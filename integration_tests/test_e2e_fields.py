"""The fields other SFMC connectors offer are read end to end: each has a value in some record of its stream."""

from __future__ import annotations

from typing import Any

import pytest

from integration_tests import harness
from integration_tests.harness import Sync

# Per stream, field paths ("Parent.Child"; "Parent[].Child" for every item of a list) that must carry a value.
FIELDS = {
    "sends": (
        "Duplicates",
        "InvalidAddresses",
        "MissingAddresses",
        "ExistingUndeliverables",
        "ExistingUnsubscribes",
        "BccEmail",
        "IsMultipart",
        "IsAlwaysOn",
        "PreviewURL",
        "SendLimit",
        "SendWindowOpen",
        "SendWindowClose",
        "NumberTargeted",
        "NumberErrored",
        "NumberExcluded",
    ),
    "subscribers": (
        "CustomerKey",
        "Locale.LocaleCode",
        "PrimarySMSAddress.Address",
        "PrimarySMSAddress.AddressType",
        "PrimarySMSPublicationStatus",
        "Addresses.Address[].AddressType",
        "Addresses.Address[].Address",
    ),
    "emails": ("AdditionalEmailAttribute1", "AdditionalEmailAttribute2", "ContentAreas[].ID"),
    "triggered_send_definitions": (
        "BccEmail",
        "DynamicEmailSubject",
        "IsWrapped",
        "List.ID",
        "Priority",
        "SendLimit",
        "SendWindowOpen",
        "SendWindowClose",
    ),
    "subscriber_lists": ("SendClassification.CustomerKey", "SendClassification.ObjectID"),
    "content_areas": (
        "IsLocked",
        "BackgroundColor",
        "BorderColor",
        "BorderWidth",
        "Cellpadding",
        "Cellspacing",
        "Width",
        "FontFamily",
        "HasFontSize",
    ),
    "data_extensions": ("Status", "DataRetentionPeriodUnitOfMeasure"),
    "triggered_send_summaries": ("ObjectID",),
    "click_events": ("URLIDLong",),
    "forwarded_email_opt_in_events": ("OptInSubscriberKey",),
    "survey_events": ("Question", "Answer"),
    "assets": ("version", "thumbnail.thumbnailUrl", "slots.banner.content"),
    "link_sends": ("Link.ID", "Link.URL", "Link.Alias", "Link.TotalClicks", "Link.UniqueClicks", "SendDate"),
}
CASES = [(stream, path) for stream, paths in FIELDS.items() for path in paths]


def values_at(record: Any, path: str) -> list[Any]:
    """Every value at `path` in `record`: "A.B" walks objects, "A[]" every item of a list."""
    values = [record]
    for part in path.split("."):
        name, is_list = part.removesuffix("[]"), part.endswith("[]")
        found = [value.get(name) for value in values if isinstance(value, dict)]
        values = [item for value in found for item in (value or [])] if is_list else found
    return values


def records_of(stream: str, everything: Sync, early_entities: Sync) -> list[dict[str, Any]]:
    source = early_entities if stream in harness.ENTITY_CURSOR_STREAMS else everything
    return source.records.get(stream, [])


@pytest.mark.parametrize(("stream", "path"), CASES, ids=[f"{stream}:{path}" for stream, path in CASES])
def test_field_is_read_with_a_value(stream: str, path: str, everything: Sync, early_entities: Sync) -> None:
    values = [v for r in records_of(stream, everything, early_entities) for v in values_at(r, path)]

    assert any(value not in (None, "") for value in values), f"{stream}.{path}: no record has a value"
