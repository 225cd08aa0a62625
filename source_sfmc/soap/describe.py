"""SOAP Describe: which properties of an object type the account can retrieve.

A Retrieve that names one property the account cannot retrieve fails whole ("The Request Property(s) X do not
match with the fields of Y retrieve"), so a read first asks `Describe` for each object type it retrieves and
requests only the properties marked retrievable (what FuelSDK and other client libraries do).

SFMC source: the partner API WSDL (etframework.wsdl): `DefinitionRequestMsg/DescribeRequests/ObjectDefinitionRequest/
ObjectType`, answered by `DefinitionResponseMsg/ObjectDefinition` (`ObjectType`, `Properties*` of type
PropertyDefinition with `Name`, `IsRetrievable`, ...); SOAPAction `Describe`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from source_sfmc.soap.envelope import describe_envelope
from source_sfmc.soap.parse import MalformedResponse, parse_xml

__all__ = [
    "DESCRIBE_HEADERS",
    "ObjectDefinition",
    "PropertyChoice",
    "choose_properties",
    "describe_envelope",
    "parse_describe",
]

DESCRIBE_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "Describe"}


@dataclass(frozen=True)
class ObjectDefinition:
    """An object type's members as Describe lists them: property name -> retrievable."""

    object_type: str
    properties: Mapping[str, bool]


@dataclass(frozen=True)
class PropertyChoice:
    """The properties to request (schema order) and the ones left out because the account cannot retrieve them."""

    requested: tuple[str, ...]
    dropped: tuple[str, ...]


def parse_describe(body: bytes) -> dict[str, ObjectDefinition]:
    """Object definitions by object type from a `DefinitionResponseMsg`; MalformedResponse for anything else."""
    document = parse_xml(body, strip_whitespace=True)
    envelope = _child(document, "Envelope")
    message = _child(_child(envelope, "Body"), "DefinitionResponseMsg")
    if not isinstance(message, dict):
        raise MalformedResponse("no DefinitionResponseMsg in the Describe answer")
    definitions: dict[str, ObjectDefinition] = {}
    for raw in _as_list(_child(message, "ObjectDefinition")):
        object_type = _child(raw, "ObjectType")
        if not isinstance(object_type, str):
            continue
        properties: dict[str, bool] = {}
        for prop in _as_list(_child(raw, "Properties")):
            name = _child(prop, "Name")
            if isinstance(name, str) and name:
                # xsd:boolean: "true" or "1" (whitespace collapsed); missing means not retrievable, as FuelSDK reads it.
                properties[name] = str(_child(prop, "IsRetrievable")).strip().lower() in ("true", "1")
        definitions[object_type] = ObjectDefinition(object_type, properties)
    return definitions


def choose_properties(wanted: Sequence[str], definition: ObjectDefinition | None) -> PropertyChoice:
    """The schema's properties the account can retrieve, in the schema's order.

    A dotted property (`Client.ID`, `Email.ID`) is retrievable when Describe lists it, or else when it lists its
    parent (`Client`) as retrievable: Describe answers name either form. A property Describe does not list at all
    is not a member of the type and is dropped. When Describe knows nothing of the type (no definition, or one
    without properties), every property is requested and the Retrieve itself reports any problem.
    """
    if definition is None or not definition.properties:
        return PropertyChoice(tuple(wanted), ())
    members = definition.properties
    requested, dropped = [], []
    for name in wanted:
        parent = name.partition(".")[0]
        ok = members[name] if name in members else members.get(parent, False) if parent != name else False
        (requested if ok else dropped).append(name)
    return PropertyChoice(tuple(requested), tuple(dropped))


def _child(element: Any, name: str) -> Any:
    """The child `name` of an xmltodict element, whatever namespace prefix it carries."""
    if not isinstance(element, dict):
        return None
    for key, value in element.items():
        if key == name or key.rpartition(":")[2] == name:
            return value
    return None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
