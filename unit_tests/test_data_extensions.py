"""Data extension rows: stream naming, schema typing, date conversion, cursor choice and bad values."""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from hypothesis import given
from hypothesis import strategies as st

from source_sfmc.business_units import UnitTokens
from source_sfmc.coerce import build_coercer
from source_sfmc.config import parse_config
from source_sfmc.data_extensions import (
    OWNER_KEYWORD,
    DataExtensionField,
    DataExtensionRowsStream,
    DataExtensionTable,
    _chosen_cursor,
    build_tables,
    columns,
    data_extension_streams,
    discovered_key,
    discovered_owner,
    field_schema,
    json_schema,
    stream_name_for,
    unit_stream_name,
)
from source_sfmc.errors import PARSED_ATTRIBUTE
from source_sfmc.soap.parse import RetrievePage, parse_retrieve
from source_sfmc.stream_base import SyncContext


def table(*fields: DataExtensionField, key: str = "orders", name: str = "Orders") -> DataExtensionTable:
    return DataExtensionTable(key=key, name=name, stream_name=stream_name_for(key), fields=fields)


def field(name: str, field_type: str = "Text", **kw: Any) -> DataExtensionField:
    return DataExtensionField(name, field_type, **kw)


def digest8(key: str) -> str:
    import hashlib

    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


@pytest.mark.parametrize(
    ("key", "stream_name"),
    [
        ("CUSTOMERS_MASTER", "data_extension__customers_master"),
        ("Newsletter_DE", "data_extension__newsletter_de"),
        ("orders2024", "data_extension__orders2024"),
    ],
)
def test_a_key_of_letters_digits_and_single_underscores_is_its_stream_name_lower_cased(
    key: str, stream_name: str
) -> None:
    assert stream_name_for(key) == stream_name


@pytest.mark.parametrize(
    ("key", "readable"),
    [
        ("Newsletter.DE", "newsletter_de"),
        ("orders-2024-eu", "orders_2024_eu"),
        ("web signups 2025", "web_signups_2025"),
        ("a -- b", "a_b"),
        ("a__b", "a_b"),
        ("_x", "x"),
        ("Préférences", "préférences"),
        ("顧客マスタ", "顧客マスタ"),
    ],
)
def test_any_other_key_keeps_its_letters_and_digits_and_ends_with_a_digest_of_the_exact_key(
    key: str, readable: str
) -> None:
    assert stream_name_for(key) == f"data_extension__{readable}_{digest8(key)}"


@pytest.mark.parametrize(
    ("key", "readable"),
    [
        ("हिन्दी_ग्राहक", "हिन्दी_ग्राहक"),  # vowel signs and viramas are marks, not letters
        (unicodedata.normalize("NFD", "データ"), "データ"),
        (unicodedata.normalize("NFD", "Préférences"), "préférences"),
    ],
)
def test_combining_marks_stay_with_their_letters(key: str, readable: str) -> None:
    assert stream_name_for(key) == f"data_extension__{readable}_{digest8(key)}"


@given(st.text(min_size=1, max_size=20))
def test_a_key_and_its_decomposed_form_have_the_same_readable_part(key: str) -> None:
    composed, decomposed = unicodedata.normalize("NFC", key), unicodedata.normalize("NFD", key)
    if composed != decomposed:
        assert stream_name_for(composed)[:-9] == stream_name_for(decomposed)[:-9]
        assert stream_name_for(composed) != stream_name_for(decomposed)


def test_a_key_whose_lower_case_only_looks_plain_is_not_plain() -> None:
    # KELVIN SIGN lower-cases to an ASCII k: without the digest, 'Key' and this key would share a name, and a new
    # data extension would take the stream of an existing one away (a clash offers neither).
    kelvin_key = "\u212aey"
    assert stream_name_for(kelvin_key) == f"data_extension__key_{digest8(kelvin_key)}"
    assert stream_name_for(kelvin_key) != stream_name_for("Key")


def test_names_are_stable_across_versions() -> None:
    # Pinned: a change here renames streams in every existing catalog.
    assert stream_name_for("Newsletter.DE") == "data_extension__newsletter_de_7f89a323"
    assert stream_name_for("顧客マスタ") == "data_extension__顧客マスタ_db0e2e70"


def test_a_key_of_symbols_only_is_named_by_its_digest() -> None:
    assert stream_name_for("[..]") == f"data_extension__{digest8('[..]')}"


def test_a_new_data_extension_whose_key_sorts_first_does_not_take_an_existing_stream_name() -> None:
    fields = {"Newsletter_DE": [{"Name": "Email"}], "Newsletter.DE": [{"Name": "Email"}]}
    day_1 = build_tables([{"CustomerKey": "Newsletter_DE"}], fields)
    day_2 = build_tables([{"CustomerKey": "Newsletter.DE"}, {"CustomerKey": "Newsletter_DE"}], fields)
    assert {t.stream_name: t.key for t in day_1} == {"data_extension__newsletter_de": "Newsletter_DE"}
    assert {t.stream_name: t.key for t in day_2} == {
        "data_extension__newsletter_de": "Newsletter_DE",
        f"data_extension__newsletter_de_{digest8('Newsletter.DE')}": "Newsletter.DE",
    }


