"""Data extension rows end to end: the real connector against the sandbox over HTTP."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from airbyte_cdk.models import (
    AirbyteStream,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteCatalogSerializer,
    ConfiguredAirbyteStream,
    DestinationSyncMode,
    SyncMode,
)
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, discover, read
from airbyte_cdk.test.state_builder import StateBuilder

from integration_tests.harness import run_console
from source_sfmc.source import SourceSfmc

PREFIX = "data_extension__"
ORDERS = "data_extension__orders_2024_eu_f3300a2f"
LEDGER = "data_extension__ledger_balances"
# Row counts of the sandbox's data extensions at scale 1, by stream name: keys of letters, digits and single
# underscores are their own names; other keys end with the first 8 hex digits of their SHA-256. The field-less
# data extension (key 'hidden_fields_de') is not offered.
EXPECTED_ROWS = {
    "data_extension__customers_master": 2_500,  # CUSTOMERS_MASTER
    ORDERS: 2_000,  # orders-2024-eu
    "data_extension__prefs_clients_fr": 800,
    "data_extension__event_log": 1_500,
    "data_extension__empty_de": 0,
    "data_extension__product_catalog_ab9d6a00": 400,  # product-catalog
    "data_extension__loyaltytiers": 4,  # LoyaltyTiers
    "data_extension__web_signups_2025_526c50cd": 1_200,  # web signups 2025
    "data_extension__survey_q2_2025_fe377fe5": 600,  # SURVEY-Q2-2025
    "data_extension__unsub_reasons": 150,
    "data_extension__newsletter_de": 120,  # Newsletter_DE
    "data_extension__newsletter_de_7f89a323": 45,  # Newsletter.DE
    "data_extension__顧客マスタ_db0e2e70": 60,  # 顧客マスタ
    LEDGER: 300,
}


def config_of(sandbox: Any, **overrides: Any) -> dict[str, Any]:
    return {**sandbox.config(), **overrides}


def discovered(config: dict[str, Any]) -> dict[str, AirbyteStream]:
    output = discover(SourceSfmc(), config)
    assert not output.errors
    return {stream.name: stream for stream in output.catalog.catalog.streams if stream.name.startswith(PREFIX)}


def configured(
    stream: AirbyteStream, sync_mode: SyncMode = SyncMode.full_refresh, cursor: str | None = None
) -> ConfiguredAirbyteStream:
    return ConfiguredAirbyteStream(
        stream=stream,
        sync_mode=sync_mode,
        destination_sync_mode=DestinationSyncMode.append,
        cursor_field=[cursor] if cursor else None,
    )


def read_streams(config: dict[str, Any], streams: list[ConfiguredAirbyteStream], state: Any = None) -> EntrypointOutput:
    return read(SourceSfmc(), config, ConfiguredAirbyteCatalog(streams=streams), state)


def rows_by_stream(output: EntrypointOutput) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    for message in output.records:
        rows.setdefault(message.record.stream, []).append(message.record.data)
    return rows


@pytest.fixture(scope="module")
def catalog(sandbox: Any) -> dict[str, AirbyteStream]:
    return discovered(config_of(sandbox))


def test_discover_lists_one_stream_per_data_extension(catalog: dict[str, AirbyteStream]) -> None:
    assert set(catalog) == set(EXPECTED_ROWS)


def test_discovered_schema_types_each_field_by_its_field_type(catalog: dict[str, AirbyteStream]) -> None:
    properties = catalog["data_extension__customers_master"].json_schema["properties"]
    assert properties["LoyaltyPoints"]["type"] == ["null", "integer"]
    assert properties["IsVIP"]["type"] == ["null", "boolean"]
    assert properties["ModifiedDate"]["format"] == "date-time"
    assert properties["FirstName"] == {"type": ["null", "string"], "maxLength": 50}
    amount = catalog[ORDERS].json_schema["properties"]["Amount"]
    assert (amount["type"], amount["description"]) == (["null", "number"], "Decimal(18,2)")
    balance = catalog[LEDGER].json_schema["properties"]["Balance"]
    assert (balance["x-sfmc-precision"], balance["x-sfmc-scale"]) == (18, 8)


def test_discover_offers_incremental_with_a_user_chosen_cursor_only_where_there_is_a_date_field(
    catalog: dict[str, AirbyteStream],
) -> None:
    customers, products = (
        catalog["data_extension__customers_master"],
        catalog["data_extension__product_catalog_ab9d6a00"],
    )
    assert SyncMode.incremental in customers.supported_sync_modes
    assert customers.source_defined_cursor is False
    assert customers.default_cursor_field == ["ModifiedDate"]
    assert catalog[ORDERS].default_cursor_field is None
    assert products.supported_sync_modes == [SyncMode.full_refresh]


def test_discover_gives_primary_key_fields_as_primary_key(catalog: dict[str, AirbyteStream]) -> None:
    assert catalog[ORDERS].source_defined_primary_key == [["mid"], ["OrderId"]]
    assert catalog["data_extension__event_log"].source_defined_primary_key == [["mid"], ["_CustomObjectKey"]]


def test_colliding_keys_keep_their_own_stream_names(catalog: dict[str, AirbyteStream]) -> None:
    plain, dotted = catalog["data_extension__newsletter_de"], catalog["data_extension__newsletter_de_7f89a323"]
    assert plain.json_schema["x-sfmc-data-extension-key"] == "Newsletter_DE"
    assert dotted.json_schema["x-sfmc-data-extension-key"] == "Newsletter.DE"


def test_a_data_extension_without_listed_fields_is_not_offered(catalog: dict[str, AirbyteStream]) -> None:
    assert not any("hidden_fields" in name for name in catalog)


def test_patterns_and_folders_choose_what_discovery_offers(sandbox: Any) -> None:
    streams = discovered(
        config_of(sandbox, data_extensions_include=["Newsletter_*", "Newsletter?DE"], data_extensions_exclude=["*.DE"])
    )
    assert set(streams) == {"data_extension__newsletter_de"}
    # Folders of the sandbox: Data Extensions/CRM, Data Extensions/Web & App, Data Extensions/Archive (old), and
    # Shared Data Extensions (the survey, shared with every child unit).
    crm = {
        "data_extension__customers_master",
        "data_extension__empty_de",
        "data_extension__loyaltytiers",
        "data_extension__newsletter_de_7f89a323",
    }
    assert set(discovered(config_of(sandbox, data_extension_folders_include=["data extensions/crm"]))) == crm
    excluded = discovered(config_of(sandbox, data_extension_folders_exclude=["*/Archive*", "*/Web & App"]))
    assert set(excluded) == crm | {"data_extension__survey_q2_2025_fe377fe5"}


def test_decimals_booleans_and_row_keys_arrive_exactly(sandbox: Any, catalog: dict[str, AirbyteStream]) -> None:
    # Through the console script, reading stdout's JSON text with exact decimals.
    catalog_json = ConfiguredAirbyteCatalogSerializer.dump(
        ConfiguredAirbyteCatalog(streams=[configured(catalog[LEDGER])])
    )
    exit_code, _, printed = run_console(
        "read",
        "--config",
        "{config}",
        "--catalog",
        "{catalog}",
        files={"config": config_of(sandbox), "catalog": catalog_json},
    )
    assert exit_code == 0
    rows = [
        json.loads(line, parse_float=Decimal)["record"]["data"]
        for line in printed.splitlines()
        if line.startswith('{"type":"RECORD"')
    ]
    # The exact texts SFMC sent (sandbox: EDGE_DECIMALS), digit for digit.
    assert [f"{row['Balance']}" for row in rows[:8]] == [
        "1234567890.12345678",
        "9999999999.99999999",
        "-9999999999.99999999",
        "0E-8",  # 0.00000000
        "0",
        "-1E-8",  # -0.00000001
        "1E-8",
        "-1234567890.12345678",
    ]
    assert '"Balance":0.00000000,' in printed and '"Balance":-0.00000001,' in printed
    assert {row["Settled"] for row in rows} == {True, False}
    assert [row["_CustomObjectKey"] for row in rows] == list(range(1, 301))


def test_configured_keys_limit_discovery_to_those_data_extensions(sandbox: Any) -> None:
    streams = discovered(config_of(sandbox, data_extensions=["LoyaltyTiers", "event_log"]))
    assert set(streams) == {"data_extension__loyaltytiers", "data_extension__event_log"}


def test_full_refresh_emits_every_row_of_every_data_extension_valid_against_its_schema(
    sandbox: Any, catalog: dict[str, AirbyteStream]
) -> None:
    output = read_streams(config_of(sandbox), [configured(stream) for stream in catalog.values()])
    assert not output.errors
    rows = rows_by_stream(output)
    assert {name: len(rows.get(name, [])) for name in catalog} == EXPECTED_ROWS
    for name, stream_rows in rows.items():
        validator = jsonschema.Draft7Validator(catalog[name].json_schema, format_checker=jsonschema.FormatChecker())
        for row in stream_rows:
            validator.validate(row)
    assert all(row["Settled"] in (True, False) for row in rows[LEDGER])
    first = rows["data_extension__loyaltytiers"][0]
    assert isinstance(first["MinPoints"], int) and isinstance(first["Multiplier"], float)


def test_incremental_read_from_state_emits_only_rows_changed_after_it(
    sandbox: Any, catalog: dict[str, AirbyteStream]
) -> None:
    stream = configured(catalog[ORDERS], SyncMode.incremental, "OrderDate")
    config = config_of(sandbox, start_date="2024-01-01T00:00:00Z")
    first = read_streams(config, [stream])
    assert not first.errors
    all_rows = rows_by_stream(first)[ORDERS]
    assert len(all_rows) == 2_000

    since = "2025-03-01T00:00:00.000Z"
    state = (
        StateBuilder()
        .with_stream_state(
            ORDERS,
            {
                "state_type": "date-range",
                "slices": [{"start": "2024-01-01T00:00:00.000Z", "end": since, "most_recent_cursor_value": since}],
            },
        )
        .build()
    )
    second = read_streams(config_of(sandbox, start_date="2024-01-01T00:00:00Z", lookback_hours=0), [stream], state)
    assert not second.errors
    changed = rows_by_stream(second).get(ORDERS, [])
    expected = [row for row in all_rows if row["OrderDate"] >= "2025-03-01T00:00:00"]
    assert 0 < len(changed) == len(expected)
    assert second.most_recent_state is not None


def test_a_data_extension_gone_since_discovery_fails_its_stream_and_others_go_on(
    sandbox: Any, catalog: dict[str, AirbyteStream]
) -> None:
    gone = AirbyteStream(
        name="data_extension__deleted_since",
        json_schema={"type": "object"},
        supported_sync_modes=[SyncMode.full_refresh],
    )
    output = read_streams(config_of(sandbox), [configured(gone), configured(catalog["data_extension__loyaltytiers"])])
    assert len(rows_by_stream(output)["data_extension__loyaltytiers"]) == 4
    messages = " ".join(error.trace.error.message for error in output.errors)
    assert "data_extension__deleted_since" in messages and "no longer exists" in messages


def test_a_stream_whose_name_now_belongs_to_another_key_or_without_fields_fails_alone_reading_nothing(
    sandbox: Any, catalog: dict[str, AirbyteStream]
) -> None:
    # A catalog discovered when 'Newsletter.DE' was named data_extension__newsletter_de (the old suffix-free rule).
    renamed = AirbyteStream(
        name="data_extension__newsletter_de",
        json_schema={"type": "object", "description": "Rows of data extension 'N' (external key 'Newsletter.DE')."},
        supported_sync_modes=[SyncMode.full_refresh],
    )
    fieldless = AirbyteStream(
        name="data_extension__hidden_fields_de",
        json_schema={"type": "object"},
        supported_sync_modes=[SyncMode.full_refresh],
    )
    output = read_streams(
        config_of(sandbox),
        [configured(renamed), configured(fieldless), configured(catalog["data_extension__loyaltytiers"])],
    )
    rows = rows_by_stream(output)
    assert set(rows) == {"data_extension__loyaltytiers"} and len(rows["data_extension__loyaltytiers"]) == 4
    messages = " ".join(error.trace.error.message for error in output.errors)
    assert "'Newsletter.DE'" in messages and "'Newsletter_DE'" in messages
    assert "lists no fields for data extension 'Hidden Fields'" in messages
    assert {error.trace.error.failure_type.value for error in output.errors} == {"config_error"}


def test_a_stream_whose_cursor_field_is_gone_fails_alone_reading_nothing(
    sandbox: Any, catalog: dict[str, AirbyteStream]
) -> None:
    # The catalog's cursor was a Date field deleted in Marketing Cloud after discovery.
    signups = catalog["data_extension__web_signups_2025_526c50cd"]
    output = read_streams(
        config_of(sandbox),
        [
            configured(signups, SyncMode.incremental, cursor="Deleted Date"),
            configured(catalog["data_extension__loyaltytiers"]),
        ],
    )
    rows = rows_by_stream(output)
    assert set(rows) == {"data_extension__loyaltytiers"} and len(rows["data_extension__loyaltytiers"]) == 4
    messages = " ".join(error.trace.error.message for error in output.errors)
    assert "'Deleted Date' is not a Date field" in messages
    assert {error.trace.error.failure_type.value for error in output.errors} == {"config_error"}


def test_a_stream_without_fields_fails_alone_and_leaves_its_state_as_it_was(
    sandbox: Any, catalog: dict[str, AirbyteStream]
) -> None:
    # Fields hidden from the package (a permission): a sentinel "no cursor" state would replace the saved one, and
    # the sync after the fix would read everything again.
    fieldless = AirbyteStream(
        name="data_extension__hidden_fields_de",
        json_schema={"type": "object", "x-sfmc-data-extension-key": "hidden_fields_de"},
        supported_sync_modes=[SyncMode.full_refresh, SyncMode.incremental],
    )
    saved = {
        "state_type": "date-range",
        "slices": [
            {
                "start": "2024-01-01T00:00:00.000Z",
                "end": "2025-03-01T00:00:00.000Z",
                "most_recent_cursor_value": "2025-03-01T00:00:00.000Z",
            }
        ],
    }
    state = StateBuilder().with_stream_state(fieldless.name, saved).build()
    output = read_streams(config_of(sandbox), [configured(fieldless, SyncMode.incremental, cursor="Updated")], state)
    assert output.errors
    emitted = [m.state.stream.stream_state.__dict__ for m in output.state_messages]
    assert emitted and all(stream_state == saved for stream_state in emitted)


def test_a_stream_whose_cursor_field_is_gone_drops_the_progress_of_that_field(
    sandbox: Any, catalog: dict[str, AirbyteStream]
) -> None:
    # The saved windows were measured on the deleted field; applied to another Date field they would skip rows.
    signups = catalog["data_extension__web_signups_2025_526c50cd"]
    state = StateBuilder().with_stream_state(signups.name, {"Deleted Date": "2025-03-01T00:00:00Z"}).build()
    output = read_streams(config_of(sandbox), [configured(signups, SyncMode.incremental, cursor="Deleted Date")], state)
    assert output.errors
    assert all("Deleted Date" not in str(m.state.stream.stream_state.__dict__) for m in output.state_messages)
