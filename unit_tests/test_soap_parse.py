"""Retrieve responses and SOAP faults -> plain values; broken or hostile bodies are refused whole."""

import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from source_sfmc.soap.parse import MalformedResponse, RetrievePage, SoapFault, parse_fault, parse_retrieve

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def soap_envelope(body_xml: str, prefix: str = "soap") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><{prefix}:Envelope xmlns:{prefix}="{SOAP}" xmlns:xsi="{XSI}">'
        f"<{prefix}:Header><wsa:Action xmlns:wsa='http://schemas.xmlsoap.org/ws/2004/08/addressing'>"
        f"RetrieveResponse</wsa:Action></{prefix}:Header>"
        f"<{prefix}:Body>{body_xml}</{prefix}:Body></{prefix}:Envelope>"
    ).encode()


def results_envelope(*results_xml: str, status: str = "OK", request_id: str | None = "r1") -> bytes:
    request_id_xml = "" if request_id is None else f"<RequestID>{request_id}</RequestID>"
    return soap_envelope(
        '<RetrieveResponseMsg xmlns="http://exacttarget.com/wsdl/partnerAPI">'
        f"<OverallStatus>{status}</OverallStatus>{request_id_xml}{''.join(results_xml)}</RetrieveResponseMsg>"
    )


def result(inner_xml: str, object_type: str = "SentEvent") -> str:
    return f'<Results xsi:type="{object_type}">{inner_xml}</Results>'


def name_value(element: str, name: str, value: str) -> str:
    return f"<{element}><Name>{name}</Name><Value>{value}</Value></{element}>"


def fault_envelope(code: str, message: str, detail_xml: str = "", code_ns: str = "") -> bytes:
    return soap_envelope(
        f"<soap:Fault><faultcode{code_ns}>{code}</faultcode><faultstring>{message}</faultstring>"
        f"<faultactor>https://mc.example/Service.asmx</faultactor>{detail_xml}</soap:Fault>"
    )


def only_record(body: bytes) -> dict:
    [record] = parse_retrieve(body).results
    return record


# -- page ----------------------------------------------------------------------------------------------------
def test_status_and_request_id_are_read():
    page = parse_retrieve(results_envelope(status="MoreDataAvailable", request_id="e5b8151e"))
    assert page == RetrievePage(overall_status="MoreDataAvailable", request_id="e5b8151e", results=[])


def test_missing_request_id_is_none():
    assert parse_retrieve(results_envelope(request_id=None)).request_id is None


def test_no_results_element_gives_an_empty_list():
    assert parse_retrieve(results_envelope()).results == []


def test_one_results_element_gives_a_list_of_one():
    assert parse_retrieve(results_envelope(result("<SendID>1</SendID>"))).results == [{"SendID": "1"}]


def test_many_results_elements_give_a_list_in_document_order():
    body = results_envelope(*(result(f"<SendID>{n}</SendID>") for n in range(3)))
    assert parse_retrieve(body).results == [{"SendID": "0"}, {"SendID": "1"}, {"SendID": "2"}]


def test_empty_results_element_is_an_empty_record():
    assert parse_retrieve(results_envelope('<Results xsi:type="SentEvent"/>')).results == [{}]


def test_error_status_is_returned_as_is():
    status = "Error: The Request Property(s) Foo do not match with the fields of SentEvent retrieve"
    assert parse_retrieve(results_envelope(status=status)).overall_status == status


# -- values --------------------------------------------------------------------------------------------------
def test_nil_element_is_none():
    assert only_record(results_envelope(result('<PartnerKey xsi:nil="true" />'))) == {"PartnerKey": None}


def test_empty_element_is_none():
    assert only_record(results_envelope(result("<Description></Description>"))) == {"Description": None}


def test_nested_element_is_a_nested_dict():
    assert only_record(results_envelope(result("<Client><ID>7281234</ID></Client>"))) == {"Client": {"ID": "7281234"}}


