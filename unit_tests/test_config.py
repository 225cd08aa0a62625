import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import urllib3
from airbyte_cdk.models import FailureType
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from source_sfmc.config import KNOWN_FIELDS, ConfigError, is_trusted_url, parse_config

NOW = datetime(2026, 11, 23, tzinfo=UTC)
SUBDOMAIN = "mc563885gzs27c5t9-63k636ttgm"
ROOT = Path(__file__).resolve().parents[1]


def a_config(**overrides):
    config = {"client_id": "a-client-id-0123", "client_secret": "a-client-secret-4567", "subdomain": SUBDOMAIN}
    config.update(overrides)
    return {key: value for key, value in config.items() if value is not ...}


def parse(**overrides):
    return parse_config(a_config(**overrides), now=NOW)


def assert_config_error(field, **overrides):
    with pytest.raises(ConfigError) as raised:
        parse(**overrides)
    assert raised.value.failure_type == FailureType.config_error
    assert f"'{field}'" in raised.value.message
    return raised.value.message


@pytest.mark.parametrize(
    "pasted",
    [
        SUBDOMAIN,
        f"  {SUBDOMAIN.upper()}  ",
        f"https://{SUBDOMAIN}.auth.marketingcloudapis.com/",
        f"https://{SUBDOMAIN}.rest.marketingcloudapis.com",
        f"https://{SUBDOMAIN}.soap.marketingcloudapis.com/Service.asmx",
        f"https://{SUBDOMAIN}.auth.marketingcloudapis.com/v2/token",
    ],
)
def test_subdomain_is_extracted_from_every_pasted_form(pasted):
    assert parse(subdomain=pasted).token_url == f"https://{SUBDOMAIN}.auth.marketingcloudapis.com/v2/token"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765", "http://localhost:9000/", "http://[::1]:8765"])
def test_loopback_url_addresses_the_sandbox(url):
    config = parse(subdomain=url)
    assert config.is_loopback
    assert config.token_url.endswith("/v2/token")


@pytest.mark.parametrize(
    "subdomain",
    [
        "https://evil.example.com",
        "https://marketingcloudapis.com.evil.example.com/",
        f"http://{SUBDOMAIN}.auth.marketingcloudapis.com/",
        f"https://{SUBDOMAIN}.auth.marketingcloudapis.com:8443/",
        "https://user:pw@mc1234.auth.marketingcloudapis.com/",
        "http://127.0.0.1",
        "not a subdomain",
        f"{SUBDOMAIN}/path",
        f"{SUBDOMAIN}:443",
        "",
        "   ",
    ],
)
def test_bad_subdomain_is_a_config_error_naming_the_field(subdomain):
    assert_config_error("subdomain", subdomain=subdomain)


def test_foreign_host_error_says_what_is_expected():
    message = assert_config_error("subdomain", subdomain="https://evil.example.com")
    assert "marketingcloudapis.com" in message


@pytest.mark.parametrize("field", ["client_id", "client_secret", "subdomain"])
def test_required_fields_are_named_when_missing(field):
    assert_config_error(field, **{field: ...})


@pytest.mark.parametrize("value", [123, "", "  ", None])
def test_client_id_must_be_non_empty_text(value):
    assert_config_error("client_id", client_id=value)


@pytest.mark.parametrize("mid", ["7281234", 7281234, " 7281234 "])
def test_account_id_accepts_a_numeric_mid(mid):
    assert parse(account_id=mid).account_id == 7281234


@pytest.mark.parametrize("mid", ["https://example.com", "72-81", True, -5, 1.5, "abc"])
def test_account_id_refuses_anything_but_a_mid(mid):
    assert_config_error("account_id", account_id=mid)


def test_start_date_is_parsed_to_utc():
    assert parse(start_date="2024-01-01T06:00:00+06:00").start_date == datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("value", ["01/02/2024", "2024-13-01", "yesterday", "2024-02-30T00:00:00Z", 20240101])
def test_unparseable_start_date_is_a_config_error(value):
    assert_config_error("start_date", start_date=value)


