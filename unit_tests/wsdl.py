"""Validation of Retrieve envelopes against the partner API schema embedded in SFMC's WSDL.

The WSDL is found through the `SFMC_WSDL` environment variable, else at `<repo>/../shared/sfmc/etframework.wsdl`.
Its `<types>` schema imports `ETFrameworkFault.xsd` from an unreachable URL; the stub of that name beside the
WSDL stands in for it. Without the WSDL, tests that need it are skipped: mark them `requires_wsdl`, and
`assert_valid_retrieve` skips the calling test by itself.
"""

from __future__ import annotations

import copy
import os
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
PARTNER_API = "http://exacttarget.com/wsdl/partnerAPI"
FUEL_OAUTH = "{http://exacttarget.com}fueloauth"
_WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
_XSD_NS = "http://www.w3.org/2001/XMLSchema"
_FAULT_STUB = "ETFrameworkFault.xsd"


def wsdl_path() -> Path:
    configured = os.environ.get("SFMC_WSDL")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[1].parent / "shared" / "sfmc" / "etframework.wsdl"


requires_wsdl = pytest.mark.skipif(
    not wsdl_path().is_file(), reason=f"SFMC WSDL not found at {wsdl_path()} (set SFMC_WSDL)"
)


@cache
def partner_api_schema() -> etree.XMLSchema:
    """The WSDL's `types` schema with its fault import pointed at the local stub."""
    path = wsdl_path()
    if not path.is_file():
        pytest.skip(f"SFMC WSDL not found at {path} (set SFMC_WSDL)")
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    wsdl = etree.parse(str(path), parser)
    embedded = wsdl.find(f"{{{_WSDL_NS}}}types/{{{_XSD_NS}}}schema")
    # A standalone copy must declare every prefix the embedded schema inherits from the WSDL, because type
    # references such as `tns:ClientID` are resolved against the declarations in scope.
    schema = etree.Element(embedded.tag, attrib=dict(embedded.attrib), nsmap=embedded.nsmap)
    schema.extend(copy.deepcopy(child) for child in embedded)
    for schema_import in schema.iterfind(f"{{{_XSD_NS}}}import"):
        schema_import.set("schemaLocation", (path.parent / _FAULT_STUB).resolve().as_uri())
    return etree.XMLSchema(schema)


def parse_envelope(envelope: bytes) -> etree._Element:
    """The envelope as an lxml tree, parsed without entity resolution or network access."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.fromstring(envelope, parser)


def assert_valid_retrieve(envelope: bytes) -> None:
    """Fail unless `envelope` is a SOAP 1.1 envelope with a fueloauth header and a schema-valid Retrieve."""
    root = parse_envelope(envelope)
    assert root.tag == f"{{{SOAP_ENV}}}Envelope", f"root is {root.tag}, not a SOAP 1.1 Envelope"
    token = root.find(f"{{{SOAP_ENV}}}Header/{FUEL_OAUTH}")
    assert token is not None and token.text, "no fueloauth token in the SOAP header"
    message = root.find(f"{{{SOAP_ENV}}}Body/{{{PARTNER_API}}}RetrieveRequestMsg")
    assert message is not None, "no RetrieveRequestMsg in the SOAP body"
    schema = partner_api_schema()
    if not schema.validate(message):
        errors = "\n".join(f"  line {e.line}: {e.message}" for e in schema.error_log)
        raise AssertionError(f"RetrieveRequestMsg does not match the WSDL schema:\n{errors}")


def assert_valid_message(message: etree._Element) -> None:
    """Fail unless `message` (a body element of the partner API: a request or a response) is schema-valid."""
    schema = partner_api_schema()
    if not schema.validate(message):
        errors = "\n".join(f"  line {e.line}: {e.message}" for e in schema.error_log)
        raise AssertionError(f"{etree.QName(message).localname} does not match the WSDL schema:\n{errors}")


@cache
def _complex_types() -> dict[str, etree._Element]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    wsdl = etree.parse(str(wsdl_path()), parser)
    return {node.get("name"): node for node in wsdl.iter(f"{{{_XSD_NS}}}complexType") if node.get("name")}


def wsdl_members(type_name: str) -> dict[str, str]:
    """The elements a WSDL complex type declares, its ancestors' included: element name -> local type name."""
    node = _complex_types().get(type_name)
    if node is None:
        return {}
    members: dict[str, str] = {}
    extension = node.find(f"{{{_XSD_NS}}}complexContent/{{{_XSD_NS}}}extension")
    if extension is not None:
        members.update(wsdl_members(extension.get("base", "").rpartition(":")[2]))
    for element in node.iter(f"{{{_XSD_NS}}}element"):
        if element.get("name"):
            members[element.get("name")] = (element.get("type") or "").rpartition(":")[2]
    return members
