"""Retrieve envelopes: structure, order, filters, options, escaping and token replacement."""

import pytest
from lxml import etree

from source_sfmc.soap.envelope import (
    SOAP_ACTION_HEADERS,
    ComplexFilter,
    RetrieveOptions,
    SimpleFilter,
    all_of,
    continue_envelope,
    requested_object_type,
    retrieve_envelope,
    with_token,
)
from unit_tests.wsdl import FUEL_OAUTH, PARTNER_API, SOAP_ENV, parse_envelope

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
HOSTILE = ["a<b", "a&b", "a\"b'c", "ä€𝄞 data", "x]]>y", "<![CDATA[z]]>", "&amp;", "line\r\nbreak\ttab", " padded "]
NOT_XML = ["nul\x00", "escape\x1b", "bell\x07", "nonchar\ufffe", "surrogate\ud800"]


def request_of(envelope: bytes) -> etree._Element:
    return parse_envelope(envelope).find(
        f"{{{SOAP_ENV}}}Body/{{{PARTNER_API}}}RetrieveRequestMsg/{{{PARTNER_API}}}RetrieveRequest"
    )


def local(element: etree._Element) -> str:
    return etree.QName(element).localname


def texts(element: etree._Element, name: str) -> list[str]:
    return [child.text or "" for child in element.findall(f"{{{PARTNER_API}}}{name}")]


def child(element: etree._Element, name: str) -> etree._Element:
    found = element.find(f"{{{PARTNER_API}}}{name}")
    assert found is not None, f"no {name} under {local(element)}"
    return found


def sent_events(filter=None, options=None, token="tok") -> bytes:
    return retrieve_envelope(token, "SentEvent", ["SendID", "EventDate"], filter, options or RetrieveOptions())


def test_token_travels_in_the_fueloauth_header():
    header = parse_envelope(sent_events(token="abc.def")).find(f"{{{SOAP_ENV}}}Header")
    assert [(child.tag, child.text) for child in header] == [(FUEL_OAUTH, "abc.def")]


def test_envelope_is_utf8_with_an_xml_declaration():
    assert sent_events().startswith(b'<?xml version="1.0" encoding="utf-8"?>')


def test_object_type_then_properties_in_the_given_order():
    request = request_of(retrieve_envelope("t", "Send", ["ID", "EmailName", "SentDate"]))
    assert [(local(c), c.text) for c in request] == [
        ("ObjectType", "Send"),
        ("Properties", "ID"),
        ("Properties", "EmailName"),
        ("Properties", "SentDate"),
    ]


def test_no_filter_means_no_filter_element():
    assert request_of(sent_events()).find(f"{{{PARTNER_API}}}Filter") is None


def test_children_follow_the_schema_order_with_every_option():
    options = RetrieveOptions(client_ids=(7281234, 99), query_all_accounts=True, batch_size=500)
    request = request_of(sent_events(SimpleFilter("SendID", "equals", ("1",)), options))
    order = [local(c) for c in request]
    assert order == [
        "ClientIDs",
        "ClientIDs",
        "ObjectType",
        "Properties",
        "Properties",
        "Filter",
        "QueryAllAccounts",
        "Options",
    ]


def test_client_ids_are_id_elements():
    request = request_of(sent_events(options=RetrieveOptions(client_ids=(7281234, 99))))
    assert [texts(c, "ID") for c in request.findall(f"{{{PARTNER_API}}}ClientIDs")] == [["7281234"], ["99"]]


def test_query_all_accounts_and_batch_size():
    request = request_of(sent_events(options=RetrieveOptions(query_all_accounts=True, batch_size=2500)))
    assert texts(request, "QueryAllAccounts") == ["true"]
    assert texts(child(request, "Options"), "BatchSize") == ["2500"]


def test_default_options_add_nothing():
    request = request_of(sent_events())
    assert {local(c) for c in request} == {"ObjectType", "Properties"}


