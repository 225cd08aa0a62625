"""Every member of a SOAP stream's WSDL type that its schema leaves out is left out on purpose, with a reason.

A member is an element of the type's sequence or of an ancestor's (`TriggeredSendDefinition` inherits
`SendDefinition`, `InteractionDefinition`, `InteractionBaseObject` and `APIObject`). A schema covers a member
when it has a top-level field of that name. Adding a field to a schema removes it from the left-out set; an
allowance for a member the schema now has fails as stale, so this list stays the true list of what is not read.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import cache

import pytest

from source_sfmc.soap.streams import (
    DATA_EXTENSION_FIELD_PROPERTIES,
    LINK_SENDS_SEND_PROPERTIES,
    SOAP_OBJECTS,
    soap_properties,
)
from source_sfmc.stream_base import load_schema
from unit_tests.wsdl import requires_wsdl, wsdl_path

pytestmark = requires_wsdl

_XS = "{http://www.w3.org/2001/XMLSchema}"

# Members of APIObject, the root of every type, left out wherever a schema does not have them.
COMMON = {
    "Owner": "request-side: the on-your-behalf owner given when creating an object, not data of the object",
    "CorrelationID": "request-side: it correlates objects across several requests of one client (APIObject "
    "reference); SFMC's SentEvent page, which lists what a SentEvent retrieve returns, does not name it, and no "
    "SFMC retrieve example or public client (FuelSDK, tap-exacttarget) reads it on any object",
    "ObjectState": "request-side: the state a client sets for an update, not stored data",
    "PartnerKey": "a key an integrating partner sets on create; SFMC answers nil for objects it creates itself",
    "PartnerProperties": "Name/Value pairs a partner sets on create; empty for objects created in Marketing Cloud "
    "(the event streams keep it: SFMC puts ListID and SubscriberID there)",
}
_EVENT_IDENTITY = (
    "tracking events have no identity or dates of their own: ID comes back 0, the others empty (PROTOCOL.md "
    "section 3); EventDate is the event's time and the key is a digest of the fields that identify it"
)
_EVENTS = {name: _EVENT_IDENTITY for name in ("CreatedDate", "ModifiedDate", "ID", "ObjectID", "CustomerKey")}
_NOT_OFFERED = "no compared connector (Fivetran, tap-exacttarget, Mage) offers it and SFMC documents no retrieve of it"
_DELIVERY = "delivery settings: sender and delivery profiles are objects of their own, not read by this connector"

# Per WSDL type: members its stream's schema leaves out, and why.
LEFT_OUT: dict[str, dict[str, str]] = {
    "List": {
        "Subscribers": "the list's members are the list_subscribers stream",
        "AutomatedEmail": "the email sent on joining a list, given on create; " + _NOT_OFFERED,
    },
    "ListSubscriber": {
        "ID": "a membership is keyed by (ListID, SubscriberKey); " + _NOT_OFFERED,
        "ObjectID": "a membership is keyed by (ListID, SubscriberKey); " + _NOT_OFFERED,
        "CustomerKey": "memberships have no external key",
    },
    "Subscriber": {
        "ModifiedDate": "not retrievable: SFMC refuses the whole retrieve (PROTOCOL.md section 3)",
        "ObjectID": "subscribers are keyed by ID and SubscriberKey; " + _NOT_OFFERED,
        "PartnerType": "a partner integration's type given on create; " + _NOT_OFFERED,
        "Lists": "the subscriber's list memberships are the list_subscribers stream",
        "GlobalUnsubscribeCategory": "request-side: how an update handles a global unsubscribe",
        "PrimaryEmailAddress": "EmailAddress and Addresses carry the subscriber's email address",
    },
    "DataExtension": {
        "ID": "data extensions have no ID (PROTOCOL.md section 3); ObjectID and CustomerKey identify them",
        "Template": "the template a data extension is created from, given on create; " + _NOT_OFFERED,
    },
    "Send": {
        "ObjectID": "sends are keyed by ID; SFMC answers neither ObjectID nor CustomerKey for a send",
        "CustomerKey": "sends are keyed by ID; SFMC answers neither ObjectID nor CustomerKey for a send",
        "List": "the lists of a send, with their own figures, are the list_sends stream",
        "Links": "the links of a send, with their clicks, are the link_sends stream",
        "Events": "a send's tracking events are the *_events streams",
        "Sources": "the audiences of a send given on create; list_sends has the lists it went to",
        "EmailSendDefinition": "the definition a send was made from, given on create; " + _NOT_OFFERED,
        "SuppressionLists": "suppression lists given on create; " + _NOT_OFFERED,
    },
    "ListSend": {
        "ModifiedDate": "not retrievable on ListSend (PROTOCOL.md section 3)",
        "ID": "a list send is keyed by (List.ID, SendID); " + _NOT_OFFERED,
        "ObjectID": "a list send is keyed by (List.ID, SendID); " + _NOT_OFFERED,
        "CustomerKey": "list sends have no external key",
        "PreviewURL": "the send's preview URL is read with the send (sends.PreviewURL)",
        "Links": "the links of a send are the link_sends stream",
        "Events": "a send's tracking events are the *_events streams",
    },
    "LinkSend": {
        "CreatedDate": "not in what SFMC's 'Retrieve All Links for a Send' retrieves (ID, SendID, Client.ID and "
        "Link's ID, URL, Alias, TotalClicks, UniqueClicks; PROTOCOL.md section 3 agrees)",
        "ModifiedDate": "not retrievable: SFMC answers that ModifiedDate is not a retrievable property of LinkSend "
        "(PROTOCOL.md section 3)",
        "ObjectID": "not in what SFMC lets a reader have of LinkSend (PROTOCOL.md section 3)",
        "CustomerKey": "not in what SFMC lets a reader have of LinkSend (PROTOCOL.md section 3)",
        "IDLong": "not in what SFMC lets a reader have of LinkSend (PROTOCOL.md section 3); ID is read",
    },
    "TriggeredSendDefinition": {
        "ID": "definitions are keyed by ObjectID and CustomerKey; " + _NOT_OFFERED,
        "Keyword": "an SMS keyword, not used by email definitions",
        "InteractionObjectID": "an internal id of the interaction; " + _NOT_OFFERED,
        "SenderProfile": _DELIVERY,
        "DeliveryProfile": _DELIVERY,
        "SourceAddressType": _DELIVERY,
        "PrivateIP": _DELIVERY,
        "DomainType": _DELIVERY,
        "PrivateDomain": _DELIVERY,
        "HeaderSalutationSource": _DELIVERY,
        "HeaderContentArea": _DELIVERY,
        "FooterSalutationSource": _DELIVERY,
        "FooterContentArea": _DELIVERY,
        "SuppressTracking": _NOT_OFFERED,
        "IsSendLogging": _NOT_OFFERED,
        "TriggeredSendType": _NOT_OFFERED,
        "BatchInterval": _NOT_OFFERED,
        "AllowedSlots": _NOT_OFFERED,
        "NewSlotTrigger": _NOT_OFFERED,
        "SendWindowDelete": _NOT_OFFERED,
        "RefreshContent": _NOT_OFFERED,
        "ExclusionFilter": _NOT_OFFERED,
        "SendSourceCustomerKey": _NOT_OFFERED,
        "ExclusionListCollection": _NOT_OFFERED,
        "CCEmail": _NOT_OFFERED,
        "SendSourceDataExtension": _NOT_OFFERED,
        "IsAlwaysOn": _NOT_OFFERED,
        "DisableOnEmailBuildError": _NOT_OFFERED,
        "PreHeader": _NOT_OFFERED,
        "ReplyToAddress": _NOT_OFFERED,
        "ReplyToDisplayName": _NOT_OFFERED,
        "TriggeredSendClass": _NOT_OFFERED,
        "TriggeredSendSubClass": _NOT_OFFERED,
    },
    "TriggeredSendSummary": {
        "CreatedDate": "a summary is a running tally with no dates of its own",
        "ModifiedDate": "a summary is a running tally with no dates of its own",
        "ID": "a summary is keyed by its definition's CustomerKey",
        "TriggeredSendDefinition": "the summary's CustomerKey is its definition's; the definition is its own stream",
    },
    **{
        event: _EVENTS
        for event in (
            "SentEvent",
            "OpenEvent",
            "ClickEvent",
            "BounceEvent",
            "UnsubEvent",
            "NotSentEvent",
            "ForwardedEmailEvent",
            "ForwardedEmailOptInEvent",
            "SurveyEvent",
        )
    },
}


@cache
def _types() -> dict[str, ET.Element]:
    root = ET.parse(wsdl_path()).getroot()
    return {t.get("name"): t for t in root.iter(f"{_XS}complexType") if t.get("name")}


def wsdl_members(type_name: str) -> set[str]:
    """Names of the elements of a type's sequence and of its ancestors' (nested anonymous types excluded)."""
    complex_type = _types()[type_name]
    extension = complex_type.find(f"{_XS}complexContent/{_XS}extension")
    owner = extension if extension is not None else complex_type
    own = {e.get("name") for e in owner.findall(f"{_XS}sequence/{_XS}element") if e.get("name")}
    inherited = wsdl_members(extension.get("base").split(":")[-1]) if extension is not None else set()
    return own | inherited


def left_out(spec) -> set[str]:
    fields = set(load_schema(spec.schema_name or spec.stream_name)["properties"])
    return wsdl_members(spec.object_type) - fields


SPECS = {spec.stream_name: spec for spec in SOAP_OBJECTS}


@pytest.mark.parametrize("stream", SPECS)
def test_every_member_the_schema_leaves_out_is_allowed_with_a_reason(stream):
    spec = SPECS[stream]
    allowed = COMMON | LEFT_OUT.get(spec.object_type, {})

    unexplained = left_out(spec) - set(allowed)

    assert not unexplained, f"{stream} ({spec.object_type}) leaves out {sorted(unexplained)} without a reason"


@pytest.mark.parametrize("stream", SPECS)
def test_no_allowance_names_a_member_the_schema_has_or_the_type_lacks(stream):
    spec = SPECS[stream]

    stale = set(LEFT_OUT.get(spec.object_type, {})) - left_out(spec)

    assert not stale, f"{stream}: allowances for {sorted(stale)} are stale (read now, or not a member)"


def test_every_soap_object_type_has_its_allowances_or_needs_none():
    assert set(LEFT_OUT) <= {spec.object_type for spec in SOAP_OBJECTS}


def test_every_reason_says_something():
    reasons = [*COMMON.values(), *(reason for members in LEFT_OUT.values() for reason in members.values())]
    assert all(len(reason.split()) >= 3 for reason in reasons)


def test_the_member_listing_walks_ancestors_and_skips_nested_elements():
    members = wsdl_members("TriggeredSendDefinition")
    assert {"Client", "Name", "InteractionObjectID", "SendClassification", "Priority"} <= members
    assert "Address" not in wsdl_members("Subscriber")  # an item of Addresses, not a member


def _member_types(type_name: str) -> dict[str, str]:
    """Each member of a type (its ancestors' included) with the name of its type."""
    complex_type = _types()[type_name]
    extension = complex_type.find(f"{_XS}complexContent/{_XS}extension")
    owner = extension if extension is not None else complex_type
    inherited = _member_types(extension.get("base").split(":")[-1]) if extension is not None else {}
    own = {
        e.get("name"): (e.get("type") or "").split(":")[-1]
        for e in owner.findall(f"{_XS}sequence/{_XS}element")
        if e.get("name")
    }
    return {**inherited, **own}


def unknown_properties(object_type: str, properties) -> set[str]:
    """Requested `Properties` paths that do not name a member at every step (`Link.ID`: Link of LinkSend, then ID of
    its type); SFMC refuses the whole retrieve when one does not."""
    unknown = set()
    for path in properties:
        type_name = object_type
        for part in path.split("."):
            members = _member_types(type_name) if type_name in _types() else {}
            if part not in members:
                unknown.add(path)
                break
            type_name = members[part]
    return unknown


@pytest.mark.parametrize("stream", SPECS)
def test_every_requested_property_is_a_wsdl_member_at_every_step(stream):
    spec = SPECS[stream]
    properties = soap_properties(load_schema(spec.schema_name or spec.stream_name))

    unknown = unknown_properties(spec.object_type, properties)

    assert not unknown, f"{stream} asks {spec.object_type} for {sorted(unknown)}, which the WSDL does not have"


def test_the_other_retrieves_ask_only_for_wsdl_members():
    assert not unknown_properties("DataExtensionField", DATA_EXTENSION_FIELD_PROPERTIES)
    assert not unknown_properties("Send", LINK_SENDS_SEND_PROPERTIES)


def test_the_member_check_walks_nested_types():
    assert unknown_properties("LinkSend", ["Link.TotalClicks", "Link.Clicks", "SendID.ID"]) == {
        "Link.Clicks",
        "SendID.ID",
    }
