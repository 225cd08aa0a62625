"""Every envelope shape the connector builds is valid against the partner API schema of SFMC's WSDL."""

import pytest

from source_sfmc.soap.envelope import (
    ComplexFilter,
    RetrieveOptions,
    SimpleFilter,
    all_of,
    continue_envelope,
    retrieve_envelope,
)
from unit_tests.wsdl import assert_valid_retrieve, requires_wsdl

pytestmark = requires_wsdl

HOSTILE = "<&\"'ä€𝄞]]>\r\n"
BUSINESS_UNIT = RetrieveOptions(client_ids=(7281234, 7281235), query_all_accounts=True, batch_size=2500)
WINDOW = SimpleFilter("EventDate", "between", ("2024-01-01T00:00:00.000Z", "2024-01-31T00:00:00.000Z"), dates=True)
NESTED = ComplexFilter(
    ComplexFilter(SimpleFilter("Status", "equals", ("Active",)), "OR", SimpleFilter("Status", "isNull")),
    "AND",
    all_of(WINDOW, SimpleFilter("SubscriberKey", "beginsWith", ("a",)), SimpleFilter("ID", "greaterThan", ("0",))),
)
MANY_IN = SimpleFilter("SendID", "IN", tuple(str(n) for n in range(500)))
FILTERS = {
    "no filter": None,
    "simple": SimpleFilter("SendID", "equals", ("364147",)),
    "dates": WINDOW,
    "one date": SimpleFilter("ModifiedDate", "greaterThan", ("2024-01-01T00:00:00Z",), dates=True),
    "nested complex": NESTED,
    "IN with many values": MANY_IN,
    "hostile value": SimpleFilter("SubscriberKey", "equals", (HOSTILE,)),
}
OPTIONS = {
    "own unit": RetrieveOptions(),
    "client ids": RetrieveOptions(client_ids=(7281234,)),
    "all accounts": RetrieveOptions(query_all_accounts=True),
    "batch size": RetrieveOptions(batch_size=100),
    "everything": BUSINESS_UNIT,
}


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
@pytest.mark.parametrize("filter", FILTERS.values(), ids=FILTERS.keys())
def test_first_page_is_valid(filter, options):
    assert_valid_retrieve(retrieve_envelope("token", "SentEvent", ["SendID", "EventDate"], filter, options))


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
@pytest.mark.parametrize("object_type", ["", "SentEvent"], ids=["no object type", "object type"])
def test_continue_page_is_valid(object_type, options):
    assert_valid_retrieve(continue_envelope("token", "e5b8151e-0c5f-4a4b-9c1e-2b8b5d0a1f00", object_type, options))


def test_hostile_data_extension_key_and_fields_are_valid():
    envelope = retrieve_envelope(
        HOSTILE, f"DataExtensionObject[{HOSTILE}]", [HOSTILE, "EMAIL"], FILTERS["hostile value"]
    )
    assert_valid_retrieve(envelope)


def test_hostile_continue_request_id_is_valid():
    assert_valid_retrieve(continue_envelope(HOSTILE, HOSTILE, HOSTILE))


def test_validator_rejects_children_out_of_schema_order():
    envelope = retrieve_envelope("t", "Send", ["ID"], options=RetrieveOptions(query_all_accounts=True))
    moved = envelope.replace(b"<QueryAllAccounts>true</QueryAllAccounts>", b"").replace(
        b"<ObjectType>", b"<QueryAllAccounts>true</QueryAllAccounts><ObjectType>"
    )
    with pytest.raises(AssertionError, match="QueryAllAccounts': This element is not expected"):
        assert_valid_retrieve(moved)


def test_validator_rejects_a_continue_request_without_object_type():
    envelope = continue_envelope("t", "r1").replace(b"<ObjectType></ObjectType>", b"")
    with pytest.raises(AssertionError, match="ContinueRequest': This element is not expected"):
        assert_valid_retrieve(envelope)


def test_validator_rejects_a_date_value_that_is_not_a_date():
    envelope = retrieve_envelope(
        "t", "Send", ["ID"], SimpleFilter("SentDate", "greaterThan", ("yesterday",), dates=True)
    )
    with pytest.raises(AssertionError, match="not a valid value of the atomic type 'xs:dateTime'"):
        assert_valid_retrieve(envelope)


def test_validator_rejects_an_envelope_without_token():
    envelope = retrieve_envelope("t", "Send", ["ID"]).replace(b">t</fueloauth>", b"></fueloauth>")
    with pytest.raises(AssertionError, match="no fueloauth token"):
        assert_valid_retrieve(envelope)
