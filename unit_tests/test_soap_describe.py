"""Describe: the request is WSDL-valid, the answer is read into retrievable properties, and the properties a stream
asks for are chosen from it (dropping the ones the account cannot retrieve)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from source_sfmc.soap.describe import ObjectDefinition, choose_properties, describe_envelope, parse_describe
from source_sfmc.soap.parse import MalformedResponse
from source_sfmc.soap.streams import SOAP_OBJECTS, soap_properties
from source_sfmc.stream_base import load_schema
from unit_tests.wsdl import PARTNER_API, SOAP_ENV, assert_valid_message, parse_envelope, requires_wsdl, wsdl_members


def a_definition_response(*definitions: tuple[str, list[tuple[str, bool]]], prefix: str = "") -> bytes:
    """A DefinitionResponseMsg with the WSDL's element names (ObjectDefinition/Properties/Name, IsRetrievable)."""
    p = f"{prefix}:" if prefix else ""
    xmlns = f"xmlns:{prefix}" if prefix else "xmlns"
    parts = []
    for object_type, properties in definitions:
        props = "".join(
            f"<{p}Properties><{p}Name>{name}</{p}Name><{p}DataType>String</{p}DataType>"
            f"<{p}IsRetrievable>{str(ok).lower()}</{p}IsRetrievable></{p}Properties>"
            for name, ok in properties
        )
        parts.append(f"<{p}ObjectDefinition><{p}ObjectType>{object_type}</{p}ObjectType>{props}</{p}ObjectDefinition>")
    return (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        f'<{p}DefinitionResponseMsg {xmlns}="http://exacttarget.com/wsdl/partnerAPI">{"".join(parts)}'
        f"<{p}RequestID>r1</{p}RequestID></{p}DefinitionResponseMsg></soap:Body></soap:Envelope>"
    ).encode()


@requires_wsdl
def test_describe_request_is_valid_against_the_wsdl():
    root = parse_envelope(describe_envelope("tok<&>", ["ListSubscriber", "Send"]))
    assert_valid_message(root.find(f"{{{SOAP_ENV}}}Body/{{{PARTNER_API}}}DefinitionRequestMsg"))


@pytest.mark.parametrize("prefix", ["", "par"])
def test_describe_answer_gives_each_property_and_whether_it_is_retrievable(prefix):
    body = a_definition_response(("Subscriber", [("SubscriberKey", True), ("ModifiedDate", False)]), prefix=prefix)
    assert parse_describe(body) == {
        "Subscriber": ObjectDefinition("Subscriber", {"SubscriberKey": True, "ModifiedDate": False})
    }


def test_describe_answer_of_several_types_keeps_them_apart():
    body = a_definition_response(("Send", [("ID", True)]), ("List", [("ListName", True)]))
    assert set(parse_describe(body)) == {"Send", "List"}


def test_a_retrieve_answer_is_not_a_describe_answer():
    body = b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><RetrieveResponseMsg/></s:Body></s:Envelope>'
    with pytest.raises(MalformedResponse):
        parse_describe(body)


def test_a_describe_answer_with_a_doctype_is_refused():
    with pytest.raises(MalformedResponse):
        parse_describe(b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')


def test_properties_not_retrievable_or_not_members_are_dropped_in_schema_order():
    definition = ObjectDefinition("ListSubscriber", {"ListID": True, "Status": True, "CreatedDate": False})
    choice = choose_properties(["CreatedDate", "ListID", "UnsubscribedDate", "Status"], definition)
    assert choice.requested == ("ListID", "Status")
    assert choice.dropped == ("CreatedDate", "UnsubscribedDate")


def test_a_dotted_property_is_retrievable_when_describe_lists_it_or_its_parent():
    definition = ObjectDefinition("Send", {"Client.ID": True, "Email": True, "List": False})
    choice = choose_properties(["Client.ID", "Email.ID", "List.ID"], definition)
    assert (choice.requested, choice.dropped) == (("Client.ID", "Email.ID"), ("List.ID",))


@pytest.mark.parametrize("definition", [None, ObjectDefinition("Foo", {})], ids=["no definition", "no properties"])
def test_without_a_definition_every_property_is_requested(definition):
    assert choose_properties(["A", "B"], definition).requested == ("A", "B")


@requires_wsdl
@pytest.mark.parametrize("spec", SOAP_OBJECTS, ids=[spec.stream_name for spec in SOAP_OBJECTS])
def test_every_property_a_stream_requests_is_a_member_of_its_type_in_the_wsdl(spec):
    members = wsdl_members(spec.object_type)
    assert members, f"{spec.object_type} is not a type of the WSDL"
    for name in soap_properties(load_schema(spec.schema_name or spec.stream_name)):
        parent, _, child = name.partition(".")
        assert parent in members, f"{spec.object_type}.{parent} is not in the WSDL"
        if child:
            assert child in wsdl_members(members[parent]), f"{spec.object_type}.{name} is not in the WSDL"


names = st.text(alphabet=st.characters(categories=("Lu", "Ll", "Nd")), min_size=1, max_size=12)


@given(
    wanted=st.lists(st.one_of(names, st.tuples(names, names).map(".".join)), unique=True, max_size=12),
    members=st.dictionaries(names, st.booleans(), min_size=1, max_size=12),
)
def test_the_choice_splits_the_wanted_properties_in_order_and_keeps_only_retrievable_ones(wanted, members):
    choice = choose_properties(wanted, ObjectDefinition("T", members))
    assert sorted(choice.requested + choice.dropped, key=wanted.index) == wanted
    assert list(choice.requested) == [name for name in wanted if name in choice.requested]
    for name in choice.requested:
        assert members.get(name, members.get(name.partition(".")[0])) is True


@pytest.mark.parametrize(("written", "retrievable"), [("1", True), (" true ", True), ("0", False), ("false", False)])
def test_is_retrievable_is_read_as_an_xsd_boolean(written, retrievable):
    body = a_definition_response(("Send", [("ID", True)])).replace(
        b"<IsRetrievable>true</IsRetrievable>", f"<IsRetrievable>{written}</IsRetrievable>".encode()
    )
    assert parse_describe(body)["Send"].properties == {"ID": retrievable}


def test_a_describe_answer_in_an_unknown_encoding_is_refused_with_its_cause():
    body = (
        b'<?xml version="1.0" encoding="x-klingon"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        b"<soap:Body><DefinitionResponseMsg/></soap:Body></soap:Envelope>"
    )
    with pytest.raises(MalformedResponse, match="encoding that cannot be read"):
        parse_describe(body)


def test_a_deeply_nested_describe_answer_is_refused():
    body = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><DefinitionResponseMsg>'
        + b"<ObjectDefinition>" * 100_000
        + b"</ObjectDefinition>" * 100_000
        + b"</DefinitionResponseMsg></soap:Body></soap:Envelope>"
    )
    with pytest.raises(MalformedResponse, match="nested more than"):
        parse_describe(body)
