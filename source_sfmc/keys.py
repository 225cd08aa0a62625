"""Record identity: the one place every stream's `entity_id` is built.

The rule (README, "Keys"):
- A record's `entity_id` is the text of its identity fields (a stream's id, or several fields joined with ':').
- An identity value that is missing (absent, null, empty or blank text, or a list or object where a value belongs)
  is never written as text ("None", "", "{}"). A record with any identity value missing gets
  `digest:<32 hex digits>`, a stable digest of its whole content instead: two such records with different
  content never share a key (a deduplicating destination keeps both), and the same record read twice gets the
  same key (re-reads deduplicate).
- A digest key can never equal a real one: an id whose text itself begins with `digest:` (or with `id:`, the
  mark this rule adds) is written with `id:` in front (`id:digest:...`), so a real id never begins with `digest:`
  and two different ids never get the same key.
- Tracking events have no id in SFMC at all: their key is a digest of the fields that identify one event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

DIGEST_PREFIX = "digest:"
ESCAPE_PREFIX = "id:"
_RESERVED_PREFIXES = (DIGEST_PREFIX, ESCAPE_PREFIX)
_SEPARATOR = "\x1f"


def digest(*values: Any) -> str:
    """A stable identity for records SFMC gives no id (tracking events): same fields, same entity_id.

    It runs once per event, so it is kept lean: the values are nearly always text already."""
    joined = _SEPARATOR.join(
        value if value.__class__ is str else "" if value is None else str(value) for value in values
    )
    return hashlib.blake2b(joined.encode("utf-8"), digest_size=16).hexdigest()


def content_digest(record: Mapping[str, Any]) -> str:
    """`digest:` and a digest of the record's whole content, independent of key order."""
    canonical = json.dumps(record, sort_keys=True, default=str, ensure_ascii=False, separators=(",", ":"))
    return DIGEST_PREFIX + hashlib.blake2b(canonical.encode("utf-8"), digest_size=16).hexdigest()


def entity_id(record: Mapping[str, Any], *identity: Any) -> str:
    """The entity_id of `record` whose identity values are `identity` (see the module docstring for the rule)."""
    parts: list[str] = []
    for value in identity:
        text = _identity_text(value)
        if text is None:
            return content_digest(record)
        parts.append(text)
    return real_id(":".join(parts)) if parts else content_digest(record)


def real_id(text: str) -> str:
    """The entity_id of an id's text: itself, or with `id:` in front when it begins with a prefix keys reserve."""
    return ESCAPE_PREFIX + text if text.startswith(_RESERVED_PREFIXES) else text


def identity_text(value: Any) -> str | None:
    """An identity value as text, or None where it is missing by the rule above (absent, null, blank, a list or
    object). Also the test for a parent's id before it builds a child request: a missing id must never become
    `/None/` or `//` in a path, nor `""` in a filter."""
    return _identity_text(value)


def field_value(record: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (`List.ID`), or None where any step is missing."""
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def key_of(*paths: str) -> Callable[[Mapping[str, Any]], str]:
    """entity_id from one field (its value) or several (joined with ':'), by dotted paths into the raw record."""
    if len(paths) == 1:
        (path,) = paths
        if "." not in path:

            def one_field(raw: Mapping[str, Any]) -> str:
                value = raw.get(path)
                # The common case, kept lean: SOAP ids arrive as non-blank text.
                if (
                    value.__class__ is str
                    and value
                    and not value.isspace()
                    and not value.startswith(_RESERVED_PREFIXES)
                ):
                    return value
                return entity_id(raw, value)

            return one_field
    return lambda raw: entity_id(raw, *(field_value(raw, path) for path in paths))


def event_key(*extra: str) -> Callable[[Mapping[str, Any]], str]:
    """entity_id of a tracking event: the digest of the (top-level) fields that identify it."""
    names = ("SendID", "SubscriberKey", "EventType", "EventDate", *extra, "BatchID")
    return lambda raw: digest(*map(raw.get, names))


def _identity_text(value: Any) -> str | None:
    if value is None or isinstance(value, Mapping | list | tuple | set):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 12.0 from a JSON number is the id 12
    text = value if isinstance(value, str) else str(value)
    return text if text.strip() else None