def test_simple_filter_sends_property_operator_and_values():
    f = request_of(sent_events(SimpleFilter("SendID", "IN", ("1", "2", "3"))))
    filter_element = child(f, "Filter")
    assert filter_element.get(XSI_TYPE) == "SimpleFilterPart"
    assert [(local(c), c.text) for c in filter_element] == [
        ("Property", "SendID"),
        ("SimpleOperator", "IN"),
        ("Value", "1"),
        ("Value", "2"),
        ("Value", "3"),
    ]


def test_date_filter_sends_date_values():
    dates = ("2024-01-01T00:00:00.000Z", "2024-01-31T00:00:00.000Z")
    filter_element = child(request_of(sent_events(SimpleFilter("EventDate", "between", dates, dates=True))), "Filter")
    assert texts(filter_element, "DateValue") == list(dates)
    assert texts(filter_element, "Value") == []


def test_complex_filter_nests_operands():
    inner = ComplexFilter(SimpleFilter("A", "equals", ("1",)), "OR", SimpleFilter("B", "isNull"))
    f = ComplexFilter(inner, "AND", SimpleFilter("C", "equals", ("3",)))
    filter_element = child(request_of(sent_events(f)), "Filter")
    assert filter_element.get(XSI_TYPE) == "ComplexFilterPart"
    assert [local(c) for c in filter_element] == ["LeftOperand", "LogicalOperator", "RightOperand"]
    left = child(filter_element, "LeftOperand")
    assert left.get(XSI_TYPE) == "ComplexFilterPart"
    assert texts(left, "LogicalOperator") == ["OR"]
    assert texts(child(left, "RightOperand"), "SimpleOperator") == ["isNull"]
    assert texts(child(filter_element, "RightOperand"), "Property") == ["C"]


def test_all_of_nothing_is_no_filter():
    assert all_of() is None
    assert all_of(None, None) is None


def test_all_of_one_filter_is_that_filter():
    f = SimpleFilter("A", "equals", ("1",))
    assert all_of(None, f) is f


def test_all_of_chains_with_and_from_the_left():
    a, b, c = (SimpleFilter(name, "isNotNull") for name in "ABC")
    assert all_of(a, None, b, c) == ComplexFilter(ComplexFilter(a, "AND", b), "AND", c)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_filter_value_arrives_unchanged(value):
    filter_element = child(request_of(sent_events(SimpleFilter("SubscriberKey", "equals", (value,)))), "Filter")
    assert texts(filter_element, "Value") == [value]


