from datetime import UTC, datetime, timedelta

import pytest
from airbyte_cdk.models import FailureType
from hypothesis import given
from hypothesis import strategies as st

from source_sfmc.config import ConfigError, is_trusted_url, parse_config

NOW = datetime(2026, 11, 23, tzinfo=UTC)
SUBDOMAIN = "mc563885gzs27c5t9-63k636ttgm"


def a_config(**overrides):
    config = {"client_id": "id", "client_secret": "secret", "subdomain": SUBDOMAIN}
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
    assert (config.window, config.num_workers, config.query_all_accounts) == (timedelta(days=30), 4, False)


@pytest.mark.parametrize("workers", [0, 11])
def test_num_workers_is_bounded(workers):
    assert_config_error("num_workers", num_workers=workers)


def test_unknown_field_is_named():
    assert_config_error("client_secrett", client_secrett="x")


def test_secret_is_not_in_the_config_repr():
    assert "secret" not in repr(parse(client_secret="secret")).replace("client_secret", "")


@pytest.mark.parametrize(
    ("url", "trusted"),
    [
        ("https://mc1.rest.marketingcloudapis.com/", True),
        ("http://mc1.rest.marketingcloudapis.com/", False),
        ("https://evil.example.com/", False),
        ("https://marketingcloudapis.com.evil.example.com/", False),
        ("http://127.0.0.1:8765/", False),
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
    if isinstance(value, str) and value.strip().isdigit() and 1 <= int(value.strip()) <= 365:
        return  # a number in range, written as text, is accepted like the other day counts
    assert_config_error("link_sends_recent_days", link_sends_recent_days=value)
