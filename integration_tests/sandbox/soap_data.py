"""Deterministic data behind the sandbox's SOAP API (and the REST rowset of data extensions).

Everything is a pure function of ``(seed, scale)`` and fixed dates (2025-01-01 .. 2025-07-01 UTC), never of
today. Small object types (lists, sends, emails, folders, data extension definitions...) are materialised as
row dicts. Large ones (tracking events, subscribers, list memberships, data extension rows) are generated on
demand from ``(seed, type, index)`` so that scale 100 (1.5M sent events) builds instantly and holds nothing:
their ordering property (``EventDate``, ``CreatedDate``, a data extension's date field) is monotonic in the
index, so a date filter becomes an index range found by binary search and paging is an index cursor.

Rows are dicts keyed by property name (``"Client.ID"`` for nested ones) holding raw values: ``int``, ``str``,
``bool``, ``None``, dates as ``int`` milliseconds since the Unix epoch (UTC), Name/Value lists as tuples of
pairs. Data extension rows hold the strings SFMC renders (``"6/23/2024 12:00:00 AM"``, ``"True"``).
"""

from __future__ import annotations

import bisect
import calendar
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

# ---------------------------------------------------------------------------------------------------------
# Accounts and time
# ---------------------------------------------------------------------------------------------------------

MAIN_MID = 7281234  # the business unit tokens are issued for
CHILD_MIDS = (7294501, 7294502)  # other units, only visible with QueryAllAccounts or ClientIDs
ALL_MIDS = (MAIN_MID, *CHILD_MIDS)

SECOND_MS = 1000
HOUR_MS = 3600 * SECOND_MS
DAY_MS = 24 * HOUR_MS
SERVER_OFFSET_MS = -6 * HOUR_MS  # SFMC server time: CST, UTC-6 all year, no daylight saving
MIN_DATE_MS = -62135596800000  # 0001-01-01T00:00:00, what SFMC puts in CreatedDate of tracking events


def utc_ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) * SECOND_MS


PERIOD_START_MS = utc_ms(2025, 1, 1)
PERIOD_END_MS = utc_ms(2025, 7, 1)
PERIOD_DAYS = (PERIOD_END_MS - PERIOD_START_MS) // DAY_MS

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_iso_day_prefix: dict[int, str] = {}
_us_day_prefix: dict[int, str] = {}


def _civil_day(day_number: int) -> date:
    return date.fromordinal(_EPOCH_ORDINAL + day_number)


def server_iso(ms_utc: int) -> str:
    """SOAP dateTime as SFMC renders it: server time, no offset, milliseconds only when not zero."""
    if ms_utc == MIN_DATE_MS:
        return "0001-01-01T00:00:00"
    day, rem = divmod(ms_utc + SERVER_OFFSET_MS, DAY_MS)
    prefix = _iso_day_prefix.get(day)
    if prefix is None:
        prefix = _iso_day_prefix.setdefault(day, _civil_day(day).isoformat() + "T")
    secs, millis = divmod(rem, 1000)
    hour, secs = divmod(secs, 3600)
    minute, secs = divmod(secs, 60)
    if millis:
        # .NET writes the fraction with trailing zeros trimmed: .927, .92, .9
        return f"{prefix}{hour:02d}:{minute:02d}:{secs:02d}.{millis:03d}".rstrip("0")
    return f"{prefix}{hour:02d}:{minute:02d}:{secs:02d}"


def server_us(ms_utc: int) -> str:
    """Data extension date as SFMC renders it: ``6/23/2024 12:00:00 AM`` in server time."""
    day, rem = divmod(ms_utc + SERVER_OFFSET_MS, DAY_MS)
    prefix = _us_day_prefix.get(day)
    if prefix is None:
        d = _civil_day(day)
        prefix = _us_day_prefix.setdefault(day, f"{d.month}/{d.day}/{d.year} ")
    secs = rem // 1000
    hour, secs = divmod(secs, 3600)
    minute, secs = divmod(secs, 60)
    half = "AM" if hour < 12 else "PM"
    return f"{prefix}{(hour % 12) or 12}:{minute:02d}:{secs:02d} {half}"


_ISO_RE = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?\s*$",
    re.IGNORECASE,
)
_US_RE = re.compile(
    r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*([AP]M)?)?\s*$",
    re.IGNORECASE,
)


def parse_sfmc_datetime(text: str) -> int:
    """Date literal of a filter -> ms UTC. No offset means server time (UTC-6); ``Z`` is UTC; offsets convert.

    Accepts ISO 8601 (date only, ``T`` or space, fraction, offset) and the US form data extensions use
    (``6/23/2024 12:00:00 AM``). Raises ValueError otherwise.
    """
    m = _ISO_RE.match(text)
    if m:
        year, month, day, hour, minute, sec, frac, zone = m.groups()
        ampm = None
    else:
        m = _US_RE.match(text)
        if not m:
            raise ValueError(f"not a date: {text!r}")
        month, day, year, hour, minute, sec, frac, ampm = m.groups()
        zone = None
    h = int(hour or 0)
    if ampm:
        if not 1 <= h <= 12:
            raise ValueError(f"not a date: {text!r}")
        h = h % 12 + (12 if ampm.upper() == "PM" else 0)
    try:
        dt = datetime(int(year), int(month), int(day), h, int(minute or 0), int(sec or 0))
    except ValueError as exc:
        raise ValueError(f"not a date: {text!r}") from exc
    millis = int((frac or "0")[:3].ljust(3, "0"))
    local = calendar.timegm(dt.timetuple()) * SECOND_MS + millis
    if zone is None:
        return local - SERVER_OFFSET_MS
    if zone.upper() == "Z":
        return local
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    offset = sign * (int(digits[:2]) * HOUR_MS + int(digits[2:]) * 60 * SECOND_MS)
    return local - offset


def to_utc_ms(moment: datetime) -> int:
    """A datetime -> ms UTC; a naive datetime is taken as UTC (helpers for tests speak UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


# ---------------------------------------------------------------------------------------------------------
# Deterministic pseudo-randomness: event i of type T is a hash of (seed, T, i), never a stream of draws
# ---------------------------------------------------------------------------------------------------------

_M64 = (1 << 64) - 1


def _splitmix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def _salt(seed: int, label: str) -> int:
    h = _splitmix(seed & _M64)
    for ch in label.encode():
        h = _splitmix(h ^ ch)
    return h


def _hash(salt: int, i: int) -> int:
    return _splitmix((salt + i * 0xD1B54A32D192ED03) & _M64)


def _frac(h: int) -> float:
    return (h >> 11) / float(1 << 53)


def _guid(h: int) -> str:
    x = f"{h:016x}{_splitmix(h):016x}"
    return f"{x[:8]}-{x[8:12]}-4{x[13:16]}-a{x[17:20]}-{x[20:32]}"


# ---------------------------------------------------------------------------------------------------------
# Object schemas: which properties each object type can retrieve, in SFMC's rendering (WSDL) order
# ---------------------------------------------------------------------------------------------------------

INT, STR, BOOL, DATE, PAIRS = "int", "str", "bool", "date", "pairs"


@dataclass(frozen=True)
class Prop:
    name: str  # as requested, e.g. "Client.ID"
    kind: str
    key: str = ""  # row dict key; defaults to name (aliases share a key)

    @property
    def row_key(self) -> str:
        return self.key or self.name

    @property
    def path(self) -> tuple[str, ...]:
        """XML elements the value is rendered in: "Client.ID" -> <Client><ID>; an alias renders like its key."""
        return tuple(self.row_key.split(".")) if "." in self.row_key else (self.name,)


@dataclass(frozen=True)
class ObjectSchema:
    name: str
    props: tuple[Prop, ...]
    # every group must be satisfied; a group is satisfied by any one of its scopes
    scopes: tuple[tuple[str, ...], ...]

    def prop(self, name: str) -> Prop | None:
        for p in self.props:
            if p.name == name:
                return p
        return None


def _common(*, skip: Iterable[str] = ()) -> list[Prop]:
    """APIObject's properties in WSDL order (Client, PartnerKey, PartnerProperties, dates, IDs)."""
    skipped = set(skip)
    props = [
        Prop("Client.ID", INT),
        Prop("PartnerKey", STR),
        Prop("PartnerProperties", PAIRS),
        Prop("CreatedDate", DATE),
        Prop("ModifiedDate", DATE),
        Prop("ID", INT),
        Prop("ObjectID", STR),
        Prop("CustomerKey", STR),
    ]
    return [p for p in props if p.name not in skipped]


def _schema(name: str, scopes: tuple[tuple[str, ...], ...], own: Sequence[Prop], skip: Iterable[str] = ()):
    return ObjectSchema(name, tuple(_common(skip=skip) + list(own)), scopes)


LISTS_SCOPE = (("list_and_subscribers_read",),)
TRACKING_SCOPE = (("tracking_events_read",),)
SENDS_SCOPE = (("tracking_events_read",), ("email_read",))
EMAIL_SCOPE = (("email_read",),)
DE_SCOPE = (("data_extensions_read",),)
FOLDER_SCOPE = (
    (
        "email_read",
        "data_extensions_read",
        "list_and_subscribers_read",
        "saved_content_read",
        "documents_and_images_read",
    ),
)

_TRACKING_OWN = (
    Prop("SendID", INT),
    Prop("SubscriberKey", STR),
    Prop("EventDate", DATE),
    Prop("EventType", STR),
    Prop("TriggeredSendDefinitionObjectID", STR),
    Prop("BatchID", INT),
)
_EVENT_EXTRA: dict[str, tuple[Prop, ...]] = {
    "SentEvent": (),
    "OpenEvent": (),
    "ClickEvent": (Prop("URLID", INT), Prop("URL", STR), Prop("URLIDLong", INT)),
    "BounceEvent": (
        Prop("SMTPCode", STR),
        Prop("BounceCategory", STR),
        Prop("SMTPReason", STR),
        Prop("BounceType", STR),
    ),
    "UnsubEvent": (Prop("List", INT, key="List.ID"), Prop("List.ID", INT), Prop("IsMasterUnsubscribed", BOOL)),
    "NotSentEvent": (),
    "ForwardedEmailEvent": (),
}
EVENT_TYPES = tuple(_EVENT_EXTRA)