def test_japanese_keys_give_distinct_readable_names() -> None:
    names = {stream_name_for(key) for key in ("顧客マスタ", "顧客マスタ_2", "注文", "注文!")}
    assert len(names) == 4
    assert all("顧客" in name or "注文" in name for name in names)


_KEYS = st.text(min_size=1, max_size=30)


@given(st.lists(_KEYS, min_size=1, max_size=8, unique_by=str.lower), st.data())
def test_a_stream_name_depends_on_its_own_key_alone(keys: list[str], data: st.DataObject) -> None:
    fields = {key: [{"Name": "F"}] for key in keys}
    others = data.draw(st.lists(st.sampled_from(keys), unique=True))
    alone = {t.key: t.stream_name for t in build_tables([{"CustomerKey": k} for k in keys], fields)}
    fewer = {t.key: t.stream_name for t in build_tables([{"CustomerKey": k} for k in others], fields)}
    assert all(alone[key] == name == stream_name_for(key) for key, name in fewer.items())
    assert len(set(alone.values())) == len(alone)


@given(_KEYS, _KEYS)
def test_keys_that_differ_other_than_by_case_have_different_stream_names(first: str, second: str) -> None:
    if first.lower() != second.lower():
        assert stream_name_for(first) != stream_name_for(second)


_MIDS = st.integers(min_value=1, max_value=10**12)


def test_a_data_extension_of_the_home_unit_or_of_an_unknown_owner_keeps_its_one_unit_name() -> None:
    assert unit_stream_name("CUSTOMERS_MASTER", 7281234, 7281234) == "data_extension__customers_master"
    assert unit_stream_name("Newsletter.DE", None, 7281234) == stream_name_for("Newsletter.DE")


def test_a_data_extension_of_another_unit_is_named_with_its_owners_mid() -> None:
    assert unit_stream_name("CUSTOMERS_MASTER", 7294501, 7281234) == "data_extension__7294501__customers_master"
    assert unit_stream_name("顧客マスタ", 7294501, 7281234) == "data_extension__7294501__顧客マスタ_db0e2e70"


@given(_KEYS)
def test_a_one_unit_name_never_has_a_double_underscore_after_the_prefix(key: str) -> None:
    assert "__" not in stream_name_for(key)[len("data_extension__") :]


@given(_KEYS, _MIDS, _MIDS)
def test_an_owner_qualified_name_gives_back_its_owner_and_its_one_unit_name(key: str, owner: int, home: int) -> None:
    name = unit_stream_name(key, owner, home)
    if owner == home:
        assert name == stream_name_for(key)
        return
    mid, _, rest = name[len("data_extension__") :].partition("__")
    assert (int(mid), "data_extension__" + rest) == (owner, stream_name_for(key))


@given(_KEYS, _KEYS, st.one_of(st.none(), _MIDS), st.one_of(st.none(), _MIDS), _MIDS)
def test_data_extensions_of_different_owners_or_keys_never_share_a_name(
    first: str, second: str, first_owner: int | None, second_owner: int | None, home: int
) -> None:
    def identity(key: str, owner: int | None) -> tuple[int | None, str]:
        return (None if owner in (None, home) else owner, key.lower())

    if identity(first, first_owner) != identity(second, second_owner):
        assert unit_stream_name(first, first_owner, home) != unit_stream_name(second, second_owner, home)


@given(st.lists(st.tuples(_KEYS, _MIDS), min_size=1, max_size=6), st.lists(st.tuples(_KEYS, _MIDS), max_size=6), _MIDS)
def test_a_data_extension_created_later_in_any_unit_renames_no_stream(
    before: list[tuple[str, int]], later: list[tuple[str, int]], home: int
) -> None:
    def names(listing: list[tuple[str, int]]) -> dict[tuple[int, str], str]:
        raws = [{"CustomerKey": k, "ObjectID": f"{o}/{k}", "Client": {"ID": str(o)}} for k, o in listing]
        return {(t.owner, t.key): t.stream_name for t in build_tables(raws, {}, home)}

    first, second = names(before), names(before + later)
    assert all(second.get(identity, name) == name for identity, name in first.items())


