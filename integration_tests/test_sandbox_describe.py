"""The sandbox answers Describe like SFMC: a DefinitionResponseMsg per asked type from its object model, members it
cannot retrieve marked so, and an account's unretrievable members both described and refused by Retrieve."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest
from lxml import etree

from integration_tests.sandbox.soap import SoapService, build_soap_data
from integration_tests.test_sandbox_soap import call, envelope, retrieve
from unit_tests.wsdl import SOAP_ENV, assert_valid_message, requires_wsdl

PARTNER = "{http://exacttarget.com/wsdl/partnerAPI}"
DESCRIBE = {"SOAPAction": "Describe"}


def describe_envelope(*object_types: str, token: str = "good") -> bytes:
    """`DefinitionRequestMsg/DescribeRequests/ObjectDefinitionRequest/ObjectType`, as the WSDL names them."""
    asked = "".join(
        f"<ObjectDefinitionRequest><ObjectType>{t}</ObjectType></ObjectDefinitionRequest>" for t in object_types
    )
    return (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
        f'<s:Header><fueloauth xmlns="http://exacttarget.com">{token}</fueloauth></s:Header><s:Body>'
        f'<DefinitionRequestMsg xmlns="http://exacttarget.com/wsdl/partnerAPI"><DescribeRequests>{asked}'
        "</DescribeRequests></DefinitionRequestMsg></s:Body></s:Envelope>"
    ).encode()


def definitions(body: bytes) -> dict[str, dict[str, bool]]:
    root = ET.fromstring(body)
    return {
        d.findtext(f"{PARTNER}ObjectType"): {
            p.findtext(f"{PARTNER}Name"): p.findtext(f"{PARTNER}IsRetrievable") == "true"
            for p in d.findall(f"{PARTNER}Properties")
        }
        for d in root.iter(f"{PARTNER}ObjectDefinition")
    }


@pytest.fixture(scope="module")
def data():
    return build_soap_data(seed=42, scale=0.1)


def test_describe_lists_each_asked_types_members_and_which_are_retrievable(data) -> None:
    answer = call(SoapService(data), describe_envelope("Subscriber", "SentEvent"), headers=DESCRIBE)
    assert answer.http_status == 200
    found = definitions(answer.body)
    assert found["Subscriber"]["SubscriberKey"] is True
    assert found["Subscriber"]["ModifiedDate"] is False  # a member SFMC refuses to retrieve on Subscriber
    assert found["SentEvent"]["EventDate"] is True


def test_describe_of_an_unknown_type_has_no_properties(data) -> None:
    answer = call(SoapService(data), describe_envelope("NoSuchThing"), headers=DESCRIBE)
    assert definitions(answer.body) == {"NoSuchThing": {}}


def test_describe_with_an_expired_token_is_a_security_fault(data) -> None:
    answer = call(SoapService(data), describe_envelope("Send"), headers=DESCRIBE, token_state="expired")
    assert answer.http_status == 500
    assert answer.fault[1] == "Token Expired"


def test_an_accounts_unretrievable_member_is_described_so_and_refused_by_retrieve(data) -> None:
    service = SoapService(data, unretrievable={"Send": ["FromName"]})
    assert definitions(call(service, describe_envelope("Send"), headers=DESCRIBE).body)["Send"]["FromName"] is False
    refused = call(service, envelope(retrieve("Send", ["ID", "FromName"])))
    assert refused.status == "Error: The Request Property(s) FromName do not match with the fields of Send retrieve"


@requires_wsdl
def test_describe_answer_is_valid_against_the_wsdl(data) -> None:
    answer = call(SoapService(data), describe_envelope("Send", "ListSubscriber", "Nope"), headers=DESCRIBE)
    root = etree.fromstring(answer.body)
    assert_valid_message(root.find(f"{{{SOAP_ENV}}}Body")[0])