_COUNTS = (
    "Duplicates",
    "InvalidAddresses",
    "ExistingUndeliverables",
    "ExistingUnsubscribes",
    "HardBounces",
    "SoftBounces",
    "OtherBounces",
    "ForwardedEmails",
    "UniqueClicks",
    "UniqueOpens",
    "NumberSent",
    "NumberDelivered",
    "Unsubscribes",
    "MissingAddresses",
)
_TSS_COUNTS = (
    "Sent",
    "NotSentDueToOptOut",
    "NotSentDueToUndeliverable",
    "Bounces",
    "Opens",
    "Clicks",
    "UniqueOpens",
    "UniqueClicks",
    "OptOuts",
    "SurveyResponses",
    "FTAFRequests",
    "FTAFEmailsSent",
    "FTAFOptIns",
    "Conversions",
    "UniqueConversions",
    "InProcess",
    "NotSentDueToError",
    "Queued",
)


def _build_schemas() -> dict[str, ObjectSchema]:
    s: dict[str, ObjectSchema] = {}
    for name, extra in _EVENT_EXTRA.items():
        s[name] = _schema(name, TRACKING_SCOPE, _TRACKING_OWN + extra)
    s["List"] = _schema(
        "List",
        LISTS_SCOPE,
        [
            Prop("ListName", STR),
            Prop("Category", INT),
            Prop("Type", STR),
            Prop("Description", STR),
            Prop("ListClassification", STR),
        ],
    )
    # ListSubscriber: the WSDL type lacks UnsubscribedDate, but PROTOCOL.md lists it as retrievable, and
    # PROTOCOL.md is what the sandbox follows.
    s["ListSubscriber"] = _schema(
        "ListSubscriber",
        LISTS_SCOPE,
        [Prop("Status", STR), Prop("ListID", INT), Prop("SubscriberKey", STR), Prop("UnsubscribedDate", DATE)],
    )
    s["Subscriber"] = _schema(
        "Subscriber",
        LISTS_SCOPE,
        [
            Prop("EmailAddress", STR),
            Prop("Attributes", PAIRS),
            Prop("SubscriberKey", STR),
            Prop("UnsubscribedDate", DATE),
            Prop("Status", STR),
            Prop("EmailTypePreference", STR),
        ],
        skip=("ModifiedDate",),  # reported not retrievable on Subscriber
    )
    s["Send"] = _schema(
        "Send",
        SENDS_SCOPE,
        [Prop("Email.ID", INT), Prop("SendDate", DATE), Prop("FromAddress", STR), Prop("FromName", STR)]
        + [Prop(c, INT) for c in _COUNTS]
        + [
            Prop("Subject", STR),
            Prop("PreviewURL", STR),
            Prop("SentDate", DATE),
            Prop("EmailName", STR),
            Prop("Status", STR),
            Prop("IsMultipart", BOOL),
            Prop("IsAlwaysOn", BOOL),
            Prop("NumberTargeted", INT),
            Prop("NumberErrored", INT),
            Prop("NumberExcluded", INT),
            Prop("Additional", STR),
            Prop("BccEmail", STR),
        ],
    )
    s["ListSend"] = _schema(
        "ListSend",
        SENDS_SCOPE,
        [Prop("SendID", INT), Prop("List.ID", INT)] + [Prop(c, INT) for c in _COUNTS],
        skip=("ModifiedDate",),  # ListSend has no retrievable ModifiedDate
    )
    s["Email"] = _schema(
        "Email",
        EMAIL_SCOPE,
        [
            Prop("Name", STR),
            Prop("Folder", STR),
            Prop("CategoryID", INT),
            Prop("HTMLBody", STR),
            Prop("TextBody", STR),
            Prop("Subject", STR),
            Prop("IsActive", BOOL),
            Prop("IsHTMLPaste", BOOL),
            Prop("ClonedFromID", INT),
            Prop("Status", STR),
            Prop("EmailType", STR),
            Prop("CharacterSet", STR),
            Prop("HasDynamicSubjectLine", BOOL),
            Prop("ContentCheckStatus", STR),
            Prop("SyncTextWithHTML", BOOL),
            Prop("PreHeader", STR),
            Prop("IsApproved", BOOL),
        ],
    )
    s["ContentArea"] = _schema(
        "ContentArea",
        EMAIL_SCOPE,
        [
            Prop("Key", STR),
            Prop("Content", STR),
            Prop("IsBlank", BOOL),
            Prop("CategoryID", INT),
            Prop("Name", STR),
            Prop("Layout", STR),
            Prop("IsDynamicContent", BOOL),
            Prop("IsSurvey", BOOL),
            Prop("IsLocked", BOOL),
        ],
    )
    s["DataFolder"] = _schema(
        "DataFolder",
        FOLDER_SCOPE,
        [
            Prop("ParentFolder.ID", INT),
            Prop("Name", STR),
            Prop("Description", STR),
            Prop("ContentType", STR),
            Prop("IsActive", BOOL),
            Prop("IsEditable", BOOL),
            Prop("AllowChildren", BOOL),
        ],
    )
    s["TriggeredSendDefinition"] = _schema(
        "TriggeredSendDefinition",
        EMAIL_SCOPE,
        [
            Prop("Name", STR),
            Prop("Description", STR),
            Prop("CategoryID", INT),
            Prop("SendClassification.CustomerKey", STR),
            Prop("FromName", STR),
            Prop("FromAddress", STR),
            Prop("TriggeredSendStatus", STR),
            Prop("Email.ID", INT),
            Prop("List.ID", INT),
            Prop("AutoAddSubscribers", BOOL),
            Prop("AutoUpdateSubscribers", BOOL),
            Prop("BccEmail", STR),
            Prop("EmailSubject", STR),
            Prop("IsMultipart", BOOL),
            Prop("Priority", STR),
        ],
    )
    s["TriggeredSendSummary"] = _schema("TriggeredSendSummary", TRACKING_SCOPE, [Prop(c, INT) for c in _TSS_COUNTS])
    s["DataExtension"] = _schema(
        "DataExtension",
        DE_SCOPE,
        [
            Prop("Name", STR),
            Prop("Description", STR),
            Prop("IsSendable", BOOL),
            Prop("IsTestable", BOOL),
            Prop("SendableDataExtensionField.Name", STR),
            Prop("SendableSubscriberField.Name", STR),
            Prop("DataRetentionPeriodLength", INT),
            Prop("RowBasedRetention", BOOL),
            Prop("ResetRetentionPeriodOnImport", BOOL),
            Prop("DeleteAtEndOfRetentionPeriod", BOOL),
            Prop("DataRetentionPeriod", STR),
            Prop("CategoryID", INT),
            Prop("Status", STR),
        ],
        skip=("ID",),  # data extensions have no ID
    )
    s["DataExtensionField"] = _schema(
        "DataExtensionField",
        DE_SCOPE,
        [
            Prop("Name", STR),
            Prop("Precision", INT),
            Prop("Scale", INT),
            Prop("DefaultValue", STR),
            Prop("MaxLength", INT),
            Prop("IsRequired", BOOL),
            Prop("Ordinal", INT),
            Prop("IsPrimaryKey", BOOL),
            Prop("FieldType", STR),
            Prop("DataExtension.CustomerKey", STR),
        ],
        skip=("ID",),
    )
    return s


SCHEMAS: dict[str, ObjectSchema] = _build_schemas()


# ---------------------------------------------------------------------------------------------------------
# Filters: one tree for SOAP filter parts and REST $filter, compiled against typed values
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimpleFilter:
    prop: str
    operator: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class ComplexFilter:
    operator: str  # AND | OR
    operands: tuple[FilterNode, ...]


FilterNode = SimpleFilter | ComplexFilter


class FilterError(ValueError):
    """A filter SFMC would refuse; the message is the text after ``Error: ``."""


OPERATORS = {
    "equals",
    "notequals",
    "greaterthan",
    "lessthan",
    "greaterthanorequal",
    "lessthanorequal",
    "isnull",
    "isnotnull",
    "between",
    "in",
    "like",
    "beginswith",
    "endswith",
    "contains",
}


@dataclass(frozen=True)
class ValueType:
    """How a row value and a filter literal become comparable."""

    name: str
    from_row: Callable[[object], object]
    from_literal: Callable[[str], object]


def _casefold_row(v: object) -> object:
    return None if v is None else str(v).casefold()


def _bool_literal(text: str) -> bool:
    t = text.strip().lower()
    if t in ("true", "1"):
        return True
    if t in ("false", "0"):
        return False
    raise ValueError(text)


def _de_number(v: object) -> object:
    return None if v in (None, "") else float(v)  # type: ignore[arg-type]


def _de_date(v: object) -> object:
    return None if v in (None, "") else parse_sfmc_datetime(v)  # type: ignore[arg-type]


def _de_bool(v: object) -> object:
    return None if v in (None, "") else v == "True"


VT_INT = ValueType("int", lambda v: v, lambda s: int(s.strip()))
VT_STR = ValueType("str", _casefold_row, str.casefold)  # SQL Server's default collation ignores case
VT_BOOL = ValueType("bool", lambda v: v, _bool_literal)
VT_DATE = ValueType("date", lambda v: v, parse_sfmc_datetime)
VT_DE_NUMBER = ValueType("number", _de_number, lambda s: float(s.strip()))
VT_DE_DATE = ValueType("date", _de_date, parse_sfmc_datetime)
VT_DE_BOOL = ValueType("bool", _de_bool, _bool_literal)
VALUE_TYPE_OF_KIND = {INT: VT_INT, STR: VT_STR, BOOL: VT_BOOL, DATE: VT_DATE}
VALUE_TYPE_OF_DE_FIELD = {"Number": VT_DE_NUMBER, "Decimal": VT_DE_NUMBER, "Date": VT_DE_DATE, "Boolean": VT_DE_BOOL}