@pytest.mark.parametrize("key", HOSTILE)
def test_hostile_data_extension_key_arrives_unchanged(key):
    request = request_of(retrieve_envelope("t", f"DataExtensionObject[{key}]", ["EMAIL"]))
    assert texts(request, "ObjectType") == [f"DataExtensionObject[{key}]"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_property_name_arrives_unchanged(name):
    assert texts(request_of(retrieve_envelope("t", "DataExtensionObject[k]", [name])), "Properties") == [name]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_token_arrives_unchanged(value):
    assert parse_envelope(sent_events(token=value)).find(f"{{{SOAP_ENV}}}Header/{FUEL_OAUTH}").text == value


@pytest.mark.parametrize("value", NOT_XML)
def test_character_xml_cannot_carry_is_refused(value):
    with pytest.raises(ValueError, match=r"cannot be sent in XML 1\.0"):
        sent_events(SimpleFilter("SubscriberKey", "equals", (value,)))


@pytest.mark.parametrize("value", NOT_XML)
def test_character_xml_cannot_carry_is_refused_in_object_type(value):
    with pytest.raises(ValueError, match=r"cannot be sent in XML 1\.0"):
        retrieve_envelope("t", f"DataExtensionObject[{value}]", ["EMAIL"])


def test_unknown_operator_is_refused():
    with pytest.raises(ValueError, match="unknown SOAP filter operator"):
        SimpleFilter("A", "greaterThanOrEquals", ("1",))


@pytest.mark.parametrize(
    ("operator", "values"),
    [("between", ("2024-01-01T00:00:00Z",)), ("isNull", ("x",)), ("equals", ()), ("equals", ("1", "2")), ("IN", ())],
)
def test_wrong_number_of_values_is_refused(operator, values):
    with pytest.raises(ValueError, match="takes"):
        SimpleFilter("A", operator, values)


def test_a_single_string_as_values_is_refused():
    with pytest.raises(TypeError, match="sequence of strings"):
        SimpleFilter("A", "equals", "abc")


def test_non_string_value_is_refused():
    with pytest.raises(TypeError, match="must be strings"):
        SimpleFilter("A", "equals", (5,))


def test_values_given_as_a_list_become_a_tuple():
    assert SimpleFilter("A", "IN", ["1", "2"]).values == ("1", "2")


def test_unknown_logical_operator_is_refused():
    with pytest.raises(ValueError, match="AND or OR"):
        ComplexFilter(SimpleFilter("A", "isNull"), "XOR", SimpleFilter("B", "isNull"))


def test_properties_given_as_one_string_are_refused():
    with pytest.raises(TypeError, match="sequence of property names"):
        retrieve_envelope("t", "Send", "ID")


def test_no_properties_is_refused():
    with pytest.raises(ValueError, match="at least one property"):
        retrieve_envelope("t", "Send", [])


@pytest.mark.parametrize("batch_size", [0, -1, True, "100"])
def test_batch_size_must_be_a_positive_integer(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        RetrieveOptions(batch_size=batch_size)


@pytest.mark.parametrize("client_id", ["7281234", True, 1.5])
def test_client_ids_must_be_integers(client_id):
    with pytest.raises(TypeError, match="client ids"):
        RetrieveOptions(client_ids=(client_id,))


def test_continue_request_carries_the_request_id_and_an_empty_object_type():
    request = request_of(continue_envelope("t", "e5b8151e-1234"))
    assert [(local(c), c.text) for c in request] == [("ObjectType", None), ("ContinueRequest", "e5b8151e-1234")]


def test_continue_request_may_name_its_object_type_and_options():
    options = RetrieveOptions(client_ids=(5,), query_all_accounts=True, batch_size=10)
    request = request_of(continue_envelope("t", "r1", "SentEvent", options))
    assert [local(c) for c in request] == ["ClientIDs", "ObjectType", "ContinueRequest", "QueryAllAccounts", "Options"]
    assert texts(request, "ObjectType") == ["SentEvent"]


def test_with_token_equals_building_with_that_token():
    f = SimpleFilter("SubscriberKey", "equals", ("a<b",))
    assert with_token(sent_events(f, token="old"), "new<&>") == sent_events(f, token="new<&>")


def test_with_token_works_on_continue_envelopes():
    assert with_token(continue_envelope("old", "r1"), "new") == continue_envelope("new", "r1")


def test_with_token_refuses_foreign_bytes():
    with pytest.raises(ValueError, match="not an envelope built by"):
        with_token(b"<Envelope/>", "new")


def test_with_token_refuses_a_token_xml_cannot_carry():
    with pytest.raises(ValueError, match=r"cannot be sent in XML 1\.0"):
        with_token(sent_events(), "bad\x00")


def test_soap_action_headers():
    assert SOAP_ACTION_HEADERS == {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "Retrieve"}


@pytest.mark.parametrize("object_type", ["SentEvent", 'DataExtensionObject[a<b&"c"]'])
def test_the_object_type_an_envelope_asks_for_is_read_back(object_type):
    assert requested_object_type(retrieve_envelope("t", object_type, ["ID"])) == object_type
    assert requested_object_type(continue_envelope("t", "r-1", object_type)) == object_type


@pytest.mark.parametrize("body", [None, b"", b"<soap:Envelope/>"])
def test_a_body_that_asks_for_no_object_type_gives_none(body):
    assert requested_object_type(body) is None