def test_repeated_element_is_a_list():
    record = only_record(results_envelope(result("<Tag>a</Tag><Tag>b</Tag>")))
    assert record == {"Tag": ["a", "b"]}


def test_attributes_such_as_xsi_type_are_dropped():
    record = only_record(results_envelope(result('<List xsi:type="List"><ID>5</ID></List>')))
    assert record == {"List": {"ID": "5"}}


def test_unknown_elements_are_kept():
    assert only_record(results_envelope(result("<SomethingNew>x</SomethingNew>"))) == {"SomethingNew": "x"}


def test_escaped_text_and_cdata_are_decoded():
    record = only_record(results_envelope(result("<A>a&lt;b&amp;c&#233;</A><B><![CDATA[<x>]]></B>")))
    assert record == {"A": "a<b&cé", "B": "<x>"}


def test_whitespace_inside_values_is_kept():
    assert only_record(results_envelope(result("<A>  two  spaces  </A>"))) == {"A": "  two  spaces  "}


def test_pretty_printed_document_leaves_no_formatting_text():
    indented = "\n    <Client>\n      <ID>1</ID>\n    </Client>\n    <SendID>2</SendID>\n  "
    body = results_envelope("\n  " + result(indented) + "\n")
    assert only_record(body) == {"Client": {"ID": "1"}, "SendID": "2"}


def test_non_ascii_values_survive():
    assert only_record(results_envelope(result("<EmailName>Grüße 🎉</EmailName>"))) == {"EmailName": "Grüße 🎉"}


def test_non_utf8_declared_encoding_is_honoured():
    body = results_envelope(result("<EmailName>Grüße</EmailName>")).decode().replace("utf-8", "iso-8859-1")
    assert only_record(body.encode("iso-8859-1")) == {"EmailName": "Grüße"}


# -- Name/Value lists ----------------------------------------------------------------------------------------
def test_subscriber_attributes_become_one_object():
    pairs = name_value("Attributes", "First Name", "Ann") + name_value("Attributes", "Zip", "10115")
    record = only_record(results_envelope(result(pairs)))
    assert record == {"Attributes": {"First Name": "Ann", "Zip": "10115"}}


def test_a_single_attribute_becomes_an_object_too():
    assert only_record(results_envelope(result(name_value("Attributes", "Zip", "10115")))) == {
        "Attributes": {"Zip": "10115"}
    }


def test_partner_properties_become_one_object():
    pairs = name_value("PartnerProperties", "ListID", "12") + name_value("PartnerProperties", "SubscriberID", "9")
    record = only_record(results_envelope(result(pairs)))
    assert record == {"PartnerProperties": {"ListID": "12", "SubscriberID": "9"}}


def test_nil_attribute_value_is_none():
    body = results_envelope(result('<Attributes><Name>Zip</Name><Value xsi:nil="true"/></Attributes>'))
    assert only_record(body) == {"Attributes": {"Zip": None}}


def test_data_extension_row_properties_become_one_object():
    email = name_value("Property", "EMAIL", "a@example.com")
    joined = name_value("Property", "Joined", "6/23/2024 12:00:00 AM")
    row = f'<PartnerKey xsi:nil="true"/><Type>DataExtensionObject</Type><Properties>{email}{joined}</Properties>'
    body = results_envelope(result(row, "DataExtensionObject"))
    assert only_record(body) == {
        "PartnerKey": None,
        "Type": "DataExtensionObject",
        "Properties": {"EMAIL": "a@example.com", "Joined": "6/23/2024 12:00:00 AM"},
    }


def test_data_extension_row_with_one_property():
    body = results_envelope(result(f"<Properties>{name_value('Property', 'EMAIL', 'a@example.com')}</Properties>"))
    assert only_record(body) == {"Properties": {"EMAIL": "a@example.com"}}