@dataclass(frozen=True)
class FieldRef:
    row_key: str
    value_type: ValueType


Resolver = Callable[[str], FieldRef | None]
Predicate = Callable[[dict], bool]


def _like_regex(pattern: str) -> re.Pattern[str]:
    out = []
    for ch in pattern.casefold():
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def _compile_simple(node: SimpleFilter, ref: FieldRef) -> Predicate:
    op = node.operator.lower()
    key, vt = ref.row_key, ref.value_type
    if op == "isnull":
        return lambda row: row.get(key) in (None, "", ())
    if op == "isnotnull":
        return lambda row: row.get(key) not in (None, "", ())
    if op in ("like", "beginswith", "endswith", "contains"):
        if not node.values:
            raise FilterError(f"The {node.operator} operator requires a value.")
        text = node.values[0].casefold()
        if op == "like":
            rx = _like_regex(node.values[0])

            def test(s: str) -> bool:
                return rx.fullmatch(s) is not None
        elif op == "beginswith":
            test = lambda s: s.startswith(text)  # noqa: E731
        elif op == "endswith":
            test = lambda s: s.endswith(text)  # noqa: E731
        else:
            test = lambda s: text in s  # noqa: E731

        def text_match(row: dict) -> bool:
            v = row.get(key)
            return v is not None and test(str(v).casefold())

        return text_match
    try:
        literals = [vt.from_literal(v) for v in node.values]
    except (ValueError, TypeError) as exc:
        raise FilterError(f"Unable to convert filter value(s) {list(node.values)} for property {node.prop}.") from exc
    conv = vt.from_row
    if op == "between":
        if len(literals) != 2:
            raise FilterError("The between operator requires exactly two values.")
        lo, hi = literals
        return lambda row: (v := conv(row.get(key))) is not None and lo <= v <= hi  # type: ignore[operator]
    if op == "in":
        if not literals:
            raise FilterError("The IN operator requires at least one value.")
        wanted = set(literals)
        return lambda row: conv(row.get(key)) in wanted
    if len(literals) != 1:
        raise FilterError(f"The {node.operator} operator requires exactly one value.")
    x = literals[0]
    compare: dict[str, Callable[[object], bool]] = {
        "equals": lambda v: v == x,
        "notequals": lambda v: v != x,
        "greaterthan": lambda v: v > x,  # type: ignore[operator]
        "lessthan": lambda v: v < x,  # type: ignore[operator]
        "greaterthanorequal": lambda v: v >= x,  # type: ignore[operator]
        "lessthanorequal": lambda v: v <= x,  # type: ignore[operator]
    }
    cmp = compare[op]
    return lambda row: (v := conv(row.get(key))) is not None and cmp(v)


def compile_filter(node: FilterNode, resolve: Resolver, *, object_name: str, allow_like: bool = True) -> Predicate:
    """Filter tree -> row predicate. Raises FilterError for what SFMC would refuse."""
    if isinstance(node, ComplexFilter):
        parts = [compile_filter(n, resolve, object_name=object_name, allow_like=allow_like) for n in node.operands]
        if node.operator.upper() == "OR":
            return lambda row: any(p(row) for p in parts)
        return lambda row: all(p(row) for p in parts)
    op = node.operator.lower()
    if op not in OPERATORS:
        raise FilterError(f"Unsupported filter operator '{node.operator}'.")
    if op == "like" and not allow_like:
        raise FilterError(f"The like operator is not supported on {object_name}.")
    ref = resolve(node.prop)
    if ref is None:
        raise FilterError(f"The Filter Property '{node.prop}' is not a retrievable property of {object_name}.")
    return _compile_simple(node, ref)


def order_bounds(node: SimpleFilter, value_type: ValueType) -> tuple[int | None, bool, int | None, bool] | None:
    """Bounds a simple filter puts on an ordering property: (low, low_inclusive, high, high_inclusive)."""
    op = node.operator.lower()
    try:
        vals = [int(value_type.from_literal(v)) for v in node.values]  # type: ignore[call-overload]
    except (ValueError, TypeError):
        return None
    if op == "between" and len(vals) == 2:
        return vals[0], True, vals[1], True
    if len(vals) != 1:
        return None
    v = vals[0]
    return {
        "equals": (v, True, v, True),
        "greaterthan": (v, False, None, False),
        "greaterthanorequal": (v, True, None, False),
        "lessthan": (None, False, v, False),
        "lessthanorequal": (None, False, v, True),
    }.get(op)


# ---------------------------------------------------------------------------------------------------------
# Collections: an object type's rows, materialised or generated on demand by index
# ---------------------------------------------------------------------------------------------------------


class Collection:
    """Rows by index. ``order_key(i)`` is monotonic non-decreasing in i for ``order_prop`` (or absent)."""

    size: int = 0
    order_prop: str | None = None

    def row(self, i: int) -> dict:
        raise NotImplementedError

    def order_key(self, i: int) -> int:
        raise NotImplementedError

    def first_index(self, key: int, *, after: bool) -> int:
        """First index whose order key is >= key (or > key when ``after``): a binary search, O(log n)."""
        lo, hi = 0, self.size
        while lo < hi:
            mid = (lo + hi) // 2
            k = self.order_key(mid)
            if k > key or (k == key and not after):
                hi = mid
            else:
                lo = mid + 1
        return lo


class RowList(Collection):
    def __init__(self, rows: Sequence[dict], order_prop: str | None = None):
        if order_prop:
            rows = sorted(rows, key=lambda r: r[order_prop])
        self.rows = tuple(rows)
        self.size = len(self.rows)
        self.order_prop = order_prop

    def row(self, i: int) -> dict:
        return self.rows[i]

    def order_key(self, i: int) -> int:
        return self.rows[i][self.order_prop]


# --- people ------------------------------------------------------------------------------------------------

FIRST_NAMES = (
    ("José", "jose"),
    ("Zoë", "zoe"),
    ("Łukasz", "lukasz"),
    ("Chloé", "chloe"),
    ("Søren", "soren"),
    ("Jürgen", "jurgen"),
    ("François", "francois"),
    ("Aiko", "aiko"),
    ("Olivia", "olivia"),
    ("Liam", "liam"),
    ("Mateo", "mateo"),
    ("Emma", "emma"),
    ("Noah", "noah"),
    ("Ava", "ava"),
    ("Sofía", "sofia"),
    ("Mia", "mia"),
    ("Ethan", "ethan"),
    ("Amélie", "amelie"),
    ("Björn", "bjorn"),
    ("Priya", "priya"),
    ("美咲", "misaki"),
    ("Ólafur", "olafur"),
)
LAST_NAMES = (
    ("García", "garcia"),
    ("Müller", "muller"),
    ("O'Brien", "obrien"),
    ("Nguyễn", "nguyen"),
    ("Smith", "smith"),
    ("Johnson", "johnson"),
    ("Kowalski", "kowalski"),
    ("Dubois", "dubois"),
    ("Rossi", "rossi"),
    ("Tanaka", "tanaka"),
    ("Brown", "brown"),
    ("Lefèvre", "lefevre"),
    ("Andersson", "andersson"),
    ("Patel", "patel"),
    ("Silva", "silva"),
    ("Wilson", "wilson"),
)
CITIES = (
    "Zürich",
    "São Paulo",
    "Kraków",
    "東京",
    "Montréal",
    "Chicago",
    "Austin",
    "Lyon",
    "København",
    "Dublin",
    "New York",
    "Seattle",
)
DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")
LOCALES = ("en-US", "fr-FR", "de-DE", "es-ES", "ja-JP", "pt-BR", "en-GB")
SUBSCRIBERS_FROM_MS = utc_ms(2023, 1, 1)
SUBSCRIBERS_TO_MS = utc_ms(2025, 6, 30)


