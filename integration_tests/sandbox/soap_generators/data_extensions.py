"""Data extensions: their definitions, fields and on-demand rows (values as the strings SFMC renders)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..soap_accounts import CHILD_MIDS, MAIN_MID
from ..soap_dates import DAY_MS, SECOND_MS, server_us, utc_ms
from ..soap_filters import VALUE_TYPE_OF_DE_FIELD, VT_STR, FieldRef
from .hashing import choose, guid, hash_at, salt_for, splitmix
from .people import FIRST_NAMES, LAST_NAMES, LOCALES, Subscribers
from .rows import PERIOD_END_MS, Collection, base_row, dated, scaled


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
    shared: bool = False  # in the parent's Shared Data Extensions folder (600), seen by every child unit
    owner: int = MAIN_MID  # the business unit that owns it (its Client.ID); external keys are unique per unit


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
        shared=True,
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
    # Two keys that one naive normalisation (lower-case, non-alphanumerics as "_") merges; "." sorts before "_".
    DataExtensionSpec(
        "Newsletter_DE",
        "Newsletter",
        120,
        (
            _f("Email", "EmailAddress", "email", primary_key=True, required=True),
            _f("Opted", "Boolean", "yes_no"),
        ),
        description="Newsletter audience",
    ),
    DataExtensionSpec(
        "Newsletter.DE",
        "Newsletter (copy)",
        45,
        (
            _f("Email", "EmailAddress", "email", primary_key=True, required=True),
            _f("Opted", "Boolean", "y_n"),
        ),
        description="A copy made later; its key differs from Newsletter_DE by one character",
    ),
    # A key made only of characters outside ASCII.
    DataExtensionSpec(
        "顧客マスタ",
        "顧客マスタ",
        60,
        (
            _f("顧客ID", "Number", "row_id", primary_key=True, required=True),
            _f("氏名", "Text", "last_name", max_length=80),
        ),
        description="Customer master of the Japanese business",
    ),
    # Balances at the edges of Decimal(18,8), negative and zero; no primary key, so rows are keyed by
    # _CustomObjectKey; Y/N/yes/no booleans as imports store them.
    DataExtensionSpec(
        "ledger_balances",
        "Ledger Balances",
        300,
        (
            _f("Account", "Text", "sku", max_length=32),
            _f("Balance", "Decimal", "balance_18_8", precision=18, scale=8),
            _f("Settled", "Boolean", "y_n"),
            _f("Audited", "Boolean", "yes_no", blank_pct=10),
        ),
        description="Decimal(18,8) balances without a primary key",
    ),
    # Real accounts list data extensions whose field listing returns nothing (fields not visible to the package).
    DataExtensionSpec("hidden_fields_de", "Hidden Fields", 0, (), description="Its fields are not listed"),
    # A child unit's own data extensions. External keys are unique within a unit only: this one has the key of
    # the parent's event_log, with other fields and rows.
    DataExtensionSpec(
        "event_log",
        "Store Event Log",
        90,
        (
            _f("EventId", "Number", "row_id", primary_key=True, required=True),
            _f("Store", "Text", "sku", max_length=32),
            _f("OccurredAt", "Date", "order", required=True),
        ),
        description="The retail unit's own event log",
        order_field="OccurredAt",
        owner=CHILD_MIDS[0],
    ),
    # Only in the child; one of its columns is named MID (a merchant id), like the unit column readers add.
    DataExtensionSpec(
        "store_visits",
        "Store Visits",
        70,
        (
            _f("VisitId", "Number", "row_id", primary_key=True, required=True),
            _f("MID", "Text", "sku", max_length=32, required=True),
            _f("VisitedAt", "Date", "order", required=True),
        ),
        description="Visits per merchant (MID: the merchant's id)",
        order_field="VisitedAt",
        owner=CHILD_MIDS[0],
    ),
)
# Decimal(18,8) texts at the edges, negative and zero; other rows take generated values.
EDGE_DECIMALS = (
    "1234567890.12345678",
    "9999999999.99999999",
    "-9999999999.99999999",
    "0.00000000",
    "0",
    "-0.00000001",
    "0.00000001",
    "-1234567890.12345678",
)
# The hidden row identity every data extension has; retrievable by name, never listed among the fields.
ROW_KEY = "_CustomObjectKey"
ROW_KEY_FIELD = FieldSpec(ROW_KEY, "Number", "row_key_number")
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
    "y_n": lambda subs, i, h: ("Y", "N", "y", "n")[h % 4],
    "yes_no": lambda subs, i, h: ("Yes", "No", "yes", "NO")[h % 4],
    "balance_18_8": lambda subs, i, h: (
        EDGE_DECIMALS[i]
        if i < len(EDGE_DECIMALS)
        else f"{'-' if h & 1 else ''}{(h >> 1) % 10_000_000_000}.{(h >> 35) % 100_000_000:08d}"
    ),
    "points": lambda subs, i, h: str(h % 25000),
    "row_id": lambda subs, i, h: str(100_000 + i),
    "row_key": lambda subs, i, h: guid(h),
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
        # The parent's keep the salt they always had; another unit's data extension of the same key gets its own.
        owner = "" if spec.owner == MAIN_MID else f"{spec.owner}:"
        self._salt = salt_for(seed, f"DataExtension:{owner}{spec.key}")
        self._subs = subscribers
        self._step = max(SECOND_MS, ((PERIOD_END_MS - DE_ROWS_FROM_MS) // max(1, size)) // 1000 * 1000)
        # "order" fields take their value from the row index (see order_key), not from a generator
        self._fields = tuple(
            (f.name, _DE_GENERATORS.get(f.gen), f.blank_pct, n * 0x9E3779B1) for n, f in enumerate(spec.fields)
        )

    def order_key(self, i: int) -> int:
        h = hash_at(self._salt, i)
        return DE_ROWS_FROM_MS + i * self._step + (h % (self._step // 2000 + 1)) * 1000

    def row(self, i: int) -> dict:
        h = hash_at(self._salt, i)
        row: dict[str, str] = {ROW_KEY: str(i + 1)}
        for name, gen, blank_pct, salt in self._fields:
            if gen is None:
                row[name] = server_us(self.order_key(i))
                continue
            fh = splitmix(h ^ salt)
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
        if folded == ROW_KEY.casefold():
            return ROW_KEY_FIELD
        for f in self.spec.fields:
            if f.name.casefold() == folded:
                return f
        return None

    def resolve(self, name: str) -> FieldRef | None:
        f = self.field(name)
        if f is None:
            return None
        return FieldRef(f.name, VALUE_TYPE_OF_DE_FIELD.get(f.field_type, VT_STR))


def build_data_extensions(seed: int, scale: float, subscribers: Subscribers) -> tuple[DataExtension, ...]:
    salt = salt_for(seed, "DataExtension")
    out = []
    for i, spec in enumerate(DATA_EXTENSIONS):
        created, modified = dated(salt, i, utc_ms(2023, 9, 1), 500)
        size = scaled(spec.rows_at_scale_1, scale) if spec.scales else spec.rows_at_scale_1
        out.append(
            DataExtension(
                spec,
                guid(hash_at(salt, 100 + i)),
                600 if spec.shared else choose(hash_at(salt, i), (201, 202, 203)),
                created,
                modified,
                DataExtensionRows(seed, spec, size, subscribers),
            )
        )
    return tuple(out)


# Data extensions in the parent's "Shared Data Extensions" folder (ContentType shared_dataextension) are the
# parent's, and every child unit sees them too (PROTOCOL.md section 7): a retrieve from a child's token lists them
# (and their fields) with the parent's Client.ID.
SHARED_FOLDER_IDS = frozenset({600})
SHARED = "_shared"  # row flag, never rendered: which rows every unit of the enterprise sees


def data_extension_rows(seed: int, data_extensions: Sequence[DataExtension]) -> tuple[list[dict], list[dict]]:
    de_rows, field_rows = [], []
    for de in data_extensions:
        spec = de.spec
        row = base_row(spec.owner, de.created_ms, de.modified_ms, id_=None, object_id=de.object_id, customer_key=de.key)
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
                # A numeric unit code whose meaning SFMC does not document; a recorded answer carries 0.
                "DataRetentionPeriodUnitOfMeasure": 3 if spec.retention_days else 0,
                "RetainUntil": "",
                "RowBasedRetention": bool(spec.retention_days),
                "ResetRetentionPeriodOnImport": False,
                "DeleteAtEndOfRetentionPeriod": bool(spec.retention_days),
                "DataRetentionPeriod": "Days" if spec.retention_days else None,
                "CategoryID": de.category_id,
                "Status": "Active",
                SHARED: de.category_id in SHARED_FOLDER_IDS,
            }
        )
        de_rows.append(row)
        owner = "" if spec.owner == MAIN_MID else f"{spec.owner}:"
        salt = salt_for(seed, f"DataExtensionField:{owner}{de.key}")
        for ordinal, f in enumerate(spec.fields):
            frow = base_row(
                spec.owner,
                de.created_ms,
                de.modified_ms,
                id_=None,
                object_id=guid(hash_at(salt, ordinal)),
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
                    SHARED: de.category_id in SHARED_FOLDER_IDS,
                }
            )
            field_rows.append(frow)
    return de_rows, field_rows
