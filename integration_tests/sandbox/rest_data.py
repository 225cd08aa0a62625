"""Deterministic REST data for the sandbox: campaigns, assets, journeys and automations.

Everything derives from (seed, scale, epoch) through per-collection random generators, so changing one
collection's generator never reshuffles another. Dates spread over the year before the epoch in server time
(UTC-6, SFMC's clock): 2024-06-01..2025-06-30 for the fixed epoch 2025-07-01 that tests use. Only journey
history, which SFMC keeps for 30 days, is dated relative to when the data is built (see `journey_history`).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .journey_history import JourneyHistory, journey_steps

# Record counts at scale 1; they scale linearly with --scale.
BASE_COUNTS = {"campaigns": 120, "assets": 300, "journeys": 40, "automations": 30}

PERIOD_START = datetime(2024, 6, 1)
PERIOD_END = datetime(2025, 6, 30, 23, 59, 59)
FIXED_EPOCH = date(2025, 7, 1)  # the day after PERIOD_END (UTC): the epoch the fixed data set is drawn around


@dataclass(frozen=True)
class Period:
    """The server-time span REST objects are dated in; another epoch moves it by whole days."""

    start: datetime
    end: datetime

    @classmethod
    def for_epoch(cls, epoch: date) -> Period:
        shift = timedelta(days=(epoch - FIXED_EPOCH).days)
        return cls(PERIOD_START + shift, PERIOD_END + shift)


ENTERPRISE_ID = 7281000
MEMBER_ID = 7281234

_NAME_STEMS = (
    "Spring Sale",
    "Été 2024 \u2013 Soldes",
    "Black Friday 🔥",
    "新品上市",
    "Ürün Lansman\u0131",
    "Rentrée scolaire",
    "Año Nuevo",
    "Welcome Series",
    "Win-back «VIP»",
    "Newsletter",
    "Cyber Monday 💻",
    "Loyalty Rewards ⭐",
    "Früh­lings­angebote",
    "Ramadan Kareem 🌙",
    "Back in stock",
    'Product "Launch"',
    "Sommerschlussverkauf",
    "Boas-vindas",
)
_DESCRIPTIONS = (
    None,
    "",
    "",
    "Quarterly promotion for active subscribers.",
    "Audience: loyalty members\nOwner: CRM team",
    "Réactivation des clients inactifs (> 180 jours).",
    "顧客向けのお知らせ",
    'Uses the "hero" template; see brief.',
)
_COLORS = ("0000ff", "ff0000", "00a1e0", "7f8de1", "f3b500", "2ecc71", None)
_PEOPLE = (
    (71234, "Jane Doe", "jane.doe@example.com"),
    (71235, "José Álvarez", "jose.alvarez@example.com"),
    (71236, "李 娜", "li.na@example.com"),
    (71237, "API User", ""),
)


@dataclass(frozen=True)
class RestData:
    campaigns: list[dict[str, Any]]
    campaign_assets: dict[str, list[dict[str, Any]]]
    assets: list[dict[str, Any]]
    journeys: list[dict[str, Any]]  # every version of every journey, each a full definition
    automations: list[dict[str, Any]]  # full definitions, steps included
    # Dated relative to when it was built, so two builds compare equal on the rest.
    journey_history: JourneyHistory = field(compare=False)


def build_rest_data(
    seed: int = 42, scale: float = 1.0, epoch: date = FIXED_EPOCH, anchor: datetime | None = None
) -> RestData:
    """Same (seed, scale, epoch), same data: objects are dated in the year before `epoch` (server time); journey
    history ends at `anchor` (default: now)."""
    counts = {name: round(base * scale) for name, base in BASE_COUNTS.items()}
    period = Period.for_epoch(epoch)
    campaigns, campaign_assets = _campaigns(_rng(seed, "campaigns"), counts["campaigns"], period)
    journeys = _journeys(_rng(seed, "journeys"), counts["journeys"], campaigns, period)
    anchor = (anchor or datetime.now(UTC)).replace(microsecond=0)
    return RestData(
        campaigns=campaigns,
        campaign_assets=campaign_assets,
        assets=_assets(_rng(seed, "assets"), counts["assets"], period),
        journeys=journeys,
        automations=_automations(_rng(seed, "automations"), counts["automations"], period),
        journey_history=JourneyHistory(seed, scale, anchor, journey_steps(journeys)),
    )


# --- formatting ---------------------------------------------------------------------------------


def server_time(moment: datetime) -> str:
    """SFMC's .NET style: server time without offset, milliseconds with trailing zeros dropped."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    millis = f"{moment.microsecond // 1000:03d}".rstrip("0")
    return f"{text}.{millis}" if millis else text