def test_name_value_lists_inside_nested_objects_are_flattened():
    body = results_envelope(result(f"<Subscriber>{name_value('Attributes', 'Zip', '10115')}</Subscriber>"))
    assert only_record(body) == {"Subscriber": {"Attributes": {"Zip": "10115"}}}


def test_attributes_not_shaped_as_name_value_pairs_are_left_alone():
    assert only_record(results_envelope(result("<Attributes><Other>x</Other></Attributes>"))) == {
        "Attributes": [{"Other": "x"}]
    }


# -- namespaces ----------------------------------------------------------------------------------------------
def test_envelope_prefix_does_not_matter():
    body = soap_envelope(
        '<RetrieveResponseMsg xmlns="http://exacttarget.com/wsdl/partnerAPI"><OverallStatus>OK</OverallStatus>'
        f"{result('<ID>1</ID>')}</RetrieveResponseMsg>",
        prefix="s",
    )
    assert parse_retrieve(body).results == [{"ID": "1"}]


def test_prefixed_partner_elements_read_by_local_name():
    body = soap_envelope(
        '<q1:RetrieveResponseMsg xmlns:q1="http://exacttarget.com/wsdl/partnerAPI"><q1:OverallStatus>OK</q1:OverallStatus>'
        "<q1:RequestID>r9</q1:RequestID>"
        '<q1:Results xsi:type="q1:SentEvent"><q1:Client><q1:ID>7</q1:ID></q1:Client>'
        "<q1:PartnerProperties><q1:Name>ListID</q1:Name><q1:Value>12</q1:Value></q1:PartnerProperties></q1:Results>"
        "</q1:RetrieveResponseMsg>"
    )
    assert parse_retrieve(body) == RetrievePage(
        "OK", "r9", [{"Client": {"ID": "7"}, "PartnerProperties": {"ListID": "12"}}]
    )


# -- malformed bodies ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(results_envelope(result("<ID>1</ID>"), result("<ID>2</ID>"))[:-40], id="truncated"),
        pytest.param(b"<html><body><h1>502 Bad Gateway</h1></body></html>", id="html"),
        pytest.param(b"<html><body>unclosed<br></body></html>", id="html that is not xml"),
        pytest.param(b'{"message": "Not Authorized"}', id="json"),
        pytest.param(b"<Envelope><Header/></Envelope>", id="no body"),
        pytest.param(soap_envelope("<SomethingElse/>"), id="no retrieve response"),
        pytest.param(
            soap_envelope("<RetrieveResponseMsg><RequestID>r</RequestID></RetrieveResponseMsg>"), id="no status"
        ),
        pytest.param(results_envelope("<Results>text</Results>"), id="results with text"),
        pytest.param(results_envelope() + b"<junk/>", id="junk after the envelope"),
        pytest.param(fault_envelope("soap:Server", "Rate Limited"), id="fault"),
    ],
)
def test_malformed_response_is_refused(body):
    with pytest.raises(MalformedResponse):
        parse_retrieve(body)


