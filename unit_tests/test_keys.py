"""The one key builder: an entity_id is never the text of a missing value."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from source_sfmc.keys import DIGEST_PREFIX, content_digest, entity_id, key_of

MISSING = [None, "", "   ", {}, [], {"a": 1}, [1]]
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


def test_a_present_id_is_the_entity_id() -> None:
    assert entity_id({"id": 12}, 12) == "12"
    assert key_of("ID")({"ID": "4521"}) == "4521"


def test_several_identity_values_are_joined_with_a_colon() -> None:
    assert key_of("List.ID", "SendID")({"List": {"ID": "7"}, "SendID": "9"}) == "7:9"


def test_a_whole_float_id_from_json_reads_as_the_integer_id() -> None:
    assert entity_id({"id": 12.0}, 12.0) == "12"


@pytest.mark.parametrize("missing", MISSING)
def test_a_missing_id_becomes_a_digest_of_the_record_never_its_text(missing) -> None:  # type: ignore[no-untyped-def]
    key = entity_id({"id": missing, "name": "a"}, missing)
    assert key.startswith(DIGEST_PREFIX)
    assert key not in ("None", "", "{}", "[]")


def test_three_campaigns_without_an_id_get_three_keys() -> None:
    campaigns = [{"id": None, "name": "a"}, {"name": "b"}, {"id": None, "name": "c"}]
    assert len({entity_id(campaign, campaign.get("id")) for campaign in campaigns}) == 3


def test_a_folder_without_its_id_element_gets_a_digest() -> None:
    folder = {"Name": "Shared", "ContentType": "email", "ParentFolder": {"ID": "3"}}
    assert key_of("ID")(folder).startswith(DIGEST_PREFIX)


def test_a_dotted_identity_with_a_missing_step_gets_a_digest() -> None:
    assert key_of("List.ID", "SendID")({"SendID": "9"}).startswith(DIGEST_PREFIX)


def test_the_digest_does_not_depend_on_key_order() -> None:
    assert entity_id({"a": 1, "b": 2}, None) == entity_id({"b": 2, "a": 1}, None)


RECORDS = st.dictionaries(
    st.text(max_size=6),
    st.none() | st.text(max_size=10) | st.integers() | st.lists(st.integers(), max_size=3),
    max_size=5,
)
IDENTITY = st.none() | st.text(max_size=10) | st.integers() | st.floats(allow_nan=False) | st.just({})


@PROPERTY_SETTINGS
@given(record=RECORDS, identity=st.lists(IDENTITY, min_size=1, max_size=3))
def test_no_entity_id_is_empty_or_the_text_of_a_missing_value(record, identity) -> None:  # type: ignore[no-untyped-def]
    key = entity_id(record, *identity)
    assert key.strip()
    assert "None" not in key.split(":") and "{}" not in key.split(":")
    assert key == entity_id(dict(record), *identity)  # stable


@PROPERTY_SETTINGS
@given(first=RECORDS, second=RECORDS)
def test_records_without_identity_share_a_key_only_when_their_content_is_equal(first, second) -> None:  # type: ignore[no-untyped-def]
    assert (entity_id(first, None) == entity_id(second, None)) == (first == second)


# -- a digest key never equals a real one ----------------------------------------------------------------------
def test_a_real_id_that_is_the_text_of_another_records_digest_keeps_its_own_key() -> None:
    keyless = {"id": None, "name": "a"}
    forged = content_digest(keyless)  # a real id that happens to read "digest:<32 hex digits>"
    assert entity_id({"id": forged}, forged) != entity_id(keyless, None)
    assert key_of("ID")({"ID": forged}) != entity_id(keyless, None)


def test_a_real_id_beginning_with_a_reserved_prefix_is_marked_not_dropped() -> None:
    assert key_of("ID")({"ID": "digest:0123"}) == "id:digest:0123"
    assert key_of("ID")({"ID": "id:7"}) == "id:id:7"
    assert key_of("A", "B")({"A": "digest:1", "B": "2"}) == "id:digest:1:2"


ids = st.one_of(
    st.text(min_size=1).filter(lambda text: text.strip()),
    st.builds(lambda tail: DIGEST_PREFIX + tail, st.text()),
    st.builds(lambda tail: "id:" + tail, st.text()),
    st.integers(),
)


@PROPERTY_SETTINGS
@given(identity=ids)
def test_no_real_id_ever_gets_a_digest_key(identity: object) -> None:
    assert not key_of("ID")({"ID": identity}).startswith(DIGEST_PREFIX)
    assert not entity_id({"ID": identity}, identity).startswith(DIGEST_PREFIX)


@PROPERTY_SETTINGS
@given(first=ids, second=ids)
def test_two_different_ids_never_share_a_key(first: object, second: object) -> None:
    if str(first) != str(second):
        assert key_of("ID")({"ID": first}) != key_of("ID")({"ID": second})
