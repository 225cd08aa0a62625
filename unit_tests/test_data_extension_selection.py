"""Choosing data extensions by key list, name/key patterns and folder-path patterns."""

from __future__ import annotations

import fnmatch
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from source_sfmc.config import ConfigError, parse_config
from source_sfmc.data_extension_selection import DataExtensionSelection, folder_paths, is_selected, matches_any

FOLDERS = [
    {"ID": "1", "Name": "Data Extensions", "ParentFolder": {"ID": "0"}},
    {"ID": "2", "Name": "Sales", "ParentFolder": {"ID": "1"}},
    {"ID": "3", "Name": "2024", "ParentFolder": {"ID": "2"}},
    {"ID": "4", "Name": "Archive", "ParentFolder": {"ID": "1"}},
]


@pytest.mark.parametrize(
    ("pattern", "value", "matched"),
    [
        ("Sales_*", "Sales_Orders", True),
        ("sales_*", "SALES_ORDERS", True),
        ("*_tmp", "orders_tmp", True),
        ("*_tmp", "orders_tmp_old", False),
        ("Orders_????", "Orders_2024", True),
        ("Newsletter Signups [Web]", "Newsletter Signups [Web]", True),
        ("[Web]", "W", False),
        ("Sales.*", "Sales_x", False),
    ],
)
def test_a_glob_matches_the_whole_value_case_insensitively_with_only_star_and_question_mark_special(
    pattern: str, value: str, matched: bool
) -> None:
    assert matches_any([pattern], value) is matched


@given(st.text(max_size=20))
def test_a_pattern_without_wildcards_matches_exactly_its_own_text(text: str) -> None:
    if "*" not in text and "?" not in text:
        assert matches_any([text], text)
        assert not matches_any([text], text + "x")


def _reference_glob(pattern: str, value: str) -> bool:
    """fnmatch with `[` taken literally, on lower-cased text: the rule the selection documents."""
    return fnmatch.fnmatchcase(value.lower(), pattern.lower().replace("[", "[[]"))


_GLOB_TEXT = st.text(alphabet="ab*?[", max_size=12)


@given(_GLOB_TEXT, st.text(alphabet="abAB*?[", max_size=12))
def test_a_glob_agrees_with_fnmatch_taking_brackets_literally(pattern: str, value: str) -> None:
    assert matches_any([pattern], value) is _reference_glob(pattern, value)


def test_a_pattern_of_many_stars_is_matched_in_time_linear_in_the_value() -> None:
    # Stars compiled to `.*` each backtrack over the others: this pair took minutes (polynomial in the length,
    # with the number of stars as exponent), during discovery, check and every read.
    pattern, name = "*a" * 12 + "*b", "a" * 120
    started = time.monotonic()
    assert not matches_any([pattern], name)
    assert matches_any([pattern], name + "b")
    assert time.monotonic() - started < 0.5


def test_folder_paths_run_from_the_top_folder_and_list_every_folder_above() -> None:
    paths = folder_paths(FOLDERS)
    assert paths[3] == ["Data Extensions/Sales/2024", "Data Extensions/Sales", "Data Extensions"]
    assert paths[1] == ["Data Extensions"]


def test_a_folder_cycle_ends_the_path() -> None:
    paths = folder_paths(
        [{"ID": "1", "Name": "a", "ParentFolder": {"ID": "2"}}, {"ID": "2", "Name": "b", "ParentFolder": {"ID": "1"}}]
    )
    assert paths[1] == ["b/a", "b"]


def test_include_patterns_match_the_name_or_the_key() -> None:
    selection = DataExtensionSelection(include=("Sales_*",))
    assert is_selected(selection, "k1", "Sales_Orders")
    assert is_selected(selection, "Sales_k2", "Orders")
    assert not is_selected(selection, "k3", "Orders")


def test_exclude_patterns_win_over_include_patterns() -> None:
    selection = DataExtensionSelection(include=("Sales_*",), exclude=("*_tmp",))
    assert not is_selected(selection, "Sales_orders_tmp", "Sales orders (temporary)")


def test_a_folder_pattern_selects_data_extensions_in_the_folder_and_below() -> None:
    paths = folder_paths(FOLDERS)
    selection = DataExtensionSelection(folders_include=("Data Extensions/Sales",))
    assert is_selected(selection, "k", "n", paths[3])
    assert is_selected(selection, "k", "n", paths[2])
    assert not is_selected(selection, "k", "n", paths[4])
    assert not is_selected(selection, "k", "n", ())


def test_a_folder_exclude_pattern_drops_the_folder_and_below() -> None:
    paths = folder_paths(FOLDERS)
    selection = DataExtensionSelection(folders_exclude=("*/Archive",))
    assert not is_selected(selection, "k", "n", paths[4])
    assert is_selected(selection, "k", "n", paths[3])


def test_the_key_list_still_selects_by_external_key_case_insensitively() -> None:
    selection = DataExtensionSelection(keys=("Customers",))
    assert is_selected(selection, "CUSTOMERS", "whatever")
    assert not is_selected(selection, "Orders", "Customers")


BASE = {"client_id": "a-client-id-01", "client_secret": "a-secret-45", "subdomain": "mc563885gzs27c5t9-63k636ttgm"}


def test_pattern_settings_are_parsed_into_the_config() -> None:
    config = parse_config(
        {
            **BASE,
            "data_extensions_include": ["Sales_*", " "],
            "data_extensions_exclude": ["*_tmp"],
            "data_extension_folders_include": ["Data Extensions/Sales"],
            "data_extension_folders_exclude": ["*/Archive"],
        }
    )
    assert config.data_extensions_include == ("Sales_*",)
    assert config.data_extensions_exclude == ("*_tmp",)
    assert config.data_extension_folders_include == ("Data Extensions/Sales",)
    assert config.data_extension_folders_exclude == ("*/Archive",)


@pytest.mark.parametrize("field", ["data_extensions_include", "data_extension_folders_exclude"])
def test_a_pattern_setting_that_is_not_a_list_of_text_names_its_field(field: str) -> None:
    with pytest.raises(ConfigError, match=field) as raised:
        parse_config({**BASE, field: "Sales_*"})
    assert raised.value.failure_type.value == "config_error"


@given(st.lists(st.text(max_size=20), max_size=5))
def test_any_list_of_text_is_a_valid_pattern_setting_kept_in_order_without_blanks_or_repeats(
    patterns: list[str],
) -> None:
    config = parse_config({**BASE, "data_extensions_exclude": patterns})
    assert config.data_extensions_exclude == tuple(dict.fromkeys(p.strip() for p in patterns if p.strip()))
