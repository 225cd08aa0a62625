"""Each REST stream asks for exactly the scopes SFMC's documentation names for the resources it reads.

SFMC source: "REST API Permission IDs and Scopes" (developer.salesforce.com, mc-apis/rest-permissions-and-scopes.htm),
the table of resource, permission and "API Permission Scope". Resources the table does not list (the journey history
search) take the scope of their family's listing.
"""

from __future__ import annotations

import pytest

from source_sfmc.rest import REST_STREAMS

DOCUMENTED_SCOPES: dict[str, tuple[str, ...]] = {
    # 444: GET /hub/v1/campaigns and GET /hub/v1/campaigns/{id}/assets
    "campaigns": ("campaign_read",),
    "campaign_assets": ("campaign_read",),
    # 1220: GET /interaction/v1/interactions and /interactions/{id}
    "journeys": ("journeys_read",),
    "journey_statistics": ("journeys_read",),
    "journey_activities": ("journeys_read",),
    "journey_history": ("journeys_read",),
    "automations": ("automations_read",),
    # 1420: POST /asset/v1/content/assets/query (documents_and_images_read alone, not saved_content_read)
    "assets": ("documents_and_images_read",),
}


@pytest.mark.parametrize("stream_name", sorted(DOCUMENTED_SCOPES))
def test_a_rest_stream_needs_the_scope_the_permissions_table_names(stream_name: str) -> None:
    (stream_class,) = [cls for cls in REST_STREAMS if cls.stream_name == stream_name]

    assert stream_class.scopes == DOCUMENTED_SCOPES[stream_name]