def test_future_start_date_is_a_config_error():
    message = assert_config_error("start_date", start_date=(NOW + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert "future" in message


@pytest.mark.parametrize("days", [0, 91, 10000, -1, "many"])
def test_window_days_out_of_range_is_a_config_error(days):
    assert_config_error("window_days", window_days=days)


def test_defaults_are_safe():
    config = parse()
    assert (config.window, config.num_workers, config.all_business_units) == (timedelta(days=30), 4, False)


@pytest.mark.parametrize("workers", [0, 11])
def test_num_workers_is_bounded(workers):
    assert_config_error("num_workers", num_workers=workers)


def test_unknown_field_is_named():
    assert_config_error("client_secrett", client_secrett="x")


def test_secret_is_not_in_the_config_repr():
    assert "hunter2hunter2" not in repr(parse(client_secret="hunter2hunter2"))


@pytest.mark.parametrize(
    ("url", "trusted"),
    [
        ("https://mc1.rest.marketingcloudapis.com/", True),
        ("http://mc1.rest.marketingcloudapis.com/", False),
        ("https://evil.example.com/", False),
        ("https://marketingcloudapis.com.evil.example.com/", False),
        ("http://127.0.0.1:8765/", False),
        ("https://evil.test\\.marketingcloudapis.com/", False),
        ("https://evil.test%2F.marketingcloudapis.com/", False),
        ("https://evil.test;.marketingcloudapis.com/", False),
        ("https://evil.test\t.marketingcloudapis.com/", False),
        ("https://evil.test\uff0e.marketingcloudapis.com/", False),
        ("https://.marketingcloudapis.com/", False),
        ("https://marketingcloudapis.com/", False),
        ("https://Mc1.REST.MarketingCloudAPIs.com/", True),
        ("https://mc1.rest.marketingcloudapis.com./", False),
        ("https://mc1.rest.marketingcloudapis.com@evil.test/", False),
    ],
)
def test_only_marketing_cloud_https_urls_are_trusted(url, trusted):
    assert is_trusted_url(url, allow_loopback=False) is trusted


def test_loopback_is_trusted_only_for_a_sandbox_config():
    assert is_trusted_url("http://127.0.0.1:8765/", allow_loopback=True)


def test_link_sends_recent_period_defaults_to_thirty_days():
    assert parse().link_sends_recent == timedelta(days=30)


def test_link_sends_recent_period_is_read_in_days():
    assert parse(link_sends_recent_days=7).link_sends_recent == timedelta(days=7)


@given(st.one_of(st.integers(max_value=0), st.integers(min_value=366), st.text(), st.floats(), st.booleans()))
def test_a_bad_link_sends_recent_period_is_a_config_error_naming_the_field(value):
    text = value.strip() if isinstance(value, str) else ""
    if text.isascii() and text.isdigit() and 1 <= int(text) <= 365:
        return  # a number in range, written as text, is accepted like the other day counts
    assert_config_error("link_sends_recent_days", link_sends_recent_days=value)


# -- any JSON value for any field: a valid config or a config_error naming the field -----------------------------
NUMBER_FIELDS = (
    "account_id",
    "window_days",
    "request_timeout_seconds",
    "lookback_hours",
    "num_workers",
    "link_sends_recent_days",
)


@pytest.mark.parametrize("field", NUMBER_FIELDS)
@pytest.mark.parametrize("text", ["²", "①", "¹²", "٣", "1" * 5000, "9" * 13, "+5", "5 5", "0x10", "1e3", "5.0"])
def test_number_text_that_is_not_plain_ascii_digits_is_a_config_error_naming_the_field(field, text):
    message = assert_config_error(field, **{field: text})
    assert len(message) < 300


@pytest.mark.parametrize("field", NUMBER_FIELDS)
def test_a_huge_json_number_is_a_config_error_that_does_not_print_it(field):
    message = assert_config_error(field, **{field: 10**5000})
    assert len(message) < 300


@pytest.mark.parametrize(
    ("field", "value"), [("client_id", "i"), ("client_secret", "s"), ("client_secret", "123456789")]
)
def test_a_credential_too_short_to_be_real_is_a_config_error_naming_the_field(field, value):
    message = assert_config_error(field, **{field: value})
    assert "too short" in message


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+01:00",  # before year 1 once in UTC
        "9999-12-31T23:59:59-01:00",  # after year 9999 once in UTC
        "1600-01-01",
        "\uff12\uff10\uff12\uff14-01-01",  # full-width digits, which \\d would match
        "2024-01-01T00:00:00.1234567Z",
    ],
)
def test_a_start_date_python_or_sfmc_cannot_hold_is_a_config_error(value):
    assert_config_error("start_date", start_date=value)


@pytest.mark.parametrize("value", ["http://[::1", "https://mc5.auth.marketingcloudapis.com:99999/", "mcabc\n/x"])
def test_a_subdomain_url_that_cannot_be_parsed_is_a_config_error(value):
    assert_config_error("subdomain", subdomain=value)


def test_a_trusted_url_check_never_raises_on_a_malformed_url():
    assert is_trusted_url("https://[::1", allow_loopback=True) is False
    assert is_trusted_url("https://x.marketingcloudapis.com:abc/", allow_loopback=False) is False


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=8,
)
FIELDS = sorted(KNOWN_FIELDS)
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _config_or_error_naming(field, raw):
    try:
        return parse_config(raw, now=NOW)
    except ConfigError as error:
        assert error.failure_type == FailureType.config_error
        # A list's item is named with its index: business_units[2].
        assert error.field_name.split("[")[0] == field, (error.field_name, field)
        assert f"'{error.field_name}'" in error.message
        return None


