"""Object schemas: which properties each SOAP object type can retrieve, and the OAuth scopes it needs.

Properties are in SFMC's rendering (WSDL) order; a scope table is a tuple of groups that must all be
satisfied, each by any one of its scopes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

INT, STR, BOOL, DATE, PAIRS = "int", "str", "bool", "date", "pairs"
# A repeated element: the row holds a tuple of values, each rendered as its own element (Email.ContentAreas).
REPEATED_INT = "repeated_int"
# Subscriber.Addresses: the row holds (AddressType, Address) pairs, rendered as <Addresses><Address>... items.
ADDRESSES = "addresses"


class _Absent:
    """A row value for an element SFMC leaves out of its answer (an enum with no value has no valid text)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()

# Members the WSDL (etframework.wsdl) declares nillable="true" among the types the sandbox serves: APIObject's
# PartnerKey, ObjectID and ModifiedDate, and Send/ListSend's counters and SentDate. Only these may carry
# xsi:nil="true" in an answer; a member without a value is otherwise left out.
NILLABLE = frozenset({"PartnerKey", "ObjectID", "ModifiedDate", "SentDate", "NumberSent", "NumberDelivered"})


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
    # members of the type that Describe lists but a Retrieve refuses (IsRetrievable false)
    not_retrievable: tuple[str, ...] = ()

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
    """An object type: APIObject's members then its own; `skip` names members it has but cannot retrieve."""
    return ObjectSchema(name, tuple(_common(skip=skip) + list(own)), scopes, tuple(skip))


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
    "ForwardedEmailOptInEvent": (Prop("OptInSubscriberKey", STR),),
    "SurveyEvent": (Prop("Question", STR), Prop("Answer", STR)),
}
EVENT_TYPES = tuple(_EVENT_EXTRA)

SEND_COUNTS = (
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
            Prop("SendClassification.ObjectID", STR),
            Prop("SendClassification.CustomerKey", STR),
        ],
    )
    # ListSubscriber: the WSDL type (etframework.wsdl) has no UnsubscribedDate; asking for it fails the retrieve.
    s["ListSubscriber"] = _schema(
        "ListSubscriber",
        LISTS_SCOPE,
        [Prop("Status", STR), Prop("ListID", INT), Prop("SubscriberKey", STR)],
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
            Prop("SubscriberTypeDefinition.SubscriberType", STR),
            Prop("Addresses", ADDRESSES),
            Prop("PrimarySMSAddress.AddressType", STR),
            Prop("PrimarySMSAddress.Address", STR),
            Prop("PrimarySMSAddress.Carrier", STR),
            Prop("PrimarySMSPublicationStatus", STR),
            Prop("Locale.LocaleCode", STR),
        ],
        skip=("ModifiedDate",),  # reported not retrievable on Subscriber
    )
    s["Send"] = _schema(
        "Send",
        SENDS_SCOPE,
        [Prop("Email.ID", INT), Prop("SendDate", DATE), Prop("FromAddress", STR), Prop("FromName", STR)]
        + [Prop(c, INT) for c in SEND_COUNTS]
        + [
            Prop("Subject", STR),
            Prop("PreviewURL", STR),
            Prop("SentDate", DATE),
            Prop("EmailName", STR),
            Prop("Status", STR),
            Prop("IsMultipart", BOOL),
            Prop("SendLimit", INT),
            Prop("SendWindowOpen", STR),
            Prop("SendWindowClose", STR),
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
        [Prop("SendID", INT), Prop("List.ID", INT)] + [Prop(c, INT) for c in SEND_COUNTS],
        skip=("ModifiedDate",),  # ListSend has no retrievable ModifiedDate
    )
    # LinkSend: per-send link figures. PROTOCOL.md: ModifiedDate is not retrievable (so no date filter), nor is
    # Link.LastClicked; readers filter on SendID.
    s["LinkSend"] = _schema(
        "LinkSend",
        SENDS_SCOPE,
        [
            Prop("SendID", INT),
            Prop("Link.ID", INT),
            Prop("Link.Alias", STR),
            Prop("Link.TotalClicks", INT),
            Prop("Link.UniqueClicks", INT),
            Prop("Link.URL", STR),
        ],
        skip=("CreatedDate", "ModifiedDate", "ObjectID", "CustomerKey"),
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
            Prop("ContentAreas.ID", REPEATED_INT),
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
        ]
        + [Prop(f"AdditionalEmailAttribute{n}", STR) for n in range(1, 6)],
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
            Prop("BackgroundColor", STR),
            Prop("BorderColor", STR),
            Prop("BorderWidth", INT),
            Prop("Cellpadding", INT),
            Prop("Cellspacing", INT),
            Prop("Width", STR),
            Prop("FontFamily", STR),
            Prop("HasFontSize", BOOL),
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
            Prop("DynamicEmailSubject", STR),
            Prop("IsMultipart", BOOL),
            Prop("IsWrapped", BOOL),
            Prop("SendLimit", INT),
            Prop("SendWindowOpen", STR),
            Prop("SendWindowClose", STR),
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
            Prop("DataRetentionPeriodUnitOfMeasure", INT),
            Prop("RowBasedRetention", BOOL),
            Prop("ResetRetentionPeriodOnImport", BOOL),
            Prop("DeleteAtEndOfRetentionPeriod", BOOL),
            Prop("RetainUntil", STR),
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