def test_truncated_page_yields_no_partial_results():
    body = results_envelope(*(result(f"<ID>{n}</ID>") for n in range(100)))
    with pytest.raises(MalformedResponse, match="not well-formed"):
        parse_retrieve(body[: len(body) // 2])


def test_external_entity_is_never_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
        + results_envelope(result("<EmailName>&xxe;</EmailName>")).decode().split("?>", 1)[1]
    ).encode()
    with pytest.raises(MalformedResponse, match="document type declarations are not allowed") as refused:
        parse_retrieve(body)
    assert "TOP-SECRET" not in str(refused.value)


def test_entity_expansion_bomb_is_refused():
    entities = '<!ENTITY lol0 "lol">' + "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))
    body = (
        f"<?xml version='1.0'?><!DOCTYPE r [{entities}]>"
        + results_envelope(result("<EmailName>&lol9;</EmailName>")).decode().split("?>", 1)[1]
    ).encode()
    with pytest.raises(MalformedResponse, match="document type declarations are not allowed"):
        parse_retrieve(body)


def test_undeclared_entity_is_refused():
    with pytest.raises(MalformedResponse, match="undefined entity"):
        parse_retrieve(results_envelope(result("<EmailName>&nbsp;</EmailName>")))


# -- faults --------------------------------------------------------------------------------------------------
def test_expired_token_fault():
    body = fault_envelope(
        "q0:Security",
        "Token Expired",
        code_ns=' xmlns:q0="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"',
    )
    assert parse_fault(body) == SoapFault(code="Security", message="Token Expired", api_code=None)


def test_rate_limited_fault_carries_the_api_code():
    detail = (
        '<detail><apifault xmlns="urn:fault.partner.exacttarget.com"><Code>17</Code>'
        "<Message>Rate Limited</Message></apifault></detail>"
    )
    assert parse_fault(fault_envelope("soap:Server", "Rate Limited", detail)) == SoapFault("Server", "Rate Limited", 17)


def test_client_fault():
    message = "Server did not recognize the value of HTTP Header SOAPAction: Foo."
    assert parse_fault(fault_envelope("soap:Client", message)) == SoapFault("Client", message, None)


def test_soap_12_fault():
    body = (
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault>'
        b"<s:Code><s:Value>s:Receiver</s:Value></s:Code>"
        b"<s:Reason><s:Text xml:lang='en'>Rate Limited</s:Text></s:Reason>"
        b'<s:Detail><fault xmlns="urn:fault.partner.exacttarget.com"><Code>17</Code></fault></s:Detail>'
        b"</s:Fault></s:Body></s:Envelope>"
    )
    assert parse_fault(body) == SoapFault("Receiver", "Rate Limited", 17)


def test_retrieve_response_is_not_a_fault():
    assert parse_fault(results_envelope(result("<ID>1</ID>"))) is None


@pytest.mark.parametrize("body", [b"", b"<html>502</html>", b"<soap:Envelope", b'{"message": "x"}'])
def test_unreadable_body_is_not_a_fault(body):
    assert parse_fault(body) is None


# -- limits: what the parser cannot take is a MalformedResponse that says why -------------------------------
def nested(depth: int, leaf: str = "x") -> str:
    return "<N>" * depth + leaf + "</N>" * depth


def test_whitespace_only_results_element_is_an_empty_record():
    body = results_envelope('<Results xsi:type="SentEvent">\n    \t </Results>')
    assert parse_retrieve(body).results == [{}]


def test_two_hundred_thousand_nested_elements_are_refused_with_their_cause():
    with pytest.raises(MalformedResponse, match="nested more than 64 levels deep"):
        parse_retrieve(results_envelope(result(nested(200_000))))


def test_nesting_up_to_the_limit_is_read():
    record = only_record(results_envelope(result(nested(63))))
    for _ in range(62):
        record = record["N"]
    assert record == {"N": "x"}


def test_deep_name_value_lists_count_towards_the_depth_limit():
    deep = nested(200, "<Name>a</Name><Value>b</Value>").replace("<N>", "<Attributes>").replace("</N>", "</Attributes>")
    with pytest.raises(MalformedResponse, match="nested more than"):
        parse_retrieve(results_envelope(result(deep)))


def test_unknown_encoding_is_refused_with_its_cause():
    body = results_envelope(result("<ID>1</ID>")).replace(b'encoding="utf-8"', b'encoding="x-klingon"')
    with pytest.raises(MalformedResponse, match="encoding that cannot be read"):
        parse_retrieve(body)


def test_bytes_that_are_not_the_declared_encoding_are_refused():
    with pytest.raises(MalformedResponse, match="not well-formed"):
        parse_retrieve(results_envelope(result("<ID>1</ID>")).replace(b"<ID>1", b"<ID>\xff\xfe"))


def test_a_body_over_the_size_limit_is_refused_before_parsing(monkeypatch):
    body = results_envelope(*(result(f"<ID>{n}</ID>") for n in range(50)))
    monkeypatch.setattr("source_sfmc.soap.parse.MAX_BODY_BYTES", len(body) - 1)
    with pytest.raises(MalformedResponse, match="more than the 0 MiB one page may be"):
        parse_retrieve(body)


@settings(max_examples=60, deadline=None)
@given(depth=st.integers(min_value=1, max_value=3000), wrapper=st.sampled_from(["N", "Attributes", "Properties"]))
def test_any_nesting_parses_or_is_refused_never_crashes(depth, wrapper):
    inner = nested(depth).replace("<N>", f"<{wrapper}>").replace("</N>", f"</{wrapper}>")
    try:
        parse_retrieve(results_envelope(result(inner)))
    except MalformedResponse as refused:
        assert "nested more than" in str(refused)


# -- one pass: results become records while the body is parsed --------------------------------------------
def test_each_result_is_turned_into_a_record_by_the_given_function():
    body = results_envelope(result("<ID>1</ID>"), result("<ID>2</ID>"))
    page = parse_retrieve(body, record=lambda raw: {"id": int(raw["ID"])})
    assert page.results == [{"id": 1}, {"id": 2}]


def test_the_record_function_sees_normalised_results():
    seen = []
    body = results_envelope(result(name_value("Attributes", "Zip", "10115") + "<q:ID xmlns:q='urn:x'>3</q:ID>"))
    parse_retrieve(body, record=lambda raw: seen.append(raw) or raw)
    assert seen == [{"Attributes": {"Zip": "10115"}, "ID": "3"}]


def test_a_truncated_page_returns_no_records_even_if_some_were_made():
    made = []
    body = results_envelope(*(result(f"<ID>{n}</ID>") for n in range(100)))
    with pytest.raises(MalformedResponse, match="not well-formed"):
        parse_retrieve(body[: len(body) // 2], record=lambda raw: made.append(raw) or raw)
    assert made  # records were made while parsing, and none of them was returned


def test_header_blocks_are_not_results():
    body = soap_envelope(
        '<RetrieveResponseMsg xmlns="http://exacttarget.com/wsdl/partnerAPI"><OverallStatus>OK</OverallStatus>'
        f"{result('<ID>1</ID>')}</RetrieveResponseMsg>"
    ).replace(
        b"</soap:Header>",
        b"<Security><Timestamp><Results>not a result</Results></Timestamp></Security></soap:Header>",
    )
    assert parse_retrieve(body).results == [{"ID": "1"}]


def test_deep_nesting_outside_results_is_refused_too():
    body = results_envelope(result("<ID>1</ID>")).replace(
        b"</soap:Header>", b"<Security>" + nested(100).encode() + b"</Security></soap:Header>"
    )
    with pytest.raises(MalformedResponse, match="nested more than 64 levels deep"):
        parse_retrieve(body)


def test_deep_nesting_is_refused_as_it_opens_before_it_is_built():
    body = results_envelope(result(nested(300_000)))
    tracemalloc.start()
    try:
        with pytest.raises(MalformedResponse, match="nested more than 64 levels deep"):
            parse_retrieve(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20  # building 300,000 nested dicts first takes well over 100 MiB


def test_more_data_available_without_a_request_id_is_refused():
    body = results_envelope(result("<ID>1</ID>"), status="MoreDataAvailable", request_id=None)
    with pytest.raises(MalformedResponse, match="MoreDataAvailable but there is no RequestID"):
        parse_retrieve(body)


def test_more_data_available_with_an_empty_request_id_is_refused():
    body = results_envelope(result("<ID>1</ID>"), status="MoreDataAvailable", request_id="")
    with pytest.raises(MalformedResponse, match="MoreDataAvailable but there is no RequestID"):
        parse_retrieve(body)
