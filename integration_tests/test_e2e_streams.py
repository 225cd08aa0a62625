"""A read of every stream against the sandbox, over real HTTP: records fit their schemas, ids are unique, one
token serves the whole sync, and no request is made twice."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jsonschema
import pytest
from airbyte_cdk.models import AirbyteCatalog, ConfiguredAirbyteCatalogSerializer

from integration_tests import harness
from integration_tests.harness import Sync
from integration_tests.sandbox import Sandbox
from source_sfmc.soap.streams import LINK_SENDS_PER_RETRIEVE

StartSandbox = Callable[..., Sandbox]

REST_PAGE_SIZE = 50
SOAP_PAGE_SIZE = 2500


def records_of(stream: str, everything: Sync, early_entities: Sync) -> list[dict[str, Any]]:
    source = early_entities if stream in harness.ENTITY_CURSOR_STREAMS else everything
    return source.records.get(stream, [])


@pytest.mark.parametrize("stream", harness.ALL_STREAM_NAMES)
def test_every_stream_emits_records(stream: str, everything: Sync, early_entities: Sync) -> None:
    assert records_of(stream, everything, early_entities), everything.errors + early_entities.errors


@pytest.mark.parametrize("stream", harness.ALL_STREAM_NAMES)
def test_every_record_fits_its_discovered_schema(
    stream: str, catalog: AirbyteCatalog, everything: Sync, early_entities: Sync
) -> None:
    (schema,) = [entry.json_schema for entry in catalog.streams if entry.name == stream]
    validator = jsonschema.Draft7Validator(schema)

    misfits = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for record in records_of(stream, everything, early_entities)
        for error in validator.iter_errors(record)
    ]

    assert not misfits, misfits[:5]


@pytest.mark.parametrize("stream", harness.ALL_STREAM_NAMES)
def test_every_record_has_a_unique_non_empty_entity_id(stream: str, everything: Sync, early_entities: Sync) -> None:
    ids = [record.get("entity_id") for record in records_of(stream, everything, early_entities)]

    assert all(isinstance(entity_id, str) and entity_id for entity_id in ids)
    assert len(set(ids)) == len(ids)


def test_a_whole_sync_reports_no_error(everything: Sync) -> None:
    assert not everything.errors, everything.errors[:3]


def test_a_whole_multi_stream_sync_asks_for_exactly_one_token(everything: Sync) -> None:
    assert everything.stats["tokens_issued"] == 1
    assert everything.stats["token"] == 1


def test_a_whole_sync_makes_each_rest_request_once(everything: Sync, catalog: AirbyteCatalog) -> None:
    records = everything.records
    campaigns, automations = len(records["campaigns"]), len(records["automations"])
    asset_pages = sum(
        harness.pages(count, REST_PAGE_SIZE) for count in per_window(everything, catalog, "assets", records["assets"])
    )

    rest = dict(everything.stats["rest"])
    # How often journey history is searched depends on how its windows split (test_e2e_journey_history).
    assert rest.pop("/interaction/v1/interactions/journeyhistory/search", 0) > 0
    assert rest == {
        "/hub/v1/campaigns": harness.pages(campaigns, REST_PAGE_SIZE),
        "/hub/v1/campaigns/{id}/assets": sum(
            harness.pages(count, REST_PAGE_SIZE)
            for count in Counter(record["campaignId"] for record in records["campaign_assets"]).values()
        )
        + campaigns
        - len({record["campaignId"] for record in records["campaign_assets"]}),
        "/asset/v1/content/assets/query": asset_pages,
        "/interaction/v1/interactions": harness.pages(len(records["journeys"]), REST_PAGE_SIZE),
        "/automation/v1/automations": harness.pages(automations, REST_PAGE_SIZE),
        "/automation/v1/automations/{id}": automations,
    }


def test_a_whole_sync_makes_each_soap_request_once(everything: Sync, catalog: AirbyteCatalog) -> None:
    expected: dict[str, int] = {}
    for stream, object_type in harness.SOAP_OBJECT_TYPES.items():
        records = everything.records.get(stream, [])
        if has_cursor(catalog, stream):
            counts = per_window(everything, catalog, stream, records)
            expected[object_type] = sum(harness.pages(count, SOAP_PAGE_SIZE) for count in counts)
        else:
            expected[object_type] = harness.pages(len(records), SOAP_PAGE_SIZE)
    # A sync that selects no data extension row stream does not list data extensions; the data_extensions
    # stream reads their fields in one paged DataExtensionField retrieve.
    fields = sum(len(record["Fields"]) for record in everything.records["data_extensions"])
    expected["DataExtensionField"] = harness.pages(fields, SOAP_PAGE_SIZE)
    # One Describe per object type the catalog selects, before its first retrieve.
    expected["Describe"] = len(set(harness.SOAP_OBJECT_TYPES.values()) | {"LinkSend"})
    # link_sends: one Send retrieve per window, then one LinkSend retrieve per batch of that window's sends.
    link_windows = per_window_sends(everything, catalog, everything.records["link_sends"])
    expected["Send"] += len(link_windows)
    expected["LinkSend"] = sum(math.ceil(len(sends) / LINK_SENDS_PER_RETRIEVE) for sends in link_windows)

    assert everything.stats["soap"] == expected


def test_a_sync_outliving_its_token_renews_it_and_completes(
    start_sandbox: StartSandbox, everything: Sync, catalog: AirbyteCatalog
) -> None:
    short_lived = start_sandbox(token_ttl=1, latency_ms=5)
    streams = ["campaign_assets", "automations", "open_events"]
    configured = harness.configured_catalog(catalog, streams)

    sync = harness.run_read(short_lived, short_lived.config(), configured)

    assert not sync.errors, sync.errors[:3]
    assert sync.stats["tokens_issued"] >= 2
    for stream in streams:
        assert harness.entity_ids(sync.records[stream]) == harness.entity_ids(everything.records[stream]), stream


def test_console_script_reads_streams_and_emits_states(sandbox: Sandbox, catalog: AirbyteCatalog) -> None:
    configured = harness.configured_catalog(catalog, ["campaigns", "forwarded_email_events"])
    files = {"config": sandbox.config(), "catalog": ConfiguredAirbyteCatalogSerializer.dump(configured)}

    exit_code, messages, _ = harness.run_console("read", "--config", "{config}", "--catalog", "{catalog}", files=files)

    streams_with_records = {message["record"]["stream"] for message in messages if message["type"] == "RECORD"}
    streams_with_state = {
        message["state"]["stream"]["stream_descriptor"]["name"] for message in messages if message["type"] == "STATE"
    }
    assert exit_code == 0
    assert streams_with_records == {"campaigns", "forwarded_email_events"}
    assert "forwarded_email_events" in streams_with_state


# -- helpers -------------------------------------------------------------------------------------------------
def has_cursor(catalog: AirbyteCatalog, stream: str) -> bool:
    return any(entry.name == stream and entry.default_cursor_field for entry in catalog.streams)


def per_window(sync: Sync, catalog: AirbyteCatalog, stream: str, records: list[dict[str, Any]]) -> list[int]:
    return sync.records_per_window(records, harness.cursor_field(catalog, stream))


def per_window_sends(sync: Sync, catalog: AirbyteCatalog, records: list[dict[str, Any]]) -> list[set[int]]:
    """The send ids of link_sends records, per window of the read (windows without sends included)."""
    windows: list[set[int]] = [set() for _ in per_window(sync, catalog, "link_sends", [])]
    start = harness.parse_datetime(sync.config["start_date"])
    size = timedelta(days=sync.config.get("window_days", harness.DEFAULT_WINDOW_DAYS))
    for record in records:
        windows[(harness.parse_datetime(record["SendDate"]) - start) // size].add(record["SendID"])
    return windows


def test_a_property_the_account_cannot_retrieve_is_dropped_with_one_warning_and_the_stream_still_reads(
    start_sandbox: StartSandbox, everything: Sync, catalog: AirbyteCatalog
) -> None:
    """The sandbox's Describe marks Send.FromName not retrievable (and a Retrieve naming it would fail whole)."""
    limited = start_sandbox(unretrievable=("Send.FromName",))
    configured = harness.configured_catalog(catalog, ["sends"])

    sync = harness.run_read(limited, limited.config(), configured)

    assert not sync.errors, sync.errors[:3]
    assert harness.entity_ids(sync.records["sends"]) == harness.entity_ids(everything.records["sends"])
    # null: the CDK leaves null fields out of a record message
    assert {record.get("FromName") for record in sync.records["sends"]} == {None}
    assert {record.get("FromName") for record in everything.records["sends"]} != {None}
    warnings = [log.log.message for log in sync.output.logs if "Send.FromName cannot be retrieved" in log.log.message]
    assert len(warnings) == 1
    assert sync.stats["soap"]["Describe"] == 1