@PROPERTY_SETTINGS
@given(field=st.sampled_from(FIELDS), value=JSON_VALUES)
def test_any_json_value_in_any_field_gives_a_config_or_a_config_error_naming_that_field(field, value):
    _config_or_error_naming(field, {**a_config(), field: value})


@PROPERTY_SETTINGS
@given(field=st.sampled_from(NUMBER_FIELDS), text=st.text(max_size=20))
def test_any_text_in_a_number_field_gives_a_config_or_a_config_error_naming_it(field, text):
    config = _config_or_error_naming(field, {**a_config(), field: text})
    if config is not None and text.strip():
        assert text.strip().isascii() and text.strip().isdigit()


@PROPERTY_SETTINGS
@given(
    text=st.text(max_size=40) | st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})")
)
def test_any_start_date_text_gives_a_date_in_range_or_a_config_error(text):
    config = _config_or_error_naming("start_date", {**a_config(), "start_date": text})
    if config is not None and config.start_date is not None:
        assert datetime(1753, 1, 1, tzinfo=UTC) <= config.start_date <= NOW


@PROPERTY_SETTINGS
@given(
    text=st.text(max_size=60)
    | st.from_regex(r"(https?://)?mc[a-z0-9-]{0,30}(\.[a-z]{1,5}){0,4}(:[0-9]{1,6})?/?", fullmatch=True)
)
def test_any_subdomain_text_gives_a_trusted_base_url_or_a_config_error(text):
    config = _config_or_error_naming("subdomain", {**a_config(), "subdomain": text})
    if config is not None:
        assert is_trusted_url(config.auth_base_url, allow_loopback=config.is_loopback)
        assert config.auth_base_url.endswith("/")


# -- the config file itself ------------------------------------------------------------------------------------
def test_a_json_number_too_long_for_python_is_read_and_refused_naming_its_field(tmp_path):
    from source_sfmc.source import SourceSfmc

    path = tmp_path / "config.json"
    path.write_text('{"window_days": ' + "1" * 5000 + "}")
    config = SourceSfmc.read_config(str(path))
    assert_config_error("window_days", window_days=config["window_days"])


def test_a_config_file_saved_with_a_byte_order_mark_is_read(tmp_path):
    # RFC 8259 section 8.1: a parser may ignore a BOM; Windows editors write one. It was "not valid JSON (line 1,
    # column 1)" for a file that is valid JSON.
    from source_sfmc.source import SourceSfmc

    path = tmp_path / "config.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(a_config()).encode())
    assert SourceSfmc.read_config(str(path)) == a_config()


@pytest.mark.parametrize(
    "contents", ["{not json", "[1, 2]", '"text"', "", '{"client_id": ' + "[" * 100_000 + "]" * 100_000 + "}"]
)
def test_a_config_file_that_is_not_a_json_object_is_a_config_error(tmp_path, contents):
    from airbyte_cdk.utils.traced_exception import AirbyteTracedException

    from source_sfmc.source import SourceSfmc

    path = tmp_path / "config.json"
    path.write_text(contents)
    with pytest.raises(AirbyteTracedException) as raised:
        SourceSfmc.read_config(str(path))
    assert raised.value.failure_type == FailureType.config_error


_URL_PIECES = st.sampled_from(
    ["evil.test", "mc1", ".", "\\", "/", "@", ":", "%2F", "#", "?", ";", "443", "-", "\t", "\n", "\uff0e", "\u3002"]
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_URL_PIECES, max_size=6))
def test_a_trusted_url_is_sent_to_a_marketing_cloud_host_whatever_it_holds(pieces):
    url = "https://" + "".join(pieces) + ".marketingcloudapis.com/v1"
    if not is_trusted_url(url, allow_loopback=False):
        return
    # The host urllib3 opens the connection to is the one that matters.
    host = urllib3.util.parse_url(requests.Request("GET", url).prepare().url).host
    assert host is not None and host.endswith(".marketingcloudapis.com")


# -- business units -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mids", [["7281234", "7294501"], [7281234, " 7294501 "], ["7281234", "7294501", "7281234"]])
def test_business_units_are_mids_in_order_without_repeats(mids):
    assert parse(business_units=mids).business_units == (7281234, 7294501)


def test_account_id_alone_is_a_one_unit_list():
    assert parse(account_id="7281234").business_units == (7281234,)


def test_no_business_unit_setting_reads_the_packages_own_unit():
    config = parse()
    assert (config.business_units, config.all_business_units) == ((), False)


