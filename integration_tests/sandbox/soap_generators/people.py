"""Subscribers and list memberships, generated on demand in creation-date order."""

from __future__ import annotations

from collections.abc import Sequence

from ..soap_accounts import CHILD_MIDS, MAIN_MID
from ..soap_dates import DAY_MS, HOUR_MS, utc_ms
from ..soap_objects import ABSENT
from .hashing import guid, hash_at, salt_for
from .rows import PERIOD_END_MS, Collection

SUBSCRIBERS_AT_SCALE_1 = 3_000
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
    """Subscriber i, created in index order between 2023-01-01 and 2025-06-30 (plus the epoch's `shift_ms`)."""

    order_prop = "CreatedDate"

    def __init__(self, seed: int, size: int, shift_ms: int = 0):
        self.size = size
        self.shift_ms = shift_ms
        self.end_ms = PERIOD_END_MS + shift_ms
        self._salt = salt_for(seed, "Subscriber")
        self._step = max(1, (SUBSCRIBERS_TO_MS - SUBSCRIBERS_FROM_MS) // max(1, size))

    def key(self, i: int) -> str:
        if i % 3 == 0:
            return self.email(i)
        return f"SK-{i:07d}"

    def email(self, i: int) -> str:
        h = hash_at(self._salt, i)
        first = FIRST_NAMES[h % len(FIRST_NAMES)][1]
        last = LAST_NAMES[(h >> 8) % len(LAST_NAMES)][1]
        return f"{first}.{last}{i}@{DOMAINS[(h >> 16) % len(DOMAINS)]}"

    def mid(self, i: int) -> int:
        h = hash_at(self._salt, i)
        return MAIN_MID if (h >> 40) % 10 else CHILD_MIDS[(h >> 44) % len(CHILD_MIDS)]

    def order_key(self, i: int) -> int:
        h = hash_at(self._salt, i)
        # jitter under half a step keeps creation dates increasing with the index
        return self.shift_ms + SUBSCRIBERS_FROM_MS + i * self._step + (h >> 20) % max(1, self._step // 2)

    def status(self, i: int) -> str:
        r = (hash_at(self._salt, i) >> 24) % 100
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
        h = hash_at(self._salt, i)
        first = FIRST_NAMES[h % len(FIRST_NAMES)][0]
        last = LAST_NAMES[(h >> 8) % len(LAST_NAMES)][0]
        created = self.order_key(i)
        status = self.status(i)
        unsubscribed = (
            min(created + (1 + (h >> 32) % 300) * DAY_MS, self.end_ms - HOUR_MS) if status == "Unsubscribed" else None
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
            "CustomerKey": self.key(i),
            "EmailAddress": self.email(i),
            "Attributes": tuple(attrs),
            "SubscriberKey": self.key(i),
            "UnsubscribedDate": unsubscribed,
            "Status": status,
            "EmailTypePreference": "Text" if (h >> 56) % 10 == 0 else "HTML",
            **self._sms_and_locale(i, h),
            "Addresses": (("Email", self.email(i)),)
            + ((("SMS", f"1555{i % 10_000_000:07d}"),) if (h >> 58) % 4 == 0 else ()),
        }

    @staticmethod
    def _sms_and_locale(i: int, h: int) -> dict:
        """A mobile number for one subscriber in four (opted in or out of SMS), and the subscriber's locale."""
        has_sms = (h >> 58) % 4 == 0
        return {
            "SubscriberTypeDefinition.SubscriberType": "",
            "PrimarySMSAddress.AddressType": "SMS" if has_sms else ABSENT,
            "PrimarySMSAddress.Address": f"1555{i % 10_000_000:07d}" if has_sms else ABSENT,
            "PrimarySMSAddress.Carrier": "" if has_sms else ABSENT,
            "PrimarySMSPublicationStatus": ("OptedIn" if (h >> 60) % 3 else "OptedOut") if has_sms else ABSENT,
            "Locale.LocaleCode": LOCALES[(h >> 36) % len(LOCALES)].lower(),
        }


class ListMembers(Collection):
    """List memberships: two for every other subscriber, one for the rest, created in index order."""

    order_prop = "CreatedDate"

    def __init__(self, seed: int, subscribers: Subscribers, lists: Sequence[dict]):
        self.subscribers = subscribers
        self.lists = tuple(lists)
        self.size = self._first(subscribers.size)
        self._salt = salt_for(seed, "ListSubscriber")
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
        h = hash_at(self._salt, s)
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
            "ModifiedDate": min(modified, self.subscribers.end_ms - HOUR_MS),
            "ID": 90_000_000 + j,
            "ObjectID": guid(hash_at(self._salt ^ 0x5A5A, j)),
            "CustomerKey": None,
            "Status": status,
            "ListID": lst["ID"],
            "SubscriberKey": self.subscribers.key(s),
            "UnsubscribedDate": min(modified, self.subscribers.end_ms - HOUR_MS) if status == "Unsubscribed" else None,
        }
