"""Small materialised objects: folders, lists, emails, content areas and triggered send definitions."""

from __future__ import annotations

from collections.abc import Sequence

from ..soap_accounts import CHILD_MIDS, MAIN_MID
from ..soap_dates import utc_ms
from .hashing import choose, guid, hash_at, salt_for
from .rows import base_row, dated

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


def build_folders(seed: int, shift_ms: int = 0) -> list[dict]:
    salt = salt_for(seed, "DataFolder")
    rows = []
    for i, (fid, parent, name, content_type) in enumerate(FOLDERS):
        created, modified = dated(salt, i, shift_ms + utc_ms(2021, 3, 1), 900)
        row = base_row(
            MAIN_MID,
            created,
            modified,
            id_=fid,
            object_id=guid(hash_at(salt, 1000 + i)),
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


SEND_CLASSIFICATIONS = (  # ObjectID, CustomerKey
    ("3f2b0c1e-8a7d-4c3e-9b1a-0d5e6f7a8b01", "Default Commercial"),
    ("7c9d2e4f-1b3a-4d5c-8e6f-2a3b4c5d6e02", "Default Transactional"),
)


def _send_classification(h: int) -> dict:
    object_id, key = SEND_CLASSIFICATIONS[h % 4 == 0]
    return {"SendClassification.ObjectID": object_id, "SendClassification.CustomerKey": key}


def build_lists(seed: int, shift_ms: int = 0) -> list[dict]:
    salt = salt_for(seed, "List")
    rows = []
    all_subs = base_row(
        MAIN_MID,
        shift_ms + utc_ms(2019, 5, 14, 15, 2, 11),
        shift_ms + utc_ms(2019, 5, 14, 15, 2, 11),
        id_=1100,
        object_id=guid(hash_at(salt, 999)),
        customer_key="All Subscribers - 7281234",
    )
    all_subs.update(
        {
            "ListName": "All Subscribers",
            "Category": 300,
            "Type": "Private",
            "Description": "",
            "ListClassification": "ExactTargetList",
            **_send_classification(1),
        }
    )
    rows.append(all_subs)
    for i, name in enumerate(LIST_NAMES):
        h = hash_at(salt, i)
        created, modified = dated(salt, i, shift_ms + utc_ms(2022, 1, 1), 1200)
        suppression = name.startswith("Suppression")
        mid = MAIN_MID if i % 9 != 8 else CHILD_MIDS[i % 2]
        row = base_row(
            mid,
            created,
            modified,
            id_=1101 + i,
            object_id=guid(hash_at(salt, 500 + i)),
            customer_key=choose(h, (f"list-{1101 + i}", name.upper().replace(" ", "_"), None)),
        )
        row.update(
            {
                "ListName": name,
                "Category": 302 if suppression else choose(h >> 8, (300, 301, 301)),
                "Type": "Public" if not suppression and name not in ("Seed List", "Test Recipients") else "Private",
                "Description": choose(h >> 16, ("", f"Subscribers of {name}", "Imported from CRM & web forms")),
                "ListClassification": "SuppressionList"
                if suppression
                else choose(h >> 24, ("ExactTargetList",) * 3 + ("PublicationList",)),
                **_send_classification(h >> 32),
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


def build_emails(seed: int, shift_ms: int = 0) -> list[dict]:
    salt = salt_for(seed, "Email")
    rows = []
    for i in range(40):
        h = hash_at(salt, i)
        created, modified = dated(salt, i, shift_ms + utc_ms(2024, 6, 1), 300)
        subject = EMAIL_SUBJECTS[i % len(EMAIL_SUBJECTS)]
        name = f"{2024 + i // 20}-{(i % 12) + 1:02d} {subject.split(':')[0][:30]} ({choose(h, ('FR', 'EN', 'DE'))})"
        html = (
            f'<html><body><h1>{subject}</h1><p>Hello %%FirstName%%,</p><a href="https://www.example.com/'
            f'?utm_source=sfmc&amp;utm_campaign={i}">Shop now</a></body></html>'
        )
        row = base_row(
            MAIN_MID, created, modified, id_=5000 + i, object_id=None, customer_key=guid(hash_at(salt, 100 + i))
        )
        row.update(
            {
                "Name": name,
                "Folder": None,
                "CategoryID": choose(h >> 8, (101, 102, 103, 104)),
                "HTMLBody": html,
                "TextBody": None if h & 4 else f"{subject}\n\nHello %%FirstName%%, shop now: https://www.example.com/",
                "Subject": subject,
                "IsActive": True,
                "IsHTMLPaste": bool(h & 8),
                "ClonedFromID": 0 if h & 16 else 5000,
                "Status": choose(h >> 16, ("New", "Active", "Active", "Inactive")),
                "EmailType": choose(h >> 20, ("HTML", "HTML", "Text", "TextOnly")),
                "CharacterSet": choose(h >> 24, ("utf-8", "utf-8", "iso-8859-1")),
                "HasDynamicSubjectLine": subject.find("%%") >= 0,
                "ContentCheckStatus": choose(h >> 28, ("Not Checked", "Passed")),
                "SyncTextWithHTML": bool(h & 32),
                "PreHeader": choose(h >> 32, ("", "Don't miss out", "Offre limitée")),
                "IsApproved": bool(h & 64),
                # Content areas of classic emails: header and footer, plus a promo banner in some.
                "ContentAreas.ID": (7000 + i % 5, 7005 + i % 5) + ((7010 + i % 10,) if h & 128 else ()),
                "AdditionalEmailAttribute1": choose(h >> 40, ("", "spring-campaign", "newsletter")),
                "AdditionalEmailAttribute2": "FR" if "(FR)" in name else "",
                "AdditionalEmailAttribute3": "",
                "AdditionalEmailAttribute4": "",
                "AdditionalEmailAttribute5": "",
            }
        )
        rows.append(row)
    return rows


def build_content_areas(seed: int, shift_ms: int = 0) -> list[dict]:
    salt = salt_for(seed, "ContentArea")
    rows = []
    for i in range(20):
        h = hash_at(salt, i)
        created, modified = dated(salt, i, shift_ms + utc_ms(2020, 9, 1), 1400)
        name = choose(h, ("Header", "Footer", "Legal", "Promo banner", "Social links")) + f" {i}"
        row = base_row(
            MAIN_MID, created, modified, id_=7000 + i, object_id=guid(hash_at(salt, 100 + i)), customer_key=f"ca_{i}"
        )
        row.update(
            {
                "Key": f"ca_{i}",
                "Content": f"<table><tr><td>{name} &amp; more</td></tr></table>" if h & 2 else "",
                "IsBlank": not (h & 2),
                "CategoryID": 401 if h & 4 else 400,
                "Name": name,
                "Layout": choose(h >> 8, ("HTMLWrapped", "RawText")),
                "IsDynamicContent": bool(h & 8),
                "IsSurvey": False,
                "BackgroundColor": choose(h >> 12, ("#FFFFFF", "#F4F4F4", "")),
                "BorderColor": choose(h >> 14, ("", "#CCCCCC")),
                "BorderWidth": (h >> 16) % 2,
                "Cellpadding": choose(h >> 18, (0, 5, 10)),
                "Cellspacing": 0,
                "Width": choose(h >> 20, ("100%", "600", "")),
                "FontFamily": choose(h >> 22, ("Arial", "Georgia, serif", "")),
                "HasFontSize": bool(h & 32),
                "IsLocked": bool(h & 16),
            }
        )
        rows.append(row)
    return rows


def build_triggered_sends(seed: int, emails: Sequence[dict], lists: Sequence[dict], shift_ms: int = 0) -> list[dict]:
    salt = salt_for(seed, "TriggeredSendDefinition")
    rows = []
    for i, (key, name, subject, status) in enumerate(TRIGGERED_SENDS):
        h = hash_at(salt, i)
        created, modified = dated(salt, i, shift_ms + utc_ms(2023, 2, 1), 600)
        row = base_row(
            MAIN_MID, created, modified, id_=8100 + i, object_id=guid(hash_at(salt, 100 + i)), customer_key=key
        )
        row.update(
            {
                "Name": name,
                "Description": choose(h, ("", f"{name} (journey step)", "Always-on")),
                "CategoryID": 501,
                "SendClassification.CustomerKey": "Default Transactional" if i in (1, 2) else "Default Commercial",
                "FromName": "Northwind Store",
                "FromAddress": "hello@northwind.example.com",
                "TriggeredSendStatus": status,
                "Email.ID": emails[(i * 7) % len(emails)]["ID"],
                "List.ID": lists[0]["ID"],
                "AutoAddSubscribers": True,
                "AutoUpdateSubscribers": bool(h & 2),
                "BccEmail": "audit@northwind.example.com" if i == 2 else "",
                "EmailSubject": subject,
                "DynamicEmailSubject": subject if "%%" in subject else "",
                "IsMultipart": True,
                "IsWrapped": True,
                "SendLimit": 0 if i % 3 else 5000,
                "SendWindowOpen": "00:00:00" if i % 3 else "08:00:00",
                "SendWindowClose": "00:00:00" if i % 3 else "20:00:00",
                "Priority": choose(h >> 8, ("Medium", "High", "Low")),
            }
        )
        rows.append(row)
    return rows