def server_time_with_offset(moment: datetime) -> str:
    """The asset API's form, e.g. 2021-09-13T12:14:02.32-06:00."""
    return server_time(moment) + "-06:00"


# --- helpers ------------------------------------------------------------------------------------


def _rng(seed: int, collection: str) -> random.Random:
    return random.Random(f"{seed}:{collection}")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = int((end - start).total_seconds() * 1000)
    return start + timedelta(milliseconds=rng.randrange(max(span, 1)))


def _created_and_modified(rng: random.Random, period: Period) -> tuple[datetime, datetime]:
    modified = _moment(rng, period.start, period.end)
    created = modified - timedelta(days=rng.choice((0, 0, 1, 3, 30, 200, 400)), seconds=rng.randrange(86400))
    return min(created, modified), modified


def _name(rng: random.Random, index: int) -> str:
    return f"{rng.choice(_NAME_STEMS)} {index:03d}"


def _person(rng: random.Random) -> dict[str, Any]:
    user_id, name, email = rng.choice(_PEOPLE)
    return {"id": user_id, "email": email, "name": name, "userId": str(user_id)}


# --- campaigns ----------------------------------------------------------------------------------

_CAMPAIGN_ASSET_TYPES = ("EMAIL", "TRIGGERED_SEND", "SENDABLE_DATA_EXTENSION", "LIST", "CMS_ASSET", "SMS")