@pytest.mark.parametrize("value", ["7281234", 7281234, {"7281234": True}])
def test_business_units_refuses_anything_but_a_list(value):
    assert_config_error("business_units", business_units=value)


@pytest.mark.parametrize("item", [["7281234"], "72-81", True, -5, 0, "²", 1.5, str(2**31), None])
def test_business_units_names_the_item_that_is_not_a_mid(item):
    assert_config_error("business_units[1]", business_units=[7294501, item])


def test_account_id_outside_business_units_is_a_config_error():
    assert_config_error("account_id", account_id="7281234", business_units=["7294501"])


def test_account_id_inside_business_units_is_accepted():
    assert parse(account_id="7281234", business_units=["7294501", "7281234"]).business_units == (7294501, 7281234)


def test_all_business_units_with_a_list_is_a_config_error():
    assert_config_error("all_business_units", all_business_units=True, business_units=["7281234"])


@pytest.mark.parametrize("blank", [[], [""], ["", "  "]])
def test_all_business_units_with_a_list_of_blank_items_is_accepted_as_with_an_empty_list(blank):
    # A blank item is skipped everywhere else (a form's empty row), so the list names no unit to conflict with.
    config = parse(all_business_units=True, business_units=blank)
    assert (config.all_business_units, config.business_units) == (True, ())


@pytest.mark.parametrize("value", ["yes", 1, 0, "false"])
def test_all_business_units_must_be_true_or_false(value):
    assert_config_error("all_business_units", all_business_units=value)


def test_query_all_accounts_is_a_deprecated_alias_of_all_business_units(caplog):
    with caplog.at_level("WARNING", logger="airbyte"):
        config = parse(query_all_accounts=True)
    assert config.all_business_units is True
    assert "'query_all_accounts' is deprecated" in caplog.text


def test_query_all_accounts_false_changes_nothing_and_logs_nothing(caplog):
    with caplog.at_level("WARNING", logger="airbyte"):
        config = parse(query_all_accounts=False, account_id="7281234")
    assert (config.all_business_units, config.business_units) == (False, (7281234,))
    assert "deprecated" not in caplog.text


@given(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=12),
        st.lists(st.one_of(st.text(max_size=12), st.integers(), st.booleans(), st.none()), max_size=4),
        st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    )
)
def test_any_business_units_value_parses_to_valid_mids_or_a_config_error_naming_it(value):
    try:
        config = parse(business_units=value)
    except ConfigError as error:
        assert error.field_name == "business_units" or (
            isinstance(value, list) and error.field_name in {f"business_units[{i}]" for i in range(len(value))}
        )
        return
    assert all(isinstance(mid, int) and 0 < mid < 2**31 for mid in config.business_units)
    assert len(set(config.business_units)) == len(config.business_units)


@given(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=6), st.lists(st.booleans(), max_size=2)))
def test_any_all_business_units_value_is_a_bool_or_a_config_error_naming_it(value):
    try:
        config = parse(all_business_units=value, query_all_accounts=value)
    except ConfigError as error:
        assert error.field_name in ("all_business_units", "query_all_accounts")
        return
    assert config.all_business_units is bool(value)


# SFMC's longest documented synchronous call: "REST calls are synchronous, with timeout values of 120 for non-tracking
# operations and 300 seconds for tracking and data retrieve operations" ("Intro to Marketing Cloud APIs").
SFMC_TRACKING_AND_DATA_RETRIEVE_TIMEOUT_SECONDS = 300


def test_the_default_request_timeout_outlasts_sfmcs_own_timeout_for_tracking_retrieves():
    assert parse().request_timeout_seconds > SFMC_TRACKING_AND_DATA_RETRIEVE_TIMEOUT_SECONDS


def test_the_spec_the_docs_and_the_readme_state_the_default_request_timeout():
    default = parse().request_timeout_seconds
    spec = json.loads((ROOT / "source_sfmc" / "spec.json").read_text())
    field = spec["connectionSpecification"]["properties"]["request_timeout_seconds"]
    assert field["default"] == field["examples"][0] == default
    assert f"The default, {default}," in field["description"]
    assert f"Default {default}." in (ROOT / "docs" / "integrations" / "sources" / "sfmc.md").read_text()
    assert f"| `request_timeout_seconds` | no ({default}) |" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("field", ["all_business_units", "query_all_accounts"])
def test_a_null_boolean_means_not_set(field):
    config = parse(**{field: None})
    assert config.all_business_units is False


def test_a_refused_value_quoting_a_secret_never_shows_part_of_it_when_cut_short():
    from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets

    secret = "config-secret-0123456789abcdef"
    add_to_secrets(secret)
    with pytest.raises(ConfigError) as raised:
        parse(subdomain="s" * 70 + secret)  # the message quotes the value cut to 80 characters
    assert secret[:6] not in raised.value.message