@pytest.mark.parametrize(
    ("field_type", "schema"),
    [
        ("Text", {"type": ["null", "string"], "maxLength": 50}),
        ("EmailAddress", {"type": ["null", "string"], "maxLength": 50}),
        ("Phone", {"type": ["null", "string"], "maxLength": 50}),
        ("Locale", {"type": ["null", "string"], "maxLength": 50}),
        ("Number", {"type": ["null", "integer"]}),
        (
            "Decimal",
            {"type": ["null", "number"], "x-sfmc-scale": None, "x-sfmc-precision": 50, "description": "Decimal(50,?)"},
        ),
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
    typed = coerce({"N": "42", "D": "12.50", "B": "False", "T": "x"})
    assert orjson.dumps(typed) == b'{"N":42,"D":12.50,"B":false,"T":"x"}'


def test_a_decimal_field_schema_says_precision_and_scale() -> None:
    raw = {"Name": "Amount", "FieldType": "Decimal", "MaxLength": "18", "Scale": "8"}
    (amounts,) = build_tables([{"CustomerKey": "k"}], {"k": [raw]})
    schema = json_schema(amounts)["properties"]["Amount"]
    assert schema["type"] == ["null", "number"]
    assert (schema["x-sfmc-precision"], schema["x-sfmc-scale"], schema["description"]) == (18, 8, "Decimal(18,8)")


@pytest.mark.parametrize(
    "text",
    [
        "1234567890.12345678",
        "9999999999.99999999",
        "-9999999999.99999999",
        "0.00000001",
        "-0.00000001",
        "0",
        "0.00000000",
        "-1234567890.12345678",
    ],
)
def test_decimal_values_are_emitted_with_every_digit_sfmc_sent(text: str) -> None:
    decimals = table(field("D", "Decimal", max_length=18, scale=8))
    assert orjson.dumps(build_coercer(json_schema(decimals))({"D": text})) == b'{"D":' + text.encode() + b"}"


@given(
    st.integers(min_value=-(10**18) + 1, max_value=10**18 - 1),
    st.integers(min_value=0, max_value=18),
)
def test_any_decimal_up_to_18_digits_keeps_its_digits_through_json(unscaled: int, scale: int) -> None:
    digits = f"{abs(unscaled):0{scale + 1}d}"
    text = ("-" if unscaled < 0 else "") + (f"{digits[:-scale]}.{digits[-scale:]}" if scale else digits)
    decimals = table(field("D", "Decimal", max_length=18, scale=scale))
    emitted = orjson.dumps(build_coercer(json_schema(decimals))({"D": text}))
    from decimal import Decimal

    assert emitted == b'{"D":' + text.encode() + b"}"
    assert __import__("json").loads(emitted, parse_float=Decimal)["D"] == Decimal(text)


@pytest.mark.parametrize(
    ("raw", "value"),
    [("Y", True), ("N", False), ("yes", True), ("no", False), ("YES", True), ("n", False), ("True", True)],
)
def test_every_boolean_spelling_sfmc_documents_is_read(raw: str, value: bool) -> None:
    coerce = build_coercer(json_schema(table(field("B", "Boolean"))))
    assert coerce({"B": raw}) == {"B": value}


@pytest.mark.parametrize("value", ["<Value></Value>", "<Value />", '<Value xsi:nil="true" />'])
def test_an_empty_or_nil_text_value_is_null(value: str) -> None:
    body = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body>'
        '<RetrieveResponseMsg xmlns="http://exacttarget.com/wsdl/partnerAPI"><OverallStatus>OK</OverallStatus>'
        '<Results xsi:type="DataExtensionObject"><Properties>'
        f"<Property><Name>OrderId</Name><Value>1</Value></Property><Property><Name>Note</Name>{value}</Property>"
        "</Properties></Results></RetrieveResponseMsg></soap:Body></soap:Envelope>"
    )
    (row,) = parse_retrieve(body.encode()).results
    assert orders_stream().typed(row["Properties"]) == {"OrderId": 1, "Note": None}


def test_rows_carry_the_hidden_row_identity_which_keys_data_extensions_without_primary_key() -> None:
    log = table(field("Event"), field("When", "Date"))
    assert log.primary_key == ["_CustomObjectKey"]
    assert json_schema(log)["properties"]["_CustomObjectKey"]["type"] == ["null", "integer"]
    assert build_coercer(json_schema(log))({"Event": "x", "_CustomObjectKey": "17"}) == {
        "Event": "x",
        "_CustomObjectKey": 17,
    }


def test_a_data_extension_with_primary_key_fields_keeps_them_as_its_key() -> None:
    assert table(field("Id", is_primary_key=True), field("Name")).primary_key == ["Id"]


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


def test_the_schema_names_the_external_key_it_was_discovered_for() -> None:
    from source_sfmc.data_extensions import discovered_key

    assert discovered_key(json_schema(table(key="Newsletter.DE"))) == "Newsletter.DE"
    # Catalogs discovered before the keyword existed: the key quoted in the description.
    assert discovered_key({"description": "Rows of data extension 'N' (external key 'a (b)')."}) == "a (b)"
    assert discovered_key({"type": "object"}) is None


def orders_stream() -> DataExtensionRowsStream:
    config = parse_config(
        {"client_id": "a-client-id-01", "client_secret": "a-secret-45", "subdomain": "http://127.0.0.1:9"}
    )
    context = SyncContext(config=config, authenticator=UnitTokens(config))  # never asked for a token here
    orders = table(
        field("OrderId", "Number", is_primary_key=True), field("Amount", "Decimal"), field("Note"), name="Orders"
    )
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


def merchants_stream() -> DataExtensionRowsStream:
    config = parse_config(
        {"client_id": "a-client-id-01", "client_secret": "a-secret-45", "subdomain": "http://127.0.0.1:9"}
    )
    context = SyncContext(config=config, authenticator=UnitTokens(config))  # never asked for a token here
    listing = [{"CustomerKey": "merchants", "Name": "Merchants", "Client": {"ID": "7"}}]
    fields = {"merchants": [{"Name": "MID", "IsPrimaryKey": "true"}, {"Name": "Seen", "FieldType": "Date"}]}
    (merchants,) = build_tables(listing, fields, home=7)
    return DataExtensionRowsStream(context, merchants, cursor="Seen")


@pytest.mark.parametrize("name", ["mid", "MID", "Mid", "_CustomObjectKey", "_customobjectkey"])
def test_a_field_named_like_a_column_every_row_has_becomes_a_renamed_column(name: str) -> None:
    (column, other) = columns([field(name), field("Other")])
    assert (column.name, column.source_name, other.name) == (f"de_{name}", name, "Other")


def test_a_renamed_column_collides_with_no_other_field_of_its_data_extension() -> None:
    assert [f.name for f in columns([field("MID"), field("DE_MID"), field("de_MID_")])] == [
        "de_MID__",
        "DE_MID",
        "de_MID_",
    ]


@given(st.lists(st.text(min_size=1, max_size=8, alphabet="miMIdD_e"), max_size=6, unique_by=str.casefold))
def test_columns_are_distinct_regardless_of_case_and_never_a_rows_own_column(names: list[str]) -> None:
    emitted = [f.name.casefold() for f in columns(field(name) for name in names)]
    assert len(set(emitted)) == len(emitted)
    assert not {"mid", "_customobjectkey"} & set(emitted)


def test_a_field_named_mid_keeps_its_values_beside_the_units_mid_in_schema_records_key_and_cursor() -> None:
    stream = merchants_stream()
    properties = stream.get_json_schema()["properties"]
    assert properties["mid"]["type"] == "integer" and "'MID'" in properties["de_MID"]["description"]
    assert stream.primary_key == ["mid", "de_MID"] and stream.cursor_field == "Seen"
    assert "MID" in stream.properties and "de_MID" not in stream.properties
    (row,) = rows_of(stream, {"MID": "m-42", "Seen": "1/2/2025 3:04:05 AM"})
    assert stream.marked(row, 7) == {"de_MID": "m-42", "Seen": "2025-01-02T09:04:05.000000+00:00", "mid": 7}


def test_the_cursor_filter_names_a_renamed_field_as_marketing_cloud_does() -> None:
    config = parse_config(
        {"client_id": "a-client-id-01", "client_secret": "a-secret-45", "subdomain": "http://127.0.0.1:9"}
    )
    context = SyncContext(config=config, authenticator=UnitTokens(config))
    listing = [{"CustomerKey": "visits", "Client": {"ID": "7"}}]
    (visits,) = build_tables(listing, {"visits": [{"Name": "Mid", "FieldType": "Date"}]}, home=7)
    stream = DataExtensionRowsStream(context, visits, cursor="de_Mid")
    found = stream.slice_filter({"window_start": "2025-01-01T00:00:00Z", "window_end": "2025-02-01T00:00:00Z"})
    assert found is not None and found.property == "Mid"


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


def serve_token(requests_mock: Any) -> None:
    """A token endpoint pointing at the SOAP endpoint, and the userinfo answer naming the package's MID."""
    requests_mock.post(
        f"https://{SUBDOMAIN}.auth.marketingcloudapis.com/v2/token",
        json={
            "access_token": "t",
            "expires_in": 1079,
            "soap_instance_url": SOAP_ENDPOINT[: -len("Service.asmx")],
            "rest_instance_url": f"https://{SUBDOMAIN}.rest.marketingcloudapis.com/",
        },
    )
    requests_mock.get(
        f"https://{SUBDOMAIN}.auth.marketingcloudapis.com/v2/userinfo", json={"organization": {"member_id": 7281234}}
    )


def test_discovering_hundreds_of_data_extensions_takes_two_paged_retrieves(requests_mock: Any) -> None:
    serve_token(requests_mock)
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
    streams = data_extension_streams(SyncContext(config=config, authenticator=UnitTokens(config)))

    assert len(streams) == 300
    # ten fields, the hidden row identity and the business unit's mid
    assert all(len(stream.get_json_schema()["properties"]) == 12 for stream in streams)
    assert route.call_count == 4  # two pages of data extensions, two pages of their 3,000 fields


def context_listing(*tables: DataExtensionTable) -> SyncContext:
    config = parse_config(
        {
            "client_id": "a-client-id-01",
            "client_secret": "a-secret-45",
            "subdomain": "http://127.0.0.1:9",
            "account_id": "7281234",
        }
    )
    context = SyncContext(config=config, authenticator=UnitTokens(config))
    context._memo["7281234:data_extension_tables:7281234"] = list(
        tables
    )  # what discovery listed in business unit 7281234
    return context


def catalog_of(*streams: tuple[str, dict[str, Any]]) -> Any:
    from airbyte_cdk.models import ConfiguredAirbyteCatalogSerializer

    return ConfiguredAirbyteCatalogSerializer.load(
        {
            "streams": [
                {
                    "stream": {"name": name, "json_schema": schema, "supported_sync_modes": ["full_refresh"]},
                    "sync_mode": "full_refresh",
                    "destination_sync_mode": "overwrite",
                }
                for name, schema in streams
            ]
        }
    )


def read_error(stream: DataExtensionRowsStream) -> AirbyteTracedException:
    with pytest.raises(AirbyteTracedException) as raised:
        list(stream.read_slice({}))
    assert raised.value.failure_type.value == "config_error"
    return raised.value


def test_a_data_extension_without_fields_is_not_offered(caplog: pytest.LogCaptureFixture) -> None:
    orders, fieldless = table(field("Id")), table(key="no_fields", name="No fields")
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        streams = data_extension_streams(context_listing(orders, fieldless))
    assert [stream.name for stream in streams] == ["data_extension__orders"]
    assert any("data_extension__no_fields" in record.getMessage() for record in caplog.records)


def test_a_selected_data_extension_without_fields_fails_alone_with_a_clear_message() -> None:
    orders, fieldless = table(field("Id")), table(key="no_fields", name="No fields")
    catalog = catalog_of(("data_extension__no_fields", {}), ("data_extension__orders", json_schema(orders)))
    streams = {s.name: s for s in data_extension_streams(context_listing(orders, fieldless), catalog)}
    assert "no fields" in (read_error(streams["data_extension__no_fields"]).message or "")
    assert type(streams["data_extension__orders"]) is DataExtensionRowsStream


def test_a_stream_whose_name_now_belongs_to_another_key_fails_and_names_both_keys() -> None:
    # Discovered (before stable names) for 'Newsletter.DE'; the name now stands for 'Newsletter_DE'.
    newsletter = table(field("Email"), key="Newsletter_DE", name="Newsletter")
    old_schema = {"description": "Rows of data extension 'Newsletter' (external key 'Newsletter.DE')."}
    catalog = catalog_of(("data_extension__newsletter_de", old_schema))
    (stream,) = data_extension_streams(context_listing(newsletter), catalog)
    message = read_error(stream).message or ""
    assert "'Newsletter.DE'" in message and "'Newsletter_DE'" in message


def test_a_stream_discovered_for_another_units_data_extension_of_the_same_key_fails_naming_both_units() -> None:
    # Discovered with account_id 7294501 (its own 'customers'); account_id is now 7281234, whose 'customers' the
    # name now stands for.
    was = replace(table(field("Email"), key="customers"), owner=7294501)
    now = replace(table(field("Email"), key="customers"), owner=7281234)
    catalog = catalog_of(("data_extension__customers", json_schema(was)))
    (stream,) = data_extension_streams(context_listing(now), catalog)
    message = read_error(stream).message or ""
    assert "business unit 7294501" in message and "business unit 7281234" in message
    assert "Refresh the source schema" in message


def test_a_stream_discovered_before_owners_were_recorded_is_read_by_its_key() -> None:
    now = replace(table(field("Email"), key="customers"), owner=7281234)
    old_schema = {**json_schema(table(field("Email"), key="customers"))}
    old_schema.pop(OWNER_KEYWORD, None)
    (stream,) = data_extension_streams(context_listing(now), catalog_of(("data_extension__customers", old_schema)))
    assert type(stream) is DataExtensionRowsStream


def test_a_stream_of_a_unit_that_could_not_be_listed_fails_naming_that_unit_and_why() -> None:
    from source_sfmc.data_extensions import _missing

    catalog = catalog_of(("data_extension__2__orders", json_schema(replace(table(key="orders"), owner=2))))
    refused = {2: "Marketing Cloud refused a token for business unit 2"}
    (configured,) = catalog.streams
    assert (
        _missing(configured, [], refused) == f"the data extensions of business unit 2 could not be listed: {refused[2]}"
    )
    assert "business unit(s) 2 could not be listed" in _missing(
        catalog_of(("data_extension__x", {})).streams[0], [], refused
    )


def test_the_discovered_schema_records_the_owner_beside_the_key() -> None:
    schema = json_schema(replace(table(key="customers"), owner=7294501))
    assert (discovered_key(schema), discovered_owner(schema)) == ("customers", 7294501)


def test_a_stream_whose_data_extension_is_gone_fails_with_a_clear_message() -> None:
    catalog = catalog_of(("data_extension__gone", {}))
    streams = {s.name: s for s in data_extension_streams(context_listing(table(field("Id"))), catalog)}
    assert "no longer exists" in (read_error(streams["data_extension__gone"]).message or "")


def test_a_stream_named_before_stable_names_fails_and_names_the_stream_its_data_extension_now_has() -> None:
    # Older versions named 'orders-2024-eu' `data_extension__orders_2024_eu`; the data extension still exists.
    orders = table(field("OrderId"), key="orders-2024-eu", name="Orders 2024 EU")
    old_schema = {"description": "Rows of data extension 'Orders 2024 EU' (external key 'orders-2024-eu')."}
    catalog = catalog_of(("data_extension__orders_2024_eu", old_schema))
    streams = {s.name: s for s in data_extension_streams(context_listing(orders), catalog)}
    message = read_error(streams["data_extension__orders_2024_eu"]).message or ""
    assert f"'{orders.stream_name}'" in message
    assert "no longer exists" not in message


def test_a_stream_whose_cursor_field_is_no_longer_a_date_field_fails_alone() -> None:
    # The catalog chose 'Signup Date' as cursor; the field was since deleted (or made Text) in Marketing Cloud.
    signups, orders = table(field("Email"), key="signups", name="Signups"), table(field("Id"))
    catalog = catalog_of(("data_extension__signups", json_schema(signups)), ("data_extension__orders", {}))
    catalog.streams[0].sync_mode = SyncMode.incremental
    catalog.streams[0].cursor_field = ["Signup Date"]
    streams = {s.name: s for s in data_extension_streams(context_listing(signups, orders), catalog)}
    assert "'Signup Date' is not a Date field" in (read_error(streams["data_extension__signups"]).message or "")
    assert type(streams["data_extension__orders"]) is DataExtensionRowsStream


def serve_listing(requests_mock: Any, listing: list[str], fields: list[str]) -> None:
    """A token endpoint and a SOAP endpoint answering DataExtensionField with `fields`, anything else with `listing`
    (each one page of <Results> elements)."""
    serve_token(requests_mock)

    def answer(request: Any, context: Any) -> str:
        results = fields if "DataExtensionField" in request.text else listing
        return soap_page(results, more=False, request_id="r")

    requests_mock.post(SOAP_ENDPOINT, text=answer)


def context_for(**settings: Any) -> SyncContext:
    config = parse_config(
        {"client_id": "a-client-id-01", "client_secret": "a-secret-45", "subdomain": SUBDOMAIN, **settings}
    )
    return SyncContext(config=config, authenticator=UnitTokens(config))


def test_field_descriptions_with_odd_ordinal_max_length_and_scale_still_give_a_stream(requests_mock: Any) -> None:
    odd = [  # (Ordinal, FieldType, MaxLength, Scale)
        ("", "Text", "abc", ""),
        ("x", "Decimal", "-5", "two"),
        ("2.0", "Text", "99999999999999999999", ""),
        ("1", "Geo", "", ""),
    ]
    fields = [
        f"<Results><Name>F{n}</Name><FieldType>{kind}</FieldType><Ordinal>{ordinal}</Ordinal>"
        f"<MaxLength>{max_length}</MaxLength><Scale>{scale}</Scale>"
        "<DataExtension><CustomerKey>odd</CustomerKey></DataExtension></Results>"
        for n, (ordinal, kind, max_length, scale) in enumerate(odd)
    ]
    serve_listing(requests_mock, ["<Results><CustomerKey>odd</CustomerKey><Name>Odd</Name></Results>"], fields)
    (stream,) = data_extension_streams(context_for())
    properties = stream.get_json_schema()["properties"]
    assert set(properties) == {"F0", "F1", "F2", "F3", "_CustomObjectKey", "mid"}
    assert properties["F1"]["type"] == ["null", "number"] and "x-sfmc-precision" not in properties["F1"]


def test_one_key_listed_for_two_owners_gives_a_table_each_named_by_owner_with_fields_not_known() -> None:
    # A child lists its own data extension and the parent's shared one of the same key; their fields arrive
    # under that key, merged, so neither table's fields are known from this listing.
    fields = {"News": [{"Name": "Email"}], "Orders": [{"Name": "Id"}]}
    listing = [
        {"CustomerKey": "News", "ObjectID": "de-in-parent", "Client": {"ID": "1"}},
        {"CustomerKey": "News", "ObjectID": "de-in-child", "Client": {"ID": "2"}},
        {"CustomerKey": "Orders", "ObjectID": "orders", "Client": {"ID": "2"}},
        {"CustomerKey": "Orders", "ObjectID": "orders", "Client": {"ID": "2"}},  # the same one listed twice
    ]
    tables = build_tables(listing, fields, home=1)
    assert [(t.stream_name, t.owner, t.fields_known) for t in tables] == [
        ("data_extension__2__news", 2, False),
        ("data_extension__2__orders", 2, True),
        ("data_extension__news", 1, False),
    ]


def test_two_data_extensions_of_one_key_whose_owner_is_not_listed_get_no_stream(
    caplog: pytest.LogCaptureFixture,
) -> None:
    listing = [{"CustomerKey": "News", "ObjectID": "a"}, {"CustomerKey": "News", "ObjectID": "b"}]
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        assert build_tables(listing, {"News": [{"Name": "Email"}]}) == []
    assert any("'News'" in record.getMessage() for record in caplog.records)


def test_settings_that_select_none_of_the_listed_data_extensions_say_so(
    requests_mock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    field_of_orders = (
        "<Results><Name>Id</Name><FieldType>Text</FieldType>"
        "<DataExtension><CustomerKey>orders</CustomerKey></DataExtension></Results>"
    )
    serve_listing(
        requests_mock, ["<Results><CustomerKey>orders</CustomerKey><Name>Orders</Name></Results>"], [field_of_orders]
    )
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        streams = data_extension_streams(context_for(data_extensions_include=["Oders*"]))
    assert streams == []
    assert any("select none of the 1 data extension" in record.getMessage() for record in caplog.records)


# -- data extensions of every business unit ------------------------------------------------------------------------
def unit_tables(
    monkeypatch: pytest.MonkeyPatch, units: tuple[int, ...], by_unit: dict[int, list], home: int | None = None
) -> list:
    """`_tables_of_every_unit` over units whose listings are `by_unit` (tables by the MID that lists them), the
    home unit being `home` (the first unit when None)."""
    from source_sfmc import data_extensions
    from source_sfmc.business_units import current_mid

    home = units[0] if home is None else home
    monkeypatch.setattr(
        data_extensions,
        "data_extension_tables",
        lambda context, home: [
            replace(t, stream_name=unit_stream_name(t.key, t.owner, home)) for t in by_unit[current_mid.get()]
        ],
    )
    monkeypatch.setattr(data_extensions, "home_mid", lambda context: home)
    context = SimpleNamespace(units=lambda: units)
    return data_extensions._tables_of_every_unit(context, reading=False)


def owned(key: str, owner: int) -> DataExtensionTable:
    return DataExtensionTable(key, key, stream_name_for(key), (field("Id"),), owner=owner)


def test_a_data_extension_of_a_unit_listed_after_another_is_offered_and_read_in_its_unit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tables = unit_tables(monkeypatch, (2, 1), {2: [], 1: [owned("orders", 1)]})
    assert [(t.key, t.unit) for t in tables] == [("orders", 1)]


def test_a_shared_data_extension_listed_by_children_is_offered_once_and_read_in_its_owners_unit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shared = owned("survey", 1)
    tables = unit_tables(monkeypatch, (2, 3, 1), {2: [shared], 3: [shared], 1: [shared]})
    assert [(t.key, t.unit) for t in tables] == [("survey", 1)]


def test_a_shared_data_extension_whose_owner_is_not_read_is_still_read_in_its_owners_unit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # SFMC's "Data Extensions" SOAP article: shared data extensions are reached by authenticating against the
    # parent, their owner; a child's token is not the documented way.
    shared = owned("survey", 1)
    tables = unit_tables(monkeypatch, (3, 2), {2: [shared], 3: [shared]})
    assert [(t.key, t.unit) for t in tables] == [("survey", 1)]


def test_one_key_owned_by_two_units_gives_two_streams_each_read_in_its_owners_unit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tables = unit_tables(monkeypatch, (1, 2), {1: [owned("orders", 1)], 2: [owned("orders", 2), owned("x", 2)]})
    assert [(t.stream_name, t.owner, t.unit) for t in tables] == [
        ("data_extension__2__orders", 2, 2),
        ("data_extension__2__x", 2, 2),
        ("data_extension__orders", 1, 1),
    ]


def test_a_child_read_alone_names_its_own_data_extensions_plainly_and_the_parents_shared_ones_by_owner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tables = unit_tables(monkeypatch, (2,), {2: [owned("orders", 2), owned("survey", 1)]})
    assert [(t.stream_name, t.unit) for t in tables] == [
        ("data_extension__1__survey", 1),
        ("data_extension__orders", 2),
    ]


def test_a_data_extension_whose_fields_a_listing_cannot_tell_apart_is_taken_from_its_owners_listing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    merged = (field("Id"), field("Email"))
    in_child = [replace(owned("news", 1), fields=merged, fields_known=False), owned("orders", 2)]
    tables = unit_tables(monkeypatch, (2, 1), {2: in_child, 1: [owned("news", 1)]}, home=1)
    assert [(t.stream_name, t.unit, t.fields) for t in tables] == [
        ("data_extension__2__orders", 2, (field("Id"),)),
        ("data_extension__news", 1, (field("Id"),)),
    ]


def test_a_data_extension_whose_fields_no_listing_can_tell_apart_is_not_offered_and_says_which_unit_to_add(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    in_child = [replace(owned("news", 1), fields_known=False), replace(owned("news", 2), fields_known=False)]
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        tables = unit_tables(monkeypatch, (2,), {2: in_child})
    assert tables == []
    assert any("Add business unit 1" in record.getMessage() for record in caplog.records)


def test_a_unit_that_cannot_be_listed_while_reading_is_skipped_and_what_it_shares_is_read_where_listed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from source_sfmc import data_extensions
    from source_sfmc.business_units import current_mid

    def listing(context: Any, home: int) -> list[DataExtensionTable]:
        if current_mid.get() == 1:
            raise AirbyteTracedException(message="refused for unit 1", failure_type=FailureType.config_error)
        return [replace(owned("survey", 1), stream_name=unit_stream_name("survey", 1, home))]

    monkeypatch.setattr(data_extensions, "data_extension_tables", listing)
    monkeypatch.setattr(data_extensions, "home_mid", lambda context: 2)
    unlisted: dict[int, str] = {}
    tables = data_extensions._tables_of_every_unit(
        SimpleNamespace(units=lambda: (1, 2)), reading=True, unlisted=unlisted
    )
    assert [(t.stream_name, t.owner, t.unit) for t in tables] == [("data_extension__1__survey", 1, 2)]
    assert unlisted == {1: "refused for unit 1"}


def ownerless(key: str, object_id: str | None = None) -> DataExtensionTable:
    """A table as built from a listing that gave no Client.ID for it."""
    return DataExtensionTable(key, key, stream_name_for(key), (field("Id"),), object_id=object_id)


@pytest.mark.parametrize("units", [(1, 2), (2, 1)])
def test_a_childs_data_extension_listed_without_its_owner_does_not_take_the_home_units_stream_of_its_key(
    monkeypatch: pytest.MonkeyPatch, units: tuple[int, int]
) -> None:
    # Unit 2's listing says no Client.ID for its own `orders`; the home unit 1 owns an `orders` of its own. Both
    # counted as "home" and shared one name: which one the stream read depended on the order of the units.
    listings = {1: [owned("orders", 1)], 2: [ownerless("orders", object_id="child-orders")]}
    tables = unit_tables(monkeypatch, units, listings, home=1)
    assert sorted((t.stream_name, t.owner, t.unit) for t in tables) == [
        ("data_extension__2__orders", 2, 2),
        ("data_extension__orders", 1, 1),
    ]


@pytest.mark.parametrize("units", [(2, 1), (1, 2), (2, 3)])
def test_a_shared_data_extension_listed_once_without_its_owner_is_still_one_stream_of_its_owner(
    monkeypatch: pytest.MonkeyPatch, units: tuple[int, int]
) -> None:
    # The child 2 lists the parent's shared `survey` without Client.ID, another listing says its owner (1): the
    # same data extension (one ObjectID) must be one stream, marked with its owner, not a second stream of unit 2.
    shared = replace(owned("survey", 1), object_id="survey-object")
    listings = {1: [shared], 2: [ownerless("survey", object_id="survey-object")], 3: [shared]}
    tables = unit_tables(monkeypatch, units, listings, home=2)
    assert [(t.stream_name, t.owner) for t in tables] == [("data_extension__1__survey", 1)]


def test_a_plain_key_that_spells_another_keys_digest_name_takes_the_digest_form() -> None:
    assert stream_name_for("Newsletter.DE") == "data_extension__newsletter_de_7f89a323"
    spelled = "NEWSLETTER_DE_7F89A323"
    assert stream_name_for(spelled) == f"data_extension__newsletter_de_7f89a323_{digest8(spelled)}"


def test_a_key_of_eight_hex_digits_does_not_take_a_digest_only_name() -> None:
    assert stream_name_for("deadbeef") == f"data_extension__deadbeef_{digest8('deadbeef')}"


def test_plain_keys_not_ending_like_a_digest_keep_their_name() -> None:
    assert stream_name_for("Orders_2024_1234567") == "data_extension__orders_2024_1234567"
    assert stream_name_for("Campaign_ABCDEFGHI") == "data_extension__campaign_abcdefghi"


@given(_KEYS)
def test_no_key_spells_the_stream_name_of_another(key: str) -> None:
    name = stream_name_for(key)
    spelled = name.removeprefix("data_extension__")
    for variant in {spelled, spelled.upper()}:
        if variant.lower() != key.lower():
            assert stream_name_for(variant) != name


def test_a_new_data_extension_whose_key_spells_an_existing_stream_name_leaves_that_stream_alone() -> None:
    fields = {"Newsletter.DE": [{"Name": "Email"}], "NEWSLETTER_DE_7F89A323": [{"Name": "Email"}]}
    day_1 = build_tables([{"CustomerKey": "Newsletter.DE", "ObjectID": "a"}], fields)
    day_2 = build_tables(
        [{"CustomerKey": "Newsletter.DE", "ObjectID": "a"}, {"CustomerKey": "NEWSLETTER_DE_7F89A323", "ObjectID": "b"}],
        fields,
    )
    assert {t.stream_name: t.key for t in day_1}.items() <= {t.stream_name: t.key for t in day_2}.items()
    assert len(day_2) == 2