def _campaigns(
    rng: random.Random, count: int, period: Period
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    campaigns: list[dict[str, Any]] = []
    assets: dict[str, list[dict[str, Any]]] = {}
    for index in range(count):
        created, modified = _created_and_modified(rng, period)
        campaign_id = str(1000 + index * 7 + rng.randrange(7))
        campaigns.append(
            {
                "id": campaign_id,
                "createdDate": server_time(created),
                "modifiedDate": server_time(modified),
                "name": _name(rng, index),
                "description": rng.choice(_DESCRIPTIONS),
                "campaignCode": rng.choice((None, "", f"CMP-{index:04d}", f"Q{rng.randint(1, 4)}-{index}")),
                "color": rng.choice(_COLORS),
                "favorite": rng.random() < 0.15,
            }
        )
        assets[campaign_id] = [
            {
                "id": str(500000 + index * 1000 + position),
                "type": rng.choice(_CAMPAIGN_ASSET_TYPES),
                "campaignId": campaign_id,
                "itemID": str(rng.randrange(10000, 999999)),
                "objectID": str(uuid.UUID(int=int(campaign_id) * 1000 + position, version=4)),
                "createdDate": server_time(_moment(rng, created, max(modified, created + timedelta(1)))),
            }
            # One campaign has more assets than a page holds, so that readers must page.
            for position in range(rng.choice((0, 0, 1, 2, 3, 5)) + (120 if index == 1 else 0))
        ]
    return campaigns, assets


# --- assets -------------------------------------------------------------------------------------

_ASSET_TYPES = (
    # (id, name, displayName, kind)
    (208, "htmlemail", "HTML Email", "email"),
    (207, "templatebasedemail", "Template-Based Email", "email"),
    (209, "textonlyemail", "Text Only Email", "email"),
    (197, "htmlblock", "HTML Block", "block"),
    (196, "textblock", "Text Block", "block"),
    (220, "codesnippetblock", "Code Snippet Block", "block"),
    (28, "jpg", "Image", "image"),
    (27, "png", "Image", "image"),
)
_CATEGORIES = (
    {"id": 3001, "name": "Content Builder", "parentId": 0},
    {"id": 3002, "name": "Newsletters", "parentId": 3001},
    {"id": 3003, "name": "Bibliothèque d'images", "parentId": 3001},
    {"id": 3004, "name": "Shared Content 🔗", "parentId": 0},
)


def _assets(rng: random.Random, count: int, period: Period) -> list[dict[str, Any]]:
    assets = []
    previous_modified: datetime | None = None
    for index in range(count):
        type_id, type_name, display_name, kind = rng.choice(_ASSET_TYPES)
        created, modified = _created_and_modified(rng, period)
        if previous_modified is not None and rng.random() < 0.03:
            modified = previous_modified  # SFMC timestamps collide now and then: cursors must cope
            created = min(created, modified)
        previous_modified = modified
        owner = _person(rng)
        asset: dict[str, Any] = {
            "id": 10000 + index * 3 + rng.randrange(3),
            "customerKey": _uuid(rng),
            "objectID": _uuid(rng),
            "assetType": {"id": type_id, "name": type_name, "displayName": display_name},
            "name": _name(rng, index),
            "description": rng.choice(_DESCRIPTIONS) or "",
            "owner": owner,
            "createdDate": server_time_with_offset(created),
            "createdBy": owner,
            "modifiedDate": server_time_with_offset(modified),
            "modifiedBy": _person(rng),
            "enterpriseId": ENTERPRISE_ID,
            "memberId": MEMBER_ID,
            "status": rng.choice(({"id": 1, "name": "Draft"}, {"id": 2, "name": "Published"})),
            "category": dict(rng.choice(_CATEGORIES)),
            "availableViews": [],
            "modelVersion": 2,
        }
        asset.update(_asset_kind_fields(rng, kind, type_name, index))
        asset.update(_asset_version_and_layout(asset["id"], kind, index))
        if rng.random() < 0.2:
            asset["tags"] = rng.sample(["promo", "holiday", "légal", "test", "ab-test"], rng.randint(1, 3))
        if rng.random() < 0.3:
            asset["legacyData"] = {"legacyId": rng.randrange(1000, 99999), "legacyKey": _uuid(rng)}
        assets.append(asset)
    return assets


def _asset_version_and_layout(asset_id: int, kind: str, index: int) -> dict[str, Any]:
    """Version, thumbnail, and for emails and blocks their slots and blocks (Content Builder's asset model).

    Derived from the index, not drawn from the random stream, so the rest of the data set stays as it was."""
    fields: dict[str, Any] = {
        "version": 1 + index % 3,
        "thumbnail": {"thumbnailUrl": f"/v1/assets/{asset_id}/thumbnail"},
    }
    if kind == "email":
        block = {
            "assetType": {"id": 197, "name": "textblock"},
            "content": f"<p>Bonjour %%FirstName%% — issue {index}</p>",
            "design": "",
            "meta": {},
            "availableViews": [],
            "modelVersion": 2,
        }
        fields["slots"] = {
            "banner": {"content": '<div data-type="block" data-key="intro"></div>', "blocks": {"intro": block}},
        }
    elif kind == "block":
        fields["blocks"] = {}
    return fields


def _asset_kind_fields(rng: random.Random, kind: str, type_name: str, index: int) -> dict[str, Any]:
    if kind == "email":
        subject = rng.choice(("Your weekly digest", "¡Última oportunidad! ⏰", "Nouveautés", "", "{{FirstName}}, hi"))
        return {
            "contentType": "application/vnd.etmc.email.Message; kind=paste",
            "availableViews": ["html", "text", "subjectline", "preheader"],
            "views": {
                "subjectline": {"content": subject},
                "preheader": {"content": rng.choice(("", "Don't miss out", None))},
                "html": {"content": f"<html><body><h1>Issue {index}</h1></body></html>"},
            },
            "data": {"email": {"options": {"characterEncoding": "utf-8"}}},
        }
    if kind == "block":
        return {
            "content": rng.choice(("<p>Hello 👋</p>", "%%=v(@firstName)=%%", "", "<table><tr><td>x</td></tr></table>")),
            "meta": {"wrapperStyles": {"mobile": {"visible": True}}},
        }
    extension = "jpg" if type_name == "jpg" else "png"
    return {
        "fileProperties": {
            "fileName": f"banner_{index}.{extension}",
            "extension": extension,
            "fileSize": rng.randrange(2_000, 900_000),
            "width": rng.choice((600, 1200, 300)),
            "height": rng.choice((200, 400, 628)),
            "publishedURL": f"https://image.s7.sfmc-content.com/lib/fe3c/m/1/banner_{index}.{extension}",
        }
    }


# --- journeys -----------------------------------------------------------------------------------

_TRIGGER_TYPES = (
    ("EmailAudience", "Data Extension", "/images/icon_data-extension.svg"),
    ("AutomationAudience", "Automation", "/images/icon_automation.svg"),
    ("APIEvent", "API Event", "/images/icon_api-event.svg"),
    ("ContactAudience", "Audience", "/images/icon_audience.svg"),
)
_ENTRY_MODES = ("NotReentrant", "MultipleEntries", "SingleEntryAcrossAllVersions")


def _journeys(rng: random.Random, count: int, campaigns: list[dict[str, Any]], period: Period) -> list[dict[str, Any]]:
    versions: list[dict[str, Any]] = []
    for index in range(count):
        transactional = index % 13 == 12  # a few transactional sends, listed only on request
        version_count = 1 if transactional else rng.choice((1, 1, 2, 2, 3, 4))
        key = _uuid(rng)
        name = _name(rng, index)
        created = _moment(rng, period.start, period.end - timedelta(days=60))
        category_id = rng.choice((4001, 4002, 4003))
        for number in range(1, version_count + 1):
            modified = _moment(rng, created, min(created + timedelta(days=45), period.end))
            latest = number == version_count
            versions.append(
                _journey_version(rng, index, key, name, number, created, modified, latest, transactional, campaigns)
                | {"categoryId": category_id}
            )
            created = modified + timedelta(hours=rng.randrange(1, 200))
    return versions


def _journey_version(
    rng: random.Random,
    index: int,
    key: str,
    name: str,
    number: int,
    created: datetime,
    modified: datetime,
    latest: bool,
    transactional: bool,
    campaigns: list[dict[str, Any]],
) -> dict[str, Any]:
    if latest:
        status = rng.choice(("Published", "Published", "Published", "Draft", "Stopped", "Paused"))
    else:
        status = rng.choice(("Stopped", "Stopped", "Finishing"))
    activities = [_email_activity(rng, 1, None, campaigns)] if transactional else _activity_chain(rng, campaigns)
    journey: dict[str, Any] = {
        "id": _uuid(rng),
        "key": key,
        "name": name,
        "description": rng.choice(_DESCRIPTIONS),
        "version": number,
        "workflowApiVersion": 1.0,
        "createdDate": server_time(created),
        "modifiedDate": server_time(modified),
        "status": status,
        "definitionId": _uuid(rng),
        "entryMode": "MultipleEntries" if transactional else rng.choice(_ENTRY_MODES),
        "definitionType": "Transactional" if transactional else "Multistep",
        "channel": "email" if transactional else "",
        "defaults": {"email": ['{{Event."DEAudience-' + key[:8] + '".EmailAddress}}']},
        "metaData": {"dataSource": "ContactsModel", "highThroughputSending": {"email": False}},
        "executionMode": "Production",
        "scheduledStatus": "Draft" if status == "Draft" else "Complete",
        "triggers": [_trigger(rng, transactional)],
        "goals": [] if transactional or rng.random() < 0.4 else [_goal(rng)],
        "exits": [],
        "notifiers": [],
        "activities": activities,
        "stats": _journey_stats(rng, status),
    }
    if status != "Draft":
        journey["lastPublishedDate"] = server_time(modified)
    return journey


def _trigger(rng: random.Random, transactional: bool) -> dict[str, Any]:
    if transactional:
        trigger_type, title, icon = ("transactional-api", "Transactional API", "/images/icon_api-event.svg")
    else:
        trigger_type, title, icon = rng.choice(_TRIGGER_TYPES)
    event_key = f"DEAudience-{_uuid(rng)}"
    return {
        "id": _uuid(rng),
        "key": "TRIGGER",
        "name": title,
        "description": "",
        "type": trigger_type,
        "outcomes": [],
        "arguments": {"filterResult": ""},
        "configurationArguments": {"criteria": "", "schemaVersionId": 0},
        "metaData": {
            "eventDefinitionId": _uuid(rng),
            "eventDefinitionKey": event_key,
            "chainType": "None",
            "configurationRequired": False,
            "iconUrl": icon,
            "title": title,
            "sourceInteractionId": "00000000-0000-0000-0000-000000000000",
        },
    }


def _goal(rng: random.Random) -> dict[str, Any]:
    return {
        "id": _uuid(rng),
        "key": "goal_key",
        "name": rng.choice(("Made a purchase", "Clicked any link", "Objectif atteint ✅")),
        "description": "",
        "type": "ContactDecision",
        "outcomes": [],
        "arguments": {},
        "configurationArguments": {
            "criteria": '<FilterDefinition><ConditionSet Operator="AND"/></FilterDefinition>',
            "schemaVersionId": 0,
        },
        "metaData": {
            "conversionUnit": "percentage",
            "conversionValue": rng.choice((5, 10, 25)),
            "isExitCriteria": rng.random() < 0.3,
        },
    }


def _journey_stats(rng: random.Random, status: str) -> dict[str, Any]:
    cumulative = 0 if status == "Draft" else rng.randrange(0, 250_000)
    current = 0 if status in ("Draft", "Stopped") else rng.randrange(0, cumulative + 1)
    met_goal = rng.randrange(0, cumulative // 5 + 1)
    return {
        "currentPopulation": current,
        "cumulativePopulation": cumulative,
        "metGoal": met_goal,
        "metExitCriteria": rng.randrange(0, cumulative // 10 + 1),
        "goalPerformance": round(100.0 * met_goal / cumulative, 2) if cumulative else 0.0,
    }


def _activity_chain(rng: random.Random, campaigns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A realistic path: emails separated by waits, with a decision or split that branches to emails."""
    plan = ["EMAILV2", "WAIT"]
    plan += rng.choice((["MULTICRITERIADECISION"], ["RANDOMSPLIT"], ["EMAILV2"], []))
    plan += ["EMAILV2"] * rng.randint(0, 2) + rng.choice((["UPDATECONTACTDATA"], [], []))
    counters: dict[str, int] = {}
    keys = []
    for activity_type in plan:
        counters[activity_type] = counters.get(activity_type, 0) + 1
        keys.append(f"{activity_type}-{counters[activity_type]}")
    activities = []
    for position, (activity_type, key) in enumerate(zip(plan, keys, strict=True)):
        next_key = keys[position + 1] if position + 1 < len(keys) else None
        if activity_type == "EMAILV2":
            activity = _email_activity(rng, _key_number(key), next_key, campaigns)
        elif activity_type == "WAIT":
            activity = _wait_activity(rng, key, next_key)
        elif activity_type in ("MULTICRITERIADECISION", "RANDOMSPLIT"):
            activity = _branch_activity(rng, activity_type, key, next_key)
        else:
            activity = _update_contact_activity(rng, key, next_key)
        activities.append(activity)
    return activities


def _key_number(key: str) -> int:
    return int(key.rsplit("-", 1)[1])


def _outcome(rng: random.Random, next_key: str | None, **arguments: Any) -> dict[str, Any]:
    outcome: dict[str, Any] = {"key": _uuid(rng), "arguments": arguments, "metaData": {"invalid": False}}
    if next_key:
        outcome["next"] = next_key
    return outcome


def _email_activity(
    rng: random.Random, number: int, next_key: str | None, campaigns: list[dict[str, Any]]
) -> dict[str, Any]:
    subject = rng.choice(("Welcome aboard 🎉", "Vous nous manquez", "Your order has shipped", "Último aviso"))
    linked = [
        {"id": campaign["id"], "name": campaign["name"], "color": campaign["color"]}
        for campaign in rng.sample(campaigns, min(len(campaigns), rng.choice((0, 0, 1))))
    ]
    return {
        "id": _uuid(rng),
        "key": f"EMAILV2-{number}",
        "name": subject,
        "description": "",
        "type": "EMAILV2",
        "outcomes": [_outcome(rng, next_key)],
        "arguments": {},
        "configurationArguments": {
            "applicationExtensionKey": "jb-email-activity",
            "isModified": False,
            "isSimulation": False,
            "googleAnalyticsCampaignName": "",
            "useLLTS": False,
            "triggeredSend": {
                "emailId": rng.randrange(10000, 99999),
                "emailSubject": subject,
                "dynamicEmailSubject": subject,
                "preHeader": rng.choice(("", "Open for a surprise")),
                "description": "",
                "campaigns": linked,
                "autoAddSubscribers": True,
                "autoUpdateSubscribers": True,
                "bccEmail": "",
                "ccEmail": "",
                "created": {},
                "domainExclusions": [],
                "exclusionFilter": "",
                "isSalesforceTracking": True,
                "isMultipart": True,
                "isSendLogging": rng.random() < 0.5,
                "isStoppedOnJobError": False,
                "isTrackingClicks": True,
                "keyword": "",
                "modified": {},
                "publicationListId": rng.randrange(100, 999),
                "sendClassificationId": _uuid(rng),
                "senderProfileId": _uuid(rng),
                "deliveryProfileId": _uuid(rng),
                "suppressionLists": [],
                "suppressTracking": False,
                "throttleLimit": 0,
                "throttleOpens": "1/1/0001 12:00:00 AM",
                "throttleCloses": "1/1/0001 12:00:00 AM",
                "triggeredSendId": _uuid(rng),
                "triggeredSendKey": _uuid(rng),
                "triggeredSendStatus": "Active",
            },
        },
        "metaData": {
            "icon": "/img/email-icon.svg",
            "iconSmall": "/img/email-icon.svg",
            "category": "message",
            "version": "1.0",
            "isConfigured": True,
            "statsContactIcon": None,
        },
        "schema": {"arguments": {}},
    }


def _wait_activity(rng: random.Random, key: str, next_key: str | None) -> dict[str, Any]:
    unit = rng.choice(("DAYS", "HOURS", "WEEKS"))
    return {
        "id": _uuid(rng),
        "key": key,
        "name": "",
        "description": "",
        "type": "WAIT",
        "outcomes": [_outcome(rng, next_key)],
        "arguments": {},
        "configurationArguments": {
            "waitDuration": rng.choice((1, 2, 3, 7)),
            "waitUnit": unit,
            "specifiedTime": "",
            "timeZone": "Central Standard Time",
            "startActivityKey": "{{Context.StartActivityKey}}",
            "waitForEventId": "",
            "activityId": "",
        },
        "metaData": {"isConfigured": True, "uiType": "WAITBYDURATION"},
        "schema": {"arguments": {"endDate": {"dataType": "Date", "isNullable": False, "direction": "Out"}}},
    }


def _branch_activity(rng: random.Random, activity_type: str, key: str, next_key: str | None) -> dict[str, Any]:
    branch_count = rng.choice((2, 3))
    if activity_type == "RANDOMSPLIT":
        shares = [100 // branch_count] * branch_count
        shares[0] += 100 - sum(shares)
        outcomes = [_outcome(rng, next_key if i == 0 else None, percentage=share) for i, share in enumerate(shares)]
        configuration: dict[str, Any] = {}
    else:
        outcomes = [
            _outcome(rng, next_key if i == 0 else None, criteriaDescription=f"Segment {i + 1}")
            for i in range(branch_count - 1)
        ]
        outcomes.append(_outcome(rng, None))  # the remainder path
        configuration = {
            "criteria": {
                outcome["key"]: '<FilterDefinition><ConditionSet Operator="AND"/></FilterDefinition>'
                for outcome in outcomes[:-1]
            }
        }
    for position, outcome in enumerate(outcomes):
        outcome["metaData"]["label"] = f"Path {position + 1}"
    return {
        "id": _uuid(rng),
        "key": key,
        "name": "Decision split" if activity_type != "RANDOMSPLIT" else "Random split",
        "description": "",
        "type": activity_type,
        "outcomes": outcomes,
        "arguments": {},
        "configurationArguments": configuration,
        "metaData": {"isConfigured": True},
        "schema": {"arguments": {}},
    }


def _update_contact_activity(rng: random.Random, key: str, next_key: str | None) -> dict[str, Any]:
    return {
        "id": _uuid(rng),
        "key": key,
        "name": "Flag as engaged",
        "description": "",
        "type": "UPDATECONTACTDATA",
        "outcomes": [_outcome(rng, next_key)],
        "arguments": {"activityData": {"updateContactFields": [{"field": "Engaged", "value": "true"}]}},
        "configurationArguments": {},
        "metaData": {"isConfigured": True},
        "schema": {"arguments": {}},
    }


# --- automations --------------------------------------------------------------------------------

_AUTOMATION_STATUSES = (
    (2, "Ready"),
    (6, "Scheduled"),
    (6, "Scheduled"),
    (3, "Running"),
    (4, "Paused"),
    (-1, "Error"),
    (8, "InactiveTrigger"),
)
_AUTOMATION_ACTIVITIES = (
    (300, "SQL Query"),
    (42, "Send Email"),
    (43, "Import File"),
    (53, "File Transfer"),
    (73, "Data Extract"),
    (423, "Script"),
    (467, "Wait"),
)


def _automations(rng: random.Random, count: int, period: Period) -> list[dict[str, Any]]:
    automations = []
    for index in range(count):
        created, modified = _created_and_modified(rng, period)
        triggered = rng.random() < 0.25
        status_id, status = rng.choice(_AUTOMATION_STATUSES)
        last_run = _moment(rng, modified, period.end) if status_id != 2 else None
        automations.append(
            {
                "id": _uuid(rng),
                "name": _name(rng, index),
                "description": rng.choice(_DESCRIPTIONS),
                "key": rng.choice((_uuid(rng), f"nightly_import_{index}")),
                "typeId": 2 if triggered else 1,
                "type": "triggered" if triggered else "scheduled",
                "statusId": status_id,
                "status": status,
                "categoryId": rng.choice((5001, 5002, 5003)),
                # GET /automation/v1/automations/{id} has no created or saved dates (PROTOCOL.md section 4): they
                # come from a legacy definition endpoint or an upsert's answer, neither of which the sandbox serves.
                "lastRunTime": server_time(last_run) if last_run else None,
                "lastRunInstanceId": _uuid(rng) if last_run else None,
                "schedule": None if triggered else _schedule(rng, created),
                "steps": _automation_steps(rng),
                "notifications": [],
            }
        )
    return automations


def _schedule(rng: random.Random, created: datetime) -> dict[str, Any]:
    frequency, pattern = rng.choice((("DAILY", "01"), ("HOURLY", "02"), ("WEEKLY", "03")))
    start = created.replace(hour=rng.choice((1, 6, 22)), minute=0, second=0, microsecond=0)
    return {
        "id": _uuid(rng),
        "typeId": 1,
        "startDate": server_time(start),
        "endDate": "2079-06-06T00:00:00",
        "scheduledTime": server_time(start),
        "rangeTypeId": 0,
        "occurrences": 5000,
        "pattern": pattern,
        "icalRecur": f"FREQ={frequency};COUNT=5000;INTERVAL=1",
        "timezoneName": "(GMT-06:00) Central Time (US & Canada)",
        "scheduleStatus": "active",
        "timezoneId": 20,
    }


def _automation_steps(rng: random.Random) -> list[dict[str, Any]]:
    steps = []
    for step_number in range(1, rng.randint(1, 4) + 1):
        activities = []
        for order in range(1, rng.randint(1, 3) + 1):
            object_type_id, label = rng.choice(_AUTOMATION_ACTIVITIES)
            activities.append(
                {
                    "id": _uuid(rng),
                    "name": f"{label} {step_number}.{order}",
                    "activityObjectId": _uuid(rng),
                    "objectTypeId": object_type_id,
                    "displayOrder": order,
                }
            )
        steps.append(
            {
                "id": _uuid(rng),
                "name": rng.choice(("", f"Step {step_number}", "Étape de préparation")),
                "step": step_number,
                "annotation": "",
                "activities": activities,
            }
        )
    return steps
