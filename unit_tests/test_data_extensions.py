"""Data extension rows: stream naming, schema typing, date conversion, cursor choice and bad values."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_sfmc.auth import SfmcAuthenticator
from source_sfmc.coerce import build_coercer
from source_sfmc.config import parse_config
from source_sfmc.data_extensions import (
    DataExtensionField,
    DataExtensionRowsStream,
    DataExtensionTable,
    _chosen_cursor,
    build_tables,
    data_extension_streams,
    field_schema,
    json_schema,
    stream_name_for,
    unique_stream_names,
)
from source_sfmc.errors import PARSED_ATTRIBUTE
from source_sfmc.soap.parse import RetrievePage
from source_sfmc.stream_base import SyncContext


def table(*fields: DataExtensionField, key: str = "orders", name: str = "Orders") -> DataExtensionTable:
    return DataExtensionTable(key=key, name=name, stream_name=stream_name_for(key), fields=fields)


def field(name: str, field_type: str = "Text", **kw: Any) -> DataExtensionField:
    return DataExtensionField(name, field_type, **kw)


@pytest.mark.parametrize(
    ("key", "stream_name"),
    [
        ("CUSTOMERS_MASTER", "data_extension__customers_master"),
        ("orders-2024-eu", "data_extension__orders_2024_eu"),
        ("web signups 2025", "data_extension__web_signups_2025"),
        ("a -- b", "data_extension__a_b"),
        ("Préférences", "data_extension__pr_f_rences"),
        ("[x]", "data_extension___x_"),
    ],
)
def test_stream_name_is_the_key_lower_cased_with_runs_of_other_characters_as_one_underscore(
    key: str, stream_name: str
) -> None:
    assert stream_name_for(key) == stream_name


def test_colliding_stream_names_get_numeric_suffixes_in_key_order() -> None:
    names = unique_stream_names(["a.b", "A-B", "a b"])
    assert names == {"A-B": "data_extension__a_b", "a b": "data_extension__a_b_2", "a.b": "data_extension__a_b_3"}


@pytest.mark.parametrize(
    ("field_type", "schema"),
    [
        ("Text", {"type": ["null", "string"], "maxLength": 50}),
        ("EmailAddress", {"type": ["null", "string"], "maxLength": 50}),
        ("Phone", {"type": ["null", "string"], "maxLength": 50}),
        ("Locale", {"type": ["null", "string"], "maxLength": 50}),
        ("Number", {"type": ["null", "integer"]}),
        ("Decimal", {"type": ["null", "number"]}),
        ("Boolean", {"type": ["null", "boolean"]}),
        ("Date", {"type": ["null", "string"], "format": "date-time", "x-sfmc-date": "data_extension"}),
    ],
)
def test_field_type_maps_to_json_schema(field_type: str, schema: dict[str, Any]) -> None:
    assert field_schema(field("F", field_type, max_length=50)) == schema


def test_text_without_max_length_has_no_max_length() -> None:
    assert field_schema(field("F", "Text")) == {"type": ["null", "string"]}


def test_schema_description_carries_the_key_and_the_name() -> None:
    description = json_schema(table(key="web signups 2025", name="Signups [Web]"))["description"]
    assert "'web signups 2025'" in description and "'Signups [Web]'" in description


@pytest.mark.parametrize(
    ("raw", "emitted"),
    [
        ("6/23/2024 12:00:00 AM", "2024-06-23T06:00:00.000000+00:00"),
        ("6/23/2024 1:05:09 PM", "2024-06-23T19:05:09.000000+00:00"),
        ("12/31/2023 6:11:30 PM", "2024-01-01T00:11:30.000000+00:00"),
        ("6/23/2024 13:05:09", "2024-06-23T19:05:09.000000+00:00"),
        ("6/23/2024", "2024-06-23T06:00:00.000000+00:00"),
        ("2024-06-23T13:05:09.123", "2024-06-23T19:05:09.123000+00:00"),
        ("2024-06-23T13:05:09Z", "2024-06-23T13:05:09.000000+00:00"),
        ("1/1/0001 12:00:00 AM", None),
    ],
)
def test_data_extension_dates_are_server_time_converted_to_utc(raw: str, emitted: str | None) -> None:
    coerce = build_coercer(json_schema(table(field("When", "Date"))))
    assert coerce({"When": raw}) == {"When": emitted}


def test_values_are_converted_to_their_field_types() -> None:
    coerce = build_coercer(
        json_schema(table(field("N", "Number"), field("D", "Decimal"), field("B", "Boolean"), field("T")))
    )
    assert coerce({"N": "42", "D": "12.50", "B": "False", "T": "x"}) == {"N": 42, "D": 12.5, "B": False, "T": "x"}


def test_default_cursor_is_a_date_field_named_like_a_modification_date() -> None:
    assert table(field("Signup Date", "Date"), field("LastModified", "Date")).default_cursor == "LastModified"
    assert table(field("OrderDate", "Date"), field("updated_at", "Date")).default_cursor == "updated_at"
    assert table(field("Signup Date", "Date"), field("ModifiedBy")).default_cursor is None


def test_incremental_without_a_chosen_cursor_uses_the_first_date_field() -> None:
    assert _chosen_cursor(table(field("Status"), field("OrderDate", "Date")), None) == "OrderDate"


def test_chosen_cursor_must_be_a_date_field() -> None:
    orders = table(field("OrderDate", "Date"), field("Status"))
    assert _chosen_cursor(orders, ["OrderDate"]) == "OrderDate"
    with pytest.raises(AirbyteTracedException, match="not a Date field"):
        _chosen_cursor(orders, ["Status"])


def test_tables_are_built_from_listing_and_fields_with_primary_keys() -> None:
    fields = {
        "orders": [
            {"Name": "OrderId", "FieldType": "Number", "IsPrimaryKey": "true", "MaxLength": None},
            {"Name": "Note", "FieldType": "Text", "IsPrimaryKey": "false", "MaxLength": "4000"},
        ]
    }
    (orders,) = build_tables([{"CustomerKey": "orders", "Name": "Orders"}], fields)
    assert orders.primary_key == ["OrderId"]
    assert orders.fields[1] == DataExtensionField("Note", "Text", 4000, False)


def orders_stream() -> DataExtensionRowsStream:
    config = parse_config(
        {"client_id": "a-client-id-01", "client_secret": "a-secret-45", "subdomain": "http://127.0.0.1:9"}
    )
    context = SyncContext(config=config, authenticator=SfmcAuthenticator(config))  # never asked for a token here
    orders = table(field("OrderId", "Number", is_primary_key=True), field("Amount", "Decimal"), name="Orders")
    return DataExtensionRowsStream(context, orders)


def rows_of(stream: DataExtensionRowsStream, *rows: dict[str, Any]) -> list[dict[str, Any]]:
    page = RetrievePage("OK", "r", [{"Properties": row} for row in rows])
    response = SimpleNamespace(request=SimpleNamespace(body=b""))
    setattr(response, PARSED_ATTRIBUTE, page)  # as the error handler leaves it
    return list(stream.parse_response(response))  # type: ignore[arg-type]


def test_a_value_that_does_not_convert_is_null_and_logged_once_per_field_with_the_row_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        rows = rows_of(orders_stream(), {"OrderId": "1", "Amount": "n/a"}, {"OrderId": "2", "Amount": "oops"})
    assert rows == [{"OrderId": 1, "Amount": None}, {"OrderId": 2, "Amount": None}]
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "'Orders'" in warnings[0] and "'Amount'" in warnings[0] and "'OrderId': '1'" in warnings[0]


def test_a_data_extension_deleted_after_discovery_fails_with_a_clear_message() -> None:
    page = RetrievePage(
        "Error: Unable to find a handler for object type: DataExtensionObject[orders]. Object types are "
        "case-sensitive, check spelling.",
        "r",
        [],
    )
    with pytest.raises(AirbyteTracedException, match="no longer exists") as raised:
        orders_stream().raise_for_status(page, continuing=False)
    assert "'orders'" in (raised.value.message or "")


SUBDOMAIN = "mc563885gzs27c5t9-63k636ttgm"
SOAP_ENDPOINT = f"https://{SUBDOMAIN}.soap.marketingcloudapis.com/Service.asmx"


def soap_page(results: list[str], *, more: bool, request_id: str) -> str:
    return (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        '<RetrieveResponseMsg xmlns="http://exacttarget.com/wsdl/partnerAPI">'
        f"<OverallStatus>{'MoreDataAvailable' if more else 'OK'}</OverallStatus><RequestID>{request_id}</RequestID>"
        + "".join(results)
        + "</RetrieveResponseMsg></soap:Body></soap:Envelope>"
    )


def test_discovering_hundreds_of_data_extensions_takes_two_paged_retrieves(requests_mock: Any) -> None:
    requests_mock.post(
        f"https://{SUBDOMAIN}.auth.marketingcloudapis.com/v2/token",
        json={
            "access_token": "t",
            "expires_in": 1079,
            "soap_instance_url": SOAP_ENDPOINT[: -len("Service.asmx")],
            "rest_instance_url": f"https://{SUBDOMAIN}.rest.marketingcloudapis.com/",
        },
    )
    keys = [f"DE {n:03d}" for n in range(300)]
    listing = [
        f"<Results><CustomerKey>{key}</CustomerKey><Name>{key}</Name><ObjectID>o{n}</ObjectID></Results>"
        for n, key in enumerate(keys)
    ]
    fields = [
        f"<Results><Name>F{f}</Name><FieldType>Text</FieldType><Ordinal>{f}</Ordinal>"
        f"<DataExtension><CustomerKey>{key}</CustomerKey></DataExtension></Results>"
        for key in keys
        for f in range(10)
    ]

    def answer(request: Any, context: Any) -> str:
        body = request.text
        if "DataExtensionField" in body:
            page = 1 if "ContinueRequest>f" in body else 0
            return soap_page(fields[page * 2500 : (page + 1) * 2500], more=page == 0, request_id="f1")
        page = 1 if "ContinueRequest>d" in body else 0
        return soap_page(listing[page * 250 : (page + 1) * 250], more=page == 0, request_id="d1")

    route = requests_mock.post(SOAP_ENDPOINT, text=answer)
    config = parse_config({"client_id": "a-client-id-01", "client_secret": "a-secret-45", "subdomain": SUBDOMAIN})
    streams = data_extension_streams(SyncContext(config=config, authenticator=SfmcAuthenticator(config)))

    assert len(streams) == 300
    assert all(len(stream.get_json_schema()["properties"]) == 10 for stream in streams)
    assert route.call_count == 4  # two pages of data extensions, two pages of their 3,000 fields