class Subscribers(Collection):
    """Subscriber i, created in index order between 2023-01-01 and 2025-06-30."""

    order_prop = "CreatedDate"

    def __init__(self, seed: int, size: int):
        self.size = size
        self._salt = _salt(seed, "Subscriber")
        self._step = max(1, (SUBSCRIBERS_TO_MS - SUBSCRIBERS_FROM_MS) // max(1, size))

    def key(self, i: int) -> str:
        if i % 3 == 0:
            return self.email(i)
        return f"SK-{i:07d}"

    def email(self, i: int) -> str:
        h = _hash(self._salt, i)
        first = FIRST_NAMES[h % len(FIRST_NAMES)][1]
        last = LAST_NAMES[(h >> 8) % len(LAST_NAMES)][1]
        return f"{first}.{last}{i}@{DOMAINS[(h >> 16) % len(DOMAINS)]}"

    def mid(self, i: int) -> int:
        h = _hash(self._salt, i)
        return MAIN_MID if (h >> 40) % 10 else CHILD_MIDS[(h >> 44) % len(CHILD_MIDS)]

    def order_key(self, i: int) -> int:
        h = _hash(self._salt, i)
        # jitter under half a step keeps creation dates increasing with the index
        return SUBSCRIBERS_FROM_MS + i * self._step + (h >> 20) % max(1, self._step // 2)

    def status(self, i: int) -> str:
        r = (_hash(self._salt, i) >> 24) % 100
        return (
            "Active"
            if r < 85
            else "Unsubscribed"
            if r < 92
            else "Bounced"
            if r < 96
            else "Held"
            if r < 99
            else "Deleted"
        )

    def row(self, i: int) -> dict:
        h = _hash(self._salt, i)
        first = FIRST_NAMES[h % len(FIRST_NAMES)][0]
        last = LAST_NAMES[(h >> 8) % len(LAST_NAMES)][0]
        created = self.order_key(i)
        status = self.status(i)
        unsubscribed = (
            min(created + (1 + (h >> 32) % 300) * DAY_MS, PERIOD_END_MS - HOUR_MS) if status == "Unsubscribed" else None
        )
        attrs = [
            ("First Name", first),
            ("Last Name", last),
            ("City", CITIES[(h >> 28) % len(CITIES)]),
            ("Preferred Language", LOCALES[(h >> 36) % len(LOCALES)]),
            ("Loyalty Tier", ("", "Bronze", "Silver", "Gold")[(h >> 48) % 4]),
        ]
        if (h >> 52) % 7 == 0:
            attrs.append(("Notes", 'Prefers <b>bold</b> offers & "early" access'))
        return {
            "Client.ID": self.mid(i),
            "PartnerKey": None,
            "PartnerProperties": (),
            "CreatedDate": created,
            "ID": 40_000_000 + i,
            "ObjectID": None,
            "CustomerKey": None,
            "EmailAddress": self.email(i),
            "Attributes": tuple(attrs),
            "SubscriberKey": self.key(i),
            "UnsubscribedDate": unsubscribed,
            "Status": status,
            "EmailTypePreference": "Text" if (h >> 56) % 10 == 0 else "HTML",
        }


class ListMembers(Collection):
    """List memberships: two for every other subscriber, one for the rest, created in index order."""

    order_prop = "CreatedDate"

    def __init__(self, seed: int, subscribers: Subscribers, lists: Sequence[dict]):
        self.subscribers = subscribers
        self.lists = tuple(lists)
        self.size = self._first(subscribers.size)
        self._salt = _salt(seed, "ListSubscriber")
        self._offset = min(subscribers._step // 4, HOUR_MS)

    @staticmethod
    def _first(s: int) -> int:
        return (3 * s + 1) // 2

    def _locate(self, j: int) -> tuple[int, int]:
        s = (2 * j) // 3
        return s, j - self._first(s)

    def order_key(self, j: int) -> int:
        s, m = self._locate(j)
        return self.subscribers.order_key(s) + m * self._offset

    def row(self, j: int) -> dict:
        s, m = self._locate(j)
        h = _hash(self._salt, s)
        lst = self.lists[(h + m * 7) % len(self.lists)]
        created = self.order_key(j)
        status = self.subscribers.status(s)
        if status not in ("Active", "Unsubscribed"):
            status = "Active"
        modified = created + ((h >> 20) % 400) * DAY_MS if status == "Unsubscribed" else created
        return {
            "Client.ID": lst["Client.ID"],
            "PartnerKey": None,
            "PartnerProperties": (),
            "CreatedDate": created,
            "ModifiedDate": min(modified, PERIOD_END_MS - HOUR_MS),
            "ID": 90_000_000 + j,
            "ObjectID": _guid(_hash(self._salt ^ 0x5A5A, j)),
            "CustomerKey": None,
            "Status": status,
            "ListID": lst["ID"],
            "SubscriberKey": self.subscribers.key(s),
            "UnsubscribedDate": min(modified, PERIOD_END_MS - HOUR_MS) if status == "Unsubscribed" else None,
        }


# --- tracking events -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventSpec:
    object_type: str
    event_type: str  # BounceEvent overrides per event
    count_at_scale_1: int
    kernel: tuple[float, ...]  # share of a send's events on its day, the day after, ...
    triggered_share: float  # share of events from always-on triggered sends, spread over every day


EVENT_SPECS = (
    EventSpec("SentEvent", "Sent", 15_000, (1.0,), 0.12),
    EventSpec("OpenEvent", "Open", 6_000, (0.45, 0.25, 0.12, 0.08, 0.05, 0.03, 0.02), 0.12),
    EventSpec("ClickEvent", "Click", 2_500, (0.5, 0.25, 0.12, 0.07, 0.06), 0.12),
    EventSpec("BounceEvent", "HardBounce", 600, (0.85, 0.15), 0.10),
    EventSpec("UnsubEvent", "Unsubscribe", 200, (0.4, 0.3, 0.15, 0.1, 0.05), 0.05),
    EventSpec("NotSentEvent", "NotSent", 300, (1.0,), 0.15),
    EventSpec("ForwardedEmailEvent", "ForwardedEmail", 100, (0.3, 0.25, 0.2, 0.15, 0.1), 0.0),
)
BOUNCES = (  # EventType, BounceCategory, SMTPCode, SMTPReason, BounceType
    (
        "HardBounce",
        "Hard bounce",
        "550",
        "550 5.1.1 <recipient>: Recipient address rejected: User unknown",
        "immediate",
    ),
    ("SoftBounce", "Soft bounce", "452", "452 4.2.2 Mailbox full", "delayed"),
    ("HardBounce", "Block bounce", "554", "554 5.7.1 Message rejected (spam & policy)", "immediate"),
    ("OtherBounce", "Technical/Other bounce", "421", "421 4.4.2 Connection timed out", "delayed"),
    ("SoftBounce", "Soft bounce", "450", "450 4.7.1 Greylisted, try again later", "delayed"),
)


@dataclass(frozen=True)
class EventSource:
    """A send events belong to: a user-initiated send, or the job of an always-on triggered send."""

    send_id: int
    mid: int
    list_id: int
    tsd_object_id: str | None
    links: tuple[tuple[int, str], ...]


class EventStream(Collection):
    """Events of one type; event i's time is the inverse of a per-day cumulative weight at (i + 0.5) / n."""

    order_prop = "EventDate"

    def __init__(
        self,
        seed: int,
        spec: EventSpec,
        size: int,
        day_weights: Sequence[float],
        day_pickers: Sequence[tuple[list[float], list[int]]],
        sources: Sequence[EventSource],
        subscribers: Subscribers,
    ):
        self.spec = spec
        self.size = size
        self.object_type = spec.object_type
        self._salt = _salt(seed, spec.object_type)
        self._cum = [0.0]
        for w in day_weights:
            self._cum.append(self._cum[-1] + w)
        self._x_per_index = self._cum[-1] / max(1, size)
        self._ms_per_weight = [DAY_MS / w if w else 0.0 for w in day_weights]
        self._day_start = [PERIOD_START_MS + d * DAY_MS for d in range(len(day_weights))]
        self._pickers = day_pickers
        self._sources = sources
        self._subscribers = subscribers
        self._n_subscribers = max(1, subscribers.size)
        base = {p.name: None for p in SCHEMAS[spec.object_type].props if p.kind != PAIRS}
        base.update({"ID": 0, "CreatedDate": MIN_DATE_MS, "EventType": spec.event_type})
        self._base = base

    def _raw_time(self, i: int) -> tuple[int, int]:
        x = (i + 0.5) * self._x_per_index
        d = bisect.bisect_right(self._cum, x) - 1
        if d >= PERIOD_DAYS:
            d = PERIOD_DAYS - 1
        offset = int((x - self._cum[d]) * self._ms_per_weight[d])
        return self._day_start[d] + (offset if offset < DAY_MS else DAY_MS - 1), d

    def _time(self, i: int, h: int) -> tuple[int, int]:
        t, d = self._raw_time(i)
        if (h >> 60) & 3 == 0 and i:
            # a quarter of events carry whole seconds; only when that keeps times monotonic in i
            whole = t - t % 1000
            if self._raw_time(i - 1)[0] < whole:
                t = whole
        return t, d

    def order_key(self, i: int) -> int:
        return self._time(i, _hash(self._salt, i))[0]

    def row(self, i: int) -> dict:
        h = _hash(self._salt, i)
        t, d = self._time(i, h)
        upper, idx = self._pickers[d]
        if len(idx) > 1:
            pick = bisect.bisect_right(upper, _frac(h) * upper[-1])
            src = self._sources[idx[pick if pick < len(idx) else -1]]
        else:
            src = self._sources[idx[0]]
        s = (h >> 20) % self._n_subscribers
        row = self._base.copy()
        row["Client.ID"] = src.mid
        row["SendID"] = src.send_id
        row["SubscriberKey"] = self._subscribers.key(s)
        row["EventDate"] = t
        row["TriggeredSendDefinitionObjectID"] = src.tsd_object_id
        row["BatchID"] = (1000 + d) if src.tsd_object_id else 0
        row["PartnerProperties"] = (("ListID", str(src.list_id)), ("SubscriberID", str(40_000_000 + s)))
        kind = self.object_type
        if kind == "ClickEvent":
            url_id, url = src.links[(h >> 50) % len(src.links)]
            row["URLID"] = url_id
            row["URLIDLong"] = url_id
            row["URL"] = url
        elif kind == "BounceEvent":
            event_type, category, code, reason, bounce_type = BOUNCES[(h >> 50) % len(BOUNCES)]
            row["EventType"] = event_type
            row["BounceCategory"] = category
            row["SMTPCode"] = code
            row["SMTPReason"] = reason
            row["BounceType"] = bounce_type
        elif kind == "UnsubEvent":
            row["List.ID"] = src.list_id
            row["IsMasterUnsubscribed"] = (h >> 50) % 10 < 3
        return row


# --- data extensions -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    name: str
    field_type: str  # Text, Number, Decimal, Date, Boolean, EmailAddress, Phone, Locale
    gen: str  # value generator, see _DE_GENERATORS
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    primary_key: bool = False
    required: bool = False
    default: str = ""
    blank_pct: int = 0  # share of empty values, in percent


@dataclass(frozen=True)
class DataExtensionSpec:
    key: str
    name: str
    rows_at_scale_1: int
    fields: tuple[FieldSpec, ...]
    description: str = ""
    sendable: tuple[str, str] | None = None  # (data extension field, subscriber field)
    order_field: str | None = None  # a Date field whose values increase with the row index
    retention_days: int | None = None
    scales: bool = True  # lookup tables keep their size


def _f(name: str, field_type: str, gen: str, **kw) -> FieldSpec:
    defaults = {"Text": 100, "EmailAddress": 254, "Phone": 50, "Locale": 5}
    if "max_length" not in kw and field_type in defaults:
        kw["max_length"] = defaults[field_type]
    if field_type == "Decimal":
        kw.setdefault("precision", 18)
        kw.setdefault("scale", 2)
        kw.setdefault("max_length", kw["precision"])
    return FieldSpec(name, field_type, gen, **kw)


DATA_EXTENSIONS = (
    DataExtensionSpec(
        "CUSTOMERS_MASTER",
        "Customers",
        2_500,
        (
            _f("SubscriberKey", "Text", "subscriber_key", max_length=254, primary_key=True, required=True),
            _f("EmailAddress", "EmailAddress", "email", required=True),
            _f("FirstName", "Text", "first_name", max_length=50),
            _f("LastName", "Text", "last_name", max_length=80, blank_pct=5),
            _f("Locale", "Locale", "locale", blank_pct=10),
            _f("Phone", "Phone", "phone", blank_pct=30),
            _f("BirthDate", "Date", "birth_date", blank_pct=40),
            _f("IsVIP", "Boolean", "bool", default="False"),
            _f("LoyaltyPoints", "Number", "points"),
            _f("ModifiedDate", "Date", "order", required=True),
        ),
        description="Master customer records synced nightly from the CRM",
        sendable=("SubscriberKey", "_SubscriberKey"),
        order_field="ModifiedDate",
    ),
    DataExtensionSpec(
        "orders-2024-eu",
        "Orders 2024 (EU)",
        2_000,
        (
            _f("OrderId", "Number", "row_id", primary_key=True, required=True),
            _f("CustomerKey", "Text", "subscriber_key", max_length=254, required=True),
            _f("OrderDate", "Date", "order", required=True),
            _f("Amount", "Decimal", "amount", precision=18, scale=2),
            _f("Currency", "Text", "currency", max_length=3, default="EUR"),
            _f("Status", "Text", "order_status", max_length=20),
            _f("Notes", "Text", "note", max_length=4000, blank_pct=70),
        ),
        description="Web shop orders & returns, EU region",
        order_field="OrderDate",
        retention_days=365,
    ),
    DataExtensionSpec(
        "prefs_clients_fr",
        "Préférences-clients",
        800,
        (
            _f("Email", "EmailAddress", "email", primary_key=True, required=True),
            _f("OptInNewsletter", "Boolean", "bool", required=True),
            _f("Langue", "Locale", "locale"),
            _f("Canal préféré", "Text", "channel", max_length=20, blank_pct=20),
            _f("DernièreMiseÀJour", "Date", "order"),
        ),
        description="Préférences de communication (RGPD)",
        sendable=("Email", "Email Address"),
        order_field="DernièreMiseÀJour",
    ),
    DataExtensionSpec(
        "event_log",
        "Event Log",
        1_500,
        (
            _f("EventName", "Text", "event_name", max_length=50),
            _f("SubscriberKey", "Text", "subscriber_key", max_length=254),
            _f("Payload", "Text", "payload", max_length=4000, blank_pct=15),
            _f("LastModified", "Date", "order"),
        ),
        description="Append-only log without a primary key",
        order_field="LastModified",
        retention_days=90,
    ),
    DataExtensionSpec(
        "empty_de",
        "Empty Staging",
        0,
        (_f("Id", "Text", "row_key", max_length=36, primary_key=True, required=True), _f("Value", "Text", "note")),
        description="",
    ),
    DataExtensionSpec(
        "product-catalog",
        "Product Catalog",
        400,
        (
            _f("SKU", "Text", "sku", max_length=32, primary_key=True, required=True),
            _f("Title", "Text", "product", max_length=200),
            _f("Price", "Decimal", "price", precision=10, scale=2),
            _f("InStock", "Boolean", "bool"),
            _f("Stock", "Number", "stock", blank_pct=10),
        ),
        description="No date fields at all",
    ),
    DataExtensionSpec(
        "LoyaltyTiers",
        "Loyalty Tiers",
        4,
        (
            _f("Tier", "Text", "tier", max_length=20, primary_key=True, required=True),
            _f("MinPoints", "Number", "tier_points", required=True),
            _f("Multiplier", "Decimal", "tier_multiplier", precision=4, scale=2),
        ),
        description="Lookup table",
        scales=False,
    ),
    DataExtensionSpec(
        "web signups 2025",
        "Newsletter Signups [Web]",
        1_200,
        (
            _f("Email Address", "EmailAddress", "email", required=True),
            _f("Signup Date", "Date", "order", required=True),
            _f("Source Page", "Text", "url", max_length=500, blank_pct=10),
            _f("Consent", "Boolean", "bool", default="True"),
            _f("Country", "Text", "country", max_length=2, blank_pct=5),
        ),
        description="Signups from web forms; sendable on email address",
        sendable=("Email Address", "Email Address"),
        order_field="Signup Date",
    ),
    DataExtensionSpec(
        "SURVEY-Q2-2025",
        "Survey Responses Q2",
        600,
        (
            _f("ResponseId", "Number", "row_id", primary_key=True, required=True),
            _f("SubscriberKey", "Text", "subscriber_key", max_length=254),
            _f("Score", "Number", "score", blank_pct=25),
            _f("Comment", "Text", "comment", max_length=4000, blank_pct=50),
            _f("Phone", "Phone", "phone", blank_pct=60),
            _f("SubmittedAt", "Date", "any_date", blank_pct=5),
        ),
        description="NPS survey; SubmittedAt is not in row order",
    ),
    DataExtensionSpec(
        "unsub_reasons",
        "Unsubscribe Reasons",
        150,
        (
            _f("SubscriberKey", "Text", "subscriber_key", max_length=254, primary_key=True, required=True),
            _f("Reason", "Text", "unsub_reason", max_length=100),
            _f("UnsubscribedOn", "Date", "order"),
        ),
        description="Reasons given on the unsubscribe page",
        order_field="UnsubscribedOn",
    ),
)
DE_ROWS_FROM_MS = utc_ms(2024, 1, 1)


def _subscriber_key_for_row(subs: Subscribers, i: int, h: int) -> str:
    return subs.key(i % max(1, subs.size))


_DE_GENERATORS: dict[str, Callable[[Subscribers, int, int], str]] = {
    "subscriber_key": _subscriber_key_for_row,
    "email": lambda subs, i, h: subs.email(i),
    "first_name": lambda subs, i, h: FIRST_NAMES[h % len(FIRST_NAMES)][0],
    "last_name": lambda subs, i, h: LAST_NAMES[h % len(LAST_NAMES)][0],
    "locale": lambda subs, i, h: LOCALES[h % len(LOCALES)],
    "phone": lambda subs, i, h: f"+1 (512) 555-{h % 10000:04d}",
    "birth_date": lambda subs, i, h: server_us(utc_ms(1950, 1, 1, 6) + (h % 20000) * DAY_MS),
    "any_date": lambda subs, i, h: server_us(DE_ROWS_FROM_MS + (h % (540 * 86400)) * SECOND_MS),
    "bool": lambda subs, i, h: "True" if h % 3 else "False",
    "points": lambda subs, i, h: str(h % 25000),
    "row_id": lambda subs, i, h: str(100_000 + i),
    "row_key": lambda subs, i, h: _guid(h),
    "amount": lambda subs, i, h: f"{(h % 500000) / 100:.2f}",
    "price": lambda subs, i, h: f"{(h % 30000) / 100 + 0.99:.2f}",
    "currency": lambda subs, i, h: ("EUR", "EUR", "EUR", "GBP", "CHF", "SEK")[h % 6],
    "order_status": lambda subs, i, h: ("Placed", "Shipped", "Delivered", "Returned", "Cancelled")[h % 5],
    "note": lambda subs, i, h: ("Gift wrap, please", "Leave at door & ring", "Livraison <express>", "Ünïcödé ✓")[h % 4],
    "channel": lambda subs, i, h: ("E-mail", "SMS", "Courrier", "Téléphone")[h % 4],
    "event_name": lambda subs, i, h: ("page_view", "add_to_cart", "checkout", "login")[h % 4],
    "payload": lambda subs, i, h: '{"path": "/p/' + str(h % 1000) + '", "q": "a&b<c>"}',
    "sku": lambda subs, i, h: f"SKU-{i:05d}",
    "product": lambda subs, i, h: (
        ("T-shirt Été", "Mug 350ml", "Sac à dos 20L", "Casquette", "Gourde")[h % 5] + f" #{i}"
    ),
    "stock": lambda subs, i, h: str(h % 500),
    "tier": lambda subs, i, h: ("Bronze", "Silver", "Gold", "Platinum")[i % 4],
    "tier_points": lambda subs, i, h: str((0, 1000, 5000, 20000)[i % 4]),
    "tier_multiplier": lambda subs, i, h: ("1.00", "1.25", "1.50", "2.00")[i % 4],
    "url": lambda subs, i, h: f"https://www.example.com/newsletter?src=footer&page={h % 40}",
    "country": lambda subs, i, h: ("FR", "DE", "US", "GB", "ES", "BR")[h % 6],
    "score": lambda subs, i, h: str(h % 11),
    "comment": lambda subs, i, h: (
        "Great service!",
        "Livraison trop lente…",
        "5/5 — would buy again",
        "<none>",
        "Ok & fine",
    )[h % 5],
    "unsub_reason": lambda subs, i, h: ("Too many emails", "Not relevant", "Never signed up", "Other")[h % 4],
}


class DataExtensionRows(Collection):
    """Rows of one data extension; the order field (if any) increases with the row index."""

    def __init__(self, seed: int, spec: DataExtensionSpec, size: int, subscribers: Subscribers):
        self.spec = spec
        self.size = size
        self.order_prop = spec.order_field
        self._salt = _salt(seed, "DataExtension:" + spec.key)
        self._subs = subscribers
        self._step = max(SECOND_MS, ((PERIOD_END_MS - DE_ROWS_FROM_MS) // max(1, size)) // 1000 * 1000)
        # "order" fields take their value from the row index (see order_key), not from a generator
        self._fields = tuple(
            (f.name, _DE_GENERATORS.get(f.gen), f.blank_pct, n * 0x9E3779B1) for n, f in enumerate(spec.fields)
        )

    def order_key(self, i: int) -> int:
        h = _hash(self._salt, i)
        return DE_ROWS_FROM_MS + i * self._step + (h % (self._step // 2000 + 1)) * 1000

    def row(self, i: int) -> dict:
        h = _hash(self._salt, i)
        row: dict[str, str] = {}
        for name, gen, blank_pct, salt in self._fields:
            if gen is None:
                row[name] = server_us(self.order_key(i))
                continue
            fh = _splitmix(h ^ salt)
            row[name] = "" if blank_pct and fh % 100 < blank_pct else gen(self._subs, i, fh >> 8)
        return row


@dataclass(frozen=True)
class DataExtension:
    spec: DataExtensionSpec
    object_id: str
    category_id: int
    created_ms: int
    modified_ms: int
    rows: DataExtensionRows

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def name(self) -> str:
        return self.spec.name

    def field(self, name: str) -> FieldSpec | None:
        folded = name.casefold()
        for f in self.spec.fields:
            if f.name.casefold() == folded:
                return f
        return None

    def resolve(self, name: str) -> FieldRef | None:
        f = self.field(name)
        if f is None:
            return None
        return FieldRef(f.name, VALUE_TYPE_OF_DE_FIELD.get(f.field_type, VT_STR))


# ---------------------------------------------------------------------------------------------------------
# The data set
# ---------------------------------------------------------------------------------------------------------

# Uneven months so that some 30-day windows need several 2,500-result pages: Jan .. Jun
MONTH_SEND_WEIGHT = (1.0, 0.7, 1.8, 0.9, 0.6, 1.2)
SENDS_AT_SCALE_1 = 50
SUBSCRIBERS_AT_SCALE_1 = 3_000
TRIGGERED_SENDS = (  # key, name, email subject, status
    ("welcome_series", "Welcome Series", "Bienvenue ! Welcome aboard", "Active"),
    ("pwd-reset", "Password Reset", "Reset your password", "Active"),
    ("order_confirmation", "Order Confirmation", "Your order #%%OrderId%% is confirmed", "Active"),
    ("abandoned.cart", "Abandoned Cart", "You left something behind…", "Active"),
    ("double-opt-in", "Double Opt-In", "Please confirm your subscription", "Inactive"),
    ("back in stock", "Back in Stock", "It's back! & selling fast", "Canceled"),
)
LIST_NAMES = (
    "Master Newsletter",
    "Newsletter — Français",
    "VIP & Partners",
    "Spring Promo <2025>",
    "Webinar Attendees",
    "Product Updates",
    "Événements Paris",
    "Loyalty Gold",
    "Loyalty Silver",
    "B2B Leads",
    "Seed List",
    "Test Recipients",
    "Holiday 2024",
    "Back-to-School",
    "Abandoned Carts",
    "App Users",
    "Survey Panel",
    "Press & Media",
    "Deutschland Kunden",
    "Clientes España",
    "日本のお客様",
    "Beta Testers",
    "Inactive 180d",
    "Re-engagement",
    "Suppression — Competitors",
    "Suppression — Legal",
)
FOLDERS = (  # id, parent id, name, content type
    (100, 0, "my emails", "email"),
    (101, 100, "Newsletters", "email"),
    (102, 100, "Transactional", "email"),
    (103, 101, "2025 — Q1", "email"),
    (104, 101, "2025 — Q2", "email"),
    (200, 0, "Data Extensions", "dataextension"),
    (201, 200, "CRM", "dataextension"),
    (202, 200, "Web & App", "dataextension"),
    (203, 200, "Archive (old)", "dataextension"),
    (300, 0, "my lists", "list"),
    (301, 300, "Marketing", "list"),
    (302, 300, "Suppression", "list"),
    (400, 0, "my contents", "content"),
    (401, 400, "Headers & Footers", "content"),
    (500, 0, "my triggered sends", "triggered_send"),
    (501, 500, "Lifecycle", "triggered_send"),
    (600, 0, "Shared Data Extensions", "shared_dataextension"),
    (700, 0, "my templates", "template"),
)


@dataclass
class SoapData:
    """Everything the SOAP service can retrieve; immutable once built, so safe to share between threads."""

    seed: int
    scale: float
    subscribers: Subscribers
    collections: dict[str, Collection]
    data_extensions: tuple[DataExtension, ...]
    _de_by_name: dict[str, DataExtension] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for de in self.data_extensions:
            self._de_by_name.setdefault(de.name.casefold(), de)
        for de in self.data_extensions:
            self._de_by_name[de.key.casefold()] = de  # keys win over names

    def data_extension(self, key_or_name: str) -> DataExtension | None:
        return self._de_by_name.get(key_or_name.strip().casefold())

    def collection(self, object_type: str) -> Collection | None:
        if object_type.startswith("DataExtensionObject[") and object_type.endswith("]"):
            de = self.data_extension(object_type[len("DataExtensionObject[") : -1])
            return de.rows if de else None
        return self.collections.get(object_type)

    def count(
        self, object_type: str, predicate: Callable[[dict], bool] | None = None, *, all_accounts: bool = False
    ) -> int:
        """How many rows of a type a retrieve sees (the token's unit only unless ``all_accounts``)."""
        coll = self.collection(object_type)
        if coll is None:
            raise KeyError(object_type)
        return self._count_range(coll, 0, coll.size, predicate, all_accounts, object_type)

    def events_between(
        self, object_type: str, start_utc: datetime, end_utc: datetime, *, all_accounts: bool = False
    ) -> int:
        """Events with start <= EventDate <= end (both inclusive, like ``between``); naive datetimes are UTC."""
        coll = self.collections[object_type]
        lo = coll.first_index(to_utc_ms(start_utc), after=False)
        hi = coll.first_index(to_utc_ms(end_utc), after=True)
        return self._count_range(coll, lo, hi, None, all_accounts, object_type)

    @staticmethod
    def _count_range(coll, lo, hi, predicate, all_accounts, object_type) -> int:
        check_mid = not all_accounts and not object_type.startswith("DataExtensionObject[")
        n = 0
        for i in range(lo, hi):
            row = coll.row(i)
            if check_mid and row.get("Client.ID") != MAIN_MID:
                continue
            if predicate is None or predicate(row):
                n += 1
        return n


def _scaled(n: int, scale: float) -> int:
    return max(0, round(n * scale))


def _pick(h: int, options: Sequence):
    return options[h % len(options)]


def build_soap_data(seed: int = 42, scale: float = 1.0) -> SoapData:
    """The sandbox's data set: same (seed, scale), same data. Builds in milliseconds at any scale."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    folders = _build_folders(seed)
    lists = _build_lists(seed)
    emails = _build_emails(seed)
    subscribers = Subscribers(seed, max(1, _scaled(SUBSCRIBERS_AT_SCALE_1, scale)))
    tsds = _build_triggered_sends(seed, emails, lists)
    sends, send_lists, sources, send_days, send_weights = _build_sends(seed, scale, emails, lists, tsds)
    streams, expected = _build_event_streams(seed, scale, sources, send_days, send_weights, len(tsds), subscribers)
    _fill_send_counts(sends, expected, sources)
    list_sends = _build_list_sends(sends, send_lists)
    summaries = _build_triggered_send_summaries(tsds, sends, expected, sources)
    data_extensions = _build_data_extensions(seed, scale, subscribers)
    de_rows, field_rows = _data_extension_rows(seed, data_extensions)
    collections: dict[str, Collection] = {
        "List": RowList(lists),
        "ListSubscriber": ListMembers(seed, subscribers, [lst for lst in lists if lst["Type"] == "Public"]),
        "Subscriber": subscribers,
        "Send": RowList(sends),
        "ListSend": RowList(list_sends),
        "Email": RowList(emails),
        "ContentArea": RowList(_build_content_areas(seed)),
        "DataFolder": RowList(folders),
        "TriggeredSendDefinition": RowList(tsds),
        "TriggeredSendSummary": RowList(summaries),
        "DataExtension": RowList(de_rows),
        "DataExtensionField": RowList(field_rows),
        **streams,
    }
    return SoapData(seed, scale, subscribers, collections, data_extensions)


def _base_row(
    mid: int,
    created: int | None,
    modified: int | None,
    *,
    id_: int | None,
    object_id: str | None,
    customer_key: str | None,
) -> dict:
    return {
        "Client.ID": mid,
        "PartnerKey": None,
        "PartnerProperties": (),
        "CreatedDate": created,
        "ModifiedDate": modified,
        "ID": id_,
        "ObjectID": object_id,
        "CustomerKey": customer_key,
    }


def _dated(salt: int, i: int, start_ms: int, span_days: int) -> tuple[int, int]:
    """(created, modified) with modified on or after created; milliseconds on some, whole seconds on others."""
    h = _hash(salt, i)
    created = start_ms + (h % (span_days * 86400)) * SECOND_MS + ((h >> 40) % 1000 if h & 1 else 0)
    modified = created + ((h >> 20) % (60 * 86400)) * SECOND_MS + ((h >> 50) % 1000 if h & 2 else 0)
    return created, modified


def _build_folders(seed: int) -> list[dict]:
    salt = _salt(seed, "DataFolder")
    rows = []
    for i, (fid, parent, name, content_type) in enumerate(FOLDERS):
        created, modified = _dated(salt, i, utc_ms(2021, 3, 1), 900)
        row = _base_row(
            MAIN_MID,
            created,
            modified,
            id_=fid,
            object_id=_guid(_hash(salt, 1000 + i)),
            customer_key=None if parent == 0 else f"folder-{fid}",
        )
        row.update(
            {
                "ParentFolder.ID": parent,
                "Name": name,
                "Description": "" if parent == 0 else f"{name} folder",
                "ContentType": content_type,
                "IsActive": True,
                "IsEditable": parent != 0,
                "AllowChildren": True,
            }
        )
        rows.append(row)
    return rows


def _build_lists(seed: int) -> list[dict]:
    salt = _salt(seed, "List")
    rows = []
    all_subs = _base_row(
        MAIN_MID,
        utc_ms(2019, 5, 14, 15, 2, 11),
        utc_ms(2019, 5, 14, 15, 2, 11),
        id_=1100,
        object_id=_guid(_hash(salt, 999)),
        customer_key="All Subscribers - 7281234",
    )
    all_subs.update(
        {
            "ListName": "All Subscribers",
            "Category": 300,
            "Type": "Private",
            "Description": "",
            "ListClassification": "ExactTargetList",
        }
    )
    rows.append(all_subs)
    for i, name in enumerate(LIST_NAMES):
        h = _hash(salt, i)
        created, modified = _dated(salt, i, utc_ms(2022, 1, 1), 1200)
        suppression = name.startswith("Suppression")
        mid = MAIN_MID if i % 9 != 8 else CHILD_MIDS[i % 2]
        row = _base_row(
            mid,
            created,
            modified,
            id_=1101 + i,
            object_id=_guid(_hash(salt, 500 + i)),
            customer_key=_pick(h, (f"list-{1101 + i}", name.upper().replace(" ", "_"), None)),
        )
        row.update(
            {
                "ListName": name,
                "Category": 302 if suppression else _pick(h >> 8, (300, 301, 301)),
                "Type": "Public" if not suppression and name not in ("Seed List", "Test Recipients") else "Private",
                "Description": _pick(h >> 16, ("", f"Subscribers of {name}", "Imported from CRM & web forms")),
                "ListClassification": "SuppressionList"
                if suppression
                else _pick(h >> 24, ("ExactTargetList",) * 3 + ("PublicationList",)),
            }
        )
        rows.append(row)
    return rows


EMAIL_SUBJECTS = (
    "Spring Sale: -30% on everything 🌸",
    "Nouveautés de la semaine",
    "Your March newsletter",
    "Last chance: 24h left!",
    "We miss you, %%FirstName%%",
    "Événement exclusif à Paris",
    "Tips & tricks for <your> garden",
    "Product update: v2.4 is here",
    "Ihre Bestellung ist unterwegs",
    "Survey: how did we do?",
)


def _build_emails(seed: int) -> list[dict]:
    salt = _salt(seed, "Email")
    rows = []
    for i in range(40):
        h = _hash(salt, i)
        created, modified = _dated(salt, i, utc_ms(2024, 6, 1), 300)
        subject = EMAIL_SUBJECTS[i % len(EMAIL_SUBJECTS)]
        name = f"{2024 + i // 20}-{(i % 12) + 1:02d} {subject.split(':')[0][:30]} ({_pick(h, ('FR', 'EN', 'DE'))})"
        html = (
            f'<html><body><h1>{subject}</h1><p>Hello %%FirstName%%,</p><a href="https://www.example.com/'
            f'?utm_source=sfmc&amp;utm_campaign={i}">Shop now</a></body></html>'
        )
        row = _base_row(
            MAIN_MID, created, modified, id_=5000 + i, object_id=None, customer_key=_guid(_hash(salt, 100 + i))
        )
        row.update(
            {
                "Name": name,
                "Folder": None,
                "CategoryID": _pick(h >> 8, (101, 102, 103, 104)),
                "HTMLBody": html,
                "TextBody": None if h & 4 else f"{subject}\n\nHello %%FirstName%%, shop now: https://www.example.com/",
                "Subject": subject,
                "IsActive": True,
                "IsHTMLPaste": bool(h & 8),
                "ClonedFromID": 0 if h & 16 else 5000,
                "Status": _pick(h >> 16, ("New", "Active", "Active", "Inactive")),
                "EmailType": _pick(h >> 20, ("HTML", "HTML", "Text", "TextOnly")),
                "CharacterSet": _pick(h >> 24, ("utf-8", "utf-8", "iso-8859-1")),
                "HasDynamicSubjectLine": subject.find("%%") >= 0,
                "ContentCheckStatus": _pick(h >> 28, ("Not Checked", "Passed")),
                "SyncTextWithHTML": bool(h & 32),
                "PreHeader": _pick(h >> 32, ("", "Don't miss out", "Offre limitée")),
                "IsApproved": bool(h & 64),
            }
        )
        rows.append(row)
    return rows


def _build_content_areas(seed: int) -> list[dict]:
    salt = _salt(seed, "ContentArea")
    rows = []
    for i in range(20):
        h = _hash(salt, i)
        created, modified = _dated(salt, i, utc_ms(2020, 9, 1), 1400)
        name = _pick(h, ("Header", "Footer", "Legal", "Promo banner", "Social links")) + f" {i}"
        row = _base_row(
            MAIN_MID, created, modified, id_=7000 + i, object_id=_guid(_hash(salt, 100 + i)), customer_key=f"ca_{i}"
        )
        row.update(
            {
                "Key": f"ca_{i}",
                "Content": f"<table><tr><td>{name} &amp; more</td></tr></table>" if h & 2 else "",
                "IsBlank": not (h & 2),
                "CategoryID": 401 if h & 4 else 400,
                "Name": name,
                "Layout": _pick(h >> 8, ("HTMLWrapped", "RawText")),
                "IsDynamicContent": bool(h & 8),
                "IsSurvey": False,
                "IsLocked": bool(h & 16),
            }
        )
        rows.append(row)
    return rows


def _build_triggered_sends(seed: int, emails: Sequence[dict], lists: Sequence[dict]) -> list[dict]:
    salt = _salt(seed, "TriggeredSendDefinition")
    rows = []
    for i, (key, name, subject, status) in enumerate(TRIGGERED_SENDS):
        h = _hash(salt, i)
        created, modified = _dated(salt, i, utc_ms(2023, 2, 1), 600)
        row = _base_row(
            MAIN_MID, created, modified, id_=8100 + i, object_id=_guid(_hash(salt, 100 + i)), customer_key=key
        )
        row.update(
            {
                "Name": name,
                "Description": _pick(h, ("", f"{name} (journey step)", "Always-on")),
                "CategoryID": 501,
                "SendClassification.CustomerKey": "Default Transactional" if i in (1, 2) else "Default Commercial",
                "FromName": "Northwind Store",
                "FromAddress": "hello@northwind.example.com",
                "TriggeredSendStatus": status,
                "Email.ID": emails[(i * 7) % len(emails)]["ID"],
                "List.ID": lists[0]["ID"],
                "AutoAddSubscribers": True,
                "AutoUpdateSubscribers": bool(h & 2),
                "BccEmail": None,
                "EmailSubject": subject,
                "IsMultipart": True,
                "Priority": _pick(h >> 8, ("Medium", "High", "Low")),
            }
        )
        rows.append(row)
    return rows


def _month_of_day(day: int) -> int:
    return _civil_day(PERIOD_START_MS // DAY_MS + day).month - 1


def _build_sends(seed: int, scale: float, emails, lists, tsds):
    """User-initiated sends on uneven days, plus one send job per triggered send definition."""
    salt = _salt(seed, "Send")
    n = max(5, round(SENDS_AT_SCALE_1 * math.sqrt(scale)))
    day_cum = [0.0]
    for d in range(PERIOD_DAYS):
        day_cum.append(day_cum[-1] + MONTH_SEND_WEIGHT[_month_of_day(d)])
    public_lists = [lst for lst in lists if lst["Type"] == "Public"]
    sends, send_lists, sources, send_days, send_weights = [], [], [], [], []
    for k in range(n):
        h = _hash(salt, k)
        x = (k + _frac(h)) / n * day_cum[-1]
        day = min(bisect.bisect_right(day_cum, x) - 1, PERIOD_DAYS - 1)
        send_ms = PERIOD_START_MS + day * DAY_MS + (13 * 3600 + (h >> 12) % (4 * 3600)) * SECOND_MS
        email = emails[(h >> 20) % len(emails)]
        mid = MAIN_MID if k % 8 != 7 else CHILD_MIDS[(k // 8) % 2]
        send_id = 300_000 + 17 * k
        row = _base_row(
            mid,
            send_ms - (1 + (h >> 24) % 3) * DAY_MS,
            send_ms + (2 + (h >> 28) % 20) * HOUR_MS,
            id_=send_id,
            object_id=None,
            customer_key=None,
        )
        row.update(
            {
                "Email.ID": email["ID"],
                "SendDate": send_ms,
                "FromAddress": "news@northwind.example.com",
                "FromName": _pick(h >> 32, ("Northwind", "Northwind Store", "L'équipe Northwind")),
                "Subject": email["Subject"],
                "PreviewURL": f"https://view.example.com/?j={send_id}",
                "SentDate": send_ms + (5 + (h >> 36) % 90) * 60 * SECOND_MS,
                "EmailName": email["Name"],
                "Status": "Canceled" if k == 3 else "Complete",
                "IsMultipart": True,
                "IsAlwaysOn": False,
                "Additional": None,
                "BccEmail": None,
            }
        )
        sends.append(row)
        list_ids = [public_lists[(h >> 40) % len(public_lists)]["ID"]]
        if (h >> 44) % 3 == 0:
            list_ids.append(public_lists[((h >> 40) + 5) % len(public_lists)]["ID"])
        send_lists.append(tuple(list_ids))
        sources.append(EventSource(send_id, mid, list_ids[0], None, _links(send_id, h)))
        send_days.append(day)
        send_weights.append((0.5 + _frac(h >> 3)) * (3.0 if k % 10 == 4 else 1.0) * (0.0 if k == 3 else 1.0))
    for t, tsd in enumerate(tsds):
        send_id = 290_000 + t
        row = _base_row(
            MAIN_MID, tsd["CreatedDate"], tsd["ModifiedDate"], id_=send_id, object_id=None, customer_key=None
        )
        email = next(e for e in emails if e["ID"] == tsd["Email.ID"])
        row.update(
            {
                "Email.ID": email["ID"],
                "SendDate": tsd["CreatedDate"],
                "FromAddress": tsd["FromAddress"],
                "FromName": tsd["FromName"],
                "Subject": tsd["EmailSubject"],
                "PreviewURL": None,
                "SentDate": tsd["CreatedDate"],
                "EmailName": email["Name"],
                "Status": "Sending",
                "IsMultipart": True,
                "IsAlwaysOn": True,
                "Additional": None,
                "BccEmail": None,
            }
        )
        sends.append(row)
        send_lists.append(())
        sources.append(EventSource(send_id, MAIN_MID, lists[0]["ID"], tsd["ObjectID"], _links(send_id, send_id)))
    return sends, send_lists, sources, send_days, send_weights


def _links(send_id: int, h: int) -> tuple[tuple[int, str], ...]:
    paths = ("offers", "été-2025", "account/preferences", "p/12345", "blog/tips & tricks")
    return tuple(
        (
            send_id * 10 + k,
            f"https://www.example.com/{paths[(h + k) % len(paths)]}?utm_source=sfmc&utm_campaign={send_id}",
        )
        for k in range(3 + h % 2)
    )


def _build_event_streams(seed, scale, sources, send_days, send_weights, n_triggered, subscribers):
    """Per event type: day weights = sends' weights spread by the type's kernel, plus triggered traffic."""
    streams: dict[str, EventStream] = {}
    expected: dict[str, list[float]] = {}
    n_regular = len(send_days)
    for spec in EVENT_SPECS:
        per_day: list[dict[int, float]] = [{} for _ in range(PERIOD_DAYS)]
        for s, (day, w) in enumerate(zip(send_days, send_weights, strict=True)):
            for k, share in enumerate(spec.kernel):
                if day + k < PERIOD_DAYS and w:
                    per_day[day + k][s] = per_day[day + k].get(s, 0.0) + w * share
        regular_total = sum(sum(d.values()) for d in per_day)
        share = spec.triggered_share
        per_day_triggered = regular_total * share / (1 - share) / PERIOD_DAYS / max(1, n_triggered) if share else 0.0
        if per_day_triggered:
            for d in range(PERIOD_DAYS):
                for t in range(n_triggered):
                    per_day[d][n_regular + t] = per_day_triggered
        weights, pickers = [], []
        for d in range(PERIOD_DAYS):
            # per day: cumulative upper bounds of each source's weight, to pick an event's send
            upper, idx, acc = [], [], 0.0
            for src, w in sorted(per_day[d].items()):
                acc += w
                upper.append(acc)
                idx.append(src)
            weights.append(acc)
            pickers.append((upper, idx) if idx else ([1.0], [0]))
        total = sum(weights)
        size = _scaled(spec.count_at_scale_1, scale)
        per_source = [0.0] * len(sources)
        for d in range(PERIOD_DAYS):
            for src, w in per_day[d].items():
                per_source[src] += size * w / total if total else 0.0
        expected[spec.object_type] = per_source
        streams[spec.object_type] = EventStream(seed, spec, size, weights, pickers, sources, subscribers)
    return streams, expected


def _fill_send_counts(sends: list[dict], expected: dict[str, list[float]], sources) -> None:
    """Send counters are the expected event counts of the data set (close to, not exactly, the events)."""
    for s, row in enumerate(sends):
        sent = round(expected["SentEvent"][s])
        bounces = expected["BounceEvent"][s]
        not_sent = round(expected["NotSentEvent"][s])
        row.update(
            {
                "NumberSent": sent,
                "NumberDelivered": max(0, sent - round(bounces)),
                "HardBounces": round(bounces * 0.5),
                "SoftBounces": round(bounces * 0.35),
                "OtherBounces": round(bounces * 0.15),
                "UniqueOpens": round(expected["OpenEvent"][s] * 0.8),
                "UniqueClicks": round(expected["ClickEvent"][s] * 0.7),
                "Unsubscribes": round(expected["UnsubEvent"][s]),
                "ForwardedEmails": round(expected["ForwardedEmailEvent"][s]),
                "Duplicates": not_sent // 5,
                "InvalidAddresses": not_sent // 10,
                "ExistingUndeliverables": not_sent // 4,
                "ExistingUnsubscribes": not_sent // 3,
                "MissingAddresses": 0,
                "NumberErrored": not_sent // 10,
                "NumberExcluded": not_sent - not_sent // 10,
                "NumberTargeted": sent + not_sent,
            }
        )


def _build_list_sends(sends: Sequence[dict], send_lists: Sequence[tuple[int, ...]]) -> list[dict]:
    """One row per (send, list); a send's counters are split between its lists."""
    rows = []
    for send, list_ids in zip(sends, send_lists, strict=True):
        k = len(list_ids)
        for n, list_id in enumerate(list_ids):
            row = _base_row(
                send["Client.ID"], send["SendDate"], None, id_=send["ID"] * 10 + n, object_id=None, customer_key=None
            )
            del row["ModifiedDate"]
            row.update({"SendID": send["ID"], "List.ID": list_id})
            row.update({c: send[c] // k + (send[c] % k if n == 0 else 0) for c in _COUNTS})
            rows.append(row)
    return rows


def _build_triggered_send_summaries(tsds, sends, expected, sources) -> list[dict]:
    rows = []
    for tsd in tsds:
        s = next(i for i, src in enumerate(sources) if src.tsd_object_id == tsd["ObjectID"])
        send = sends[s]
        row = _base_row(MAIN_MID, None, None, id_=None, object_id=None, customer_key=tsd["CustomerKey"])
        opens = round(expected["OpenEvent"][s])
        clicks = round(expected["ClickEvent"][s])
        row.update(
            {
                "Sent": send["NumberSent"],
                "NotSentDueToOptOut": send["ExistingUnsubscribes"],
                "NotSentDueToUndeliverable": send["ExistingUndeliverables"],
                "Bounces": send["HardBounces"] + send["SoftBounces"] + send["OtherBounces"],
                "Opens": opens,
                "Clicks": clicks,
                "UniqueOpens": send["UniqueOpens"],
                "UniqueClicks": send["UniqueClicks"],
                "OptOuts": send["Unsubscribes"],
                "SurveyResponses": 0,
                "FTAFRequests": send["ForwardedEmails"],
                "FTAFEmailsSent": send["ForwardedEmails"],
                "FTAFOptIns": 0,
                "Conversions": clicks // 10,
                "UniqueConversions": clicks // 12,
                "InProcess": 0,
                "NotSentDueToError": send["NumberErrored"],
                "Queued": 0,
            }
        )
        rows.append(row)
    return rows


def _build_data_extensions(seed: int, scale: float, subscribers: Subscribers) -> tuple[DataExtension, ...]:
    salt = _salt(seed, "DataExtension")
    out = []
    for i, spec in enumerate(DATA_EXTENSIONS):
        created, modified = _dated(salt, i, utc_ms(2023, 9, 1), 500)
        size = _scaled(spec.rows_at_scale_1, scale) if spec.scales else spec.rows_at_scale_1
        out.append(
            DataExtension(
                spec,
                _guid(_hash(salt, 100 + i)),
                _pick(_hash(salt, i), (201, 202, 203)),
                created,
                modified,
                DataExtensionRows(seed, spec, size, subscribers),
            )
        )
    return tuple(out)


def _data_extension_rows(seed: int, data_extensions: Sequence[DataExtension]) -> tuple[list[dict], list[dict]]:
    de_rows, field_rows = [], []
    for de in data_extensions:
        spec = de.spec
        row = _base_row(MAIN_MID, de.created_ms, de.modified_ms, id_=None, object_id=de.object_id, customer_key=de.key)
        del row["ID"]
        row.update(
            {
                "Name": de.name,
                "Description": spec.description,
                "IsSendable": spec.sendable is not None,
                "IsTestable": spec.sendable is not None,
                "SendableDataExtensionField.Name": spec.sendable[0] if spec.sendable else None,
                "SendableSubscriberField.Name": spec.sendable[1] if spec.sendable else None,
                "DataRetentionPeriodLength": spec.retention_days or 0,
                "RowBasedRetention": bool(spec.retention_days),
                "ResetRetentionPeriodOnImport": False,
                "DeleteAtEndOfRetentionPeriod": bool(spec.retention_days),
                "DataRetentionPeriod": "Days" if spec.retention_days else None,
                "CategoryID": de.category_id,
                "Status": "Active",
            }
        )
        de_rows.append(row)
        salt = _salt(seed, "DataExtensionField:" + de.key)
        for ordinal, f in enumerate(spec.fields):
            frow = _base_row(
                MAIN_MID,
                de.created_ms,
                de.modified_ms,
                id_=None,
                object_id=_guid(_hash(salt, ordinal)),
                customer_key=f"[{de.key}].[{f.name}]",
            )
            del frow["ID"]
            frow.update(
                {
                    "Name": f.name,
                    "Precision": f.precision,
                    "Scale": f.scale if f.scale is not None else 0,
                    "DefaultValue": f.default,
                    "MaxLength": f.max_length,
                    "IsRequired": f.required,
                    "Ordinal": ordinal,
                    "IsPrimaryKey": f.primary_key,
                    "FieldType": f.field_type,
                    "DataExtension.CustomerKey": de.key,
                }
            )
            field_rows.append(frow)
    return de_rows, field_rows
