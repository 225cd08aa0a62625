"""Secret masking (source_sfmc/masking.py): every encoding of a secret, and every run of 8 of its characters."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import sys
import time
import tracemalloc
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from source_sfmc import masking
from source_sfmc.masking import FRAGMENT_CHARACTERS, MASK, Masker, mask_record

secrets_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=FRAGMENT_CHARACTERS, max_size=64
)
# An SFMC client secret: 24 letters and digits.
sfmc_secrets = st.text(
    st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), min_size=24, max_size=24
)


def masker_for(*secrets: str) -> Masker:
    masker = Masker()
    for secret in secrets:
        masker.register(secret)
    return masker


def lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda escape: escape.group(0).lower(), text)


def unicode_escaped(text: str) -> str:
    """Every character as JSON's `\\uXXXX` (a surrogate pair beyond the BMP)."""
    return "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else json.dumps(c)[1:-1] for c in text)


ENCODINGS = {
    "literal": lambda s: s,
    "json": lambda s: json.dumps(s)[1:-1],
    "json unicode escapes": lambda s: unicode_escaped(s),
    "json unicode escapes, upper hex": lambda s: re.sub(
        r"\\u(\w{4})", lambda e: "\\u" + e.group(1).upper(), unicode_escaped(s)
    ),
    "repr": lambda s: repr(s)[1:-1],
    "quote": lambda s: quote(s, safe=""),
    "quote keeping /": quote,
    "quote_plus": quote_plus,
    "quote, lower hex": lambda s: lower_hex(quote(s, safe="")),
    "quote, twice": lambda s: quote(quote(s, safe=""), safe=""),
    "quote twice, lower hex": lambda s: quote(lower_hex(quote(s, safe="")), safe=""),
    "quote_plus, twice": lambda s: quote_plus(quote_plus(s)),
    "base64": lambda s: base64.b64encode(s.encode()).decode(),
    "base64, url-safe": lambda s: base64.urlsafe_b64encode(s.encode()).decode(),
    "Basic header": lambda s: "Basic " + base64.b64encode(f"my-client-id:{s}".encode()).decode(),
    "Basic header, other alignment": lambda s: "Basic " + base64.b64encode(f"client-id:{s}".encode()).decode(),
}


@settings(max_examples=60, deadline=None)
@given(secret=secrets_text, encoding=st.sampled_from(sorted(ENCODINGS)))
def test_every_encoding_of_a_whole_secret_is_masked(secret: str, encoding: str) -> None:
    encoded = ENCODINGS[encoding](secret)
    masked = masker_for(secret).mask(f"error: {encoded} (end)")
    assert MASK in masked
    assert secret not in masked and encoded not in masked


@settings(max_examples=60, deadline=None)
@given(secret=secrets_text, data=st.data())
def test_every_run_of_eight_characters_of_a_secret_is_masked(secret: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(secret) - FRAGMENT_CHARACTERS))
    stop = data.draw(st.integers(start + FRAGMENT_CHARACTERS, len(secret)))
    encoding = data.draw(st.sampled_from(["literal", "json", "quote", "quote_plus", "json unicode escapes"]))
    cut = ENCODINGS[encoding](secret[start:stop])
    masked = masker_for(secret).mask(f"the server said {cut}.")
    assert cut not in masked
    assert MASK in masked


def test_the_first_and_last_characters_a_server_quotes_are_masked() -> None:
    secret = "Zq8Rw2Lm5Tx0Vb7Nc4Kd1Hs6"
    masker = masker_for(secret)
    assert masker.mask(f"secret starting {secret[:8]} and ending {secret[-10:]} refused") == (
        f"secret starting {MASK} and ending {MASK} refused"
    )


def test_a_run_shorter_than_eight_characters_stays_visible() -> None:
    secret = "Zq8Rw2Lm5Tx0Vb7Nc4Kd1Hs6"
    assert masker_for(secret).mask(f"hint: {secret[:7]}") == f"hint: {secret[:7]}"


@settings(max_examples=60, deadline=None)
@given(secret=sfmc_secrets)
def test_ordinary_messages_are_left_alone(secret: str) -> None:
    messages = [
        "Marking stream campaigns as STARTED",
        "Read 1000 records from sent_events in the window 2024-01-01T00:00:00Z to 2024-01-31T00:00:00Z",
        "The connection check failed: client_secret is wrong (invalid_client); set client_id and client_secret.",
    ]
    masker = masker_for(secret)
    for message in messages:
        if not any(secret[i : i + FRAGMENT_CHARACTERS] in message for i in range(len(secret) - 7)):
            assert masker.mask(message) == message


def test_a_log_records_message_traceback_and_extras_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "Zq8Rw2Lm5Tx0Vb7Nc4Kd1Hs6"
    # Only this secret: others tests registered (the CDK's list is process-wide) would mask more.
    monkeypatch.setattr(masking, "MASKER", masker_for(secret))
    monkeypatch.setattr(masking, "filter_secrets", lambda text: text)
    try:
        raise ValueError(f"body {quote(secret)}")
    except ValueError:
        record = logging.LogRecord("airbyte", logging.DEBUG, "", 0, "sent %s", (secret[:9],), exc_info=True)
        record.exc_info = sys.exc_info()
    record.body = {"echo": base64.b64encode(secret.encode()).decode()}
    mask_record(record)
    assert record.getMessage() == f"sent {MASK}"
    assert secret not in record.exc_text and quote(secret) not in record.exc_text
    assert base64.b64encode(secret.encode()).decode() not in record.body


def test_masking_a_log_line_costs_microseconds_whatever_the_number_of_tokens() -> None:
    masker = masker_for("Zq8Rw2Lm5Tx0Vb7Nc4Kd1Hs6")
    line = "Read 1000 records from sent_events in the window 2024-01-01T00:00:00Z to 2024-01-31T00:00:00Z"

    def per_line() -> float:
        started = time.perf_counter()
        for _ in range(2000):
            masker.mask(line)
        return (time.perf_counter() - started) / 2000

    one_secret = per_line()
    for number in range(100):  # a day of 15-minute tokens of 600 characters
        masker.register(base64.urlsafe_b64encode(f"token-{number}".encode() * 40).decode())
    assert per_line() < max(5 * one_secret, 50e-6)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def random_token(length: int = 500) -> str:
    """An access token of the size Marketing Cloud issues (a JWT of some 500 characters)."""
    return base64.urlsafe_b64encode(os.urandom(length * 3 // 4)).decode()[:length]


def test_a_long_syncs_tokens_take_the_memory_of_the_live_ones_only() -> None:
    clock = FakeClock()
    masker = Masker(clock=clock)
    tracemalloc.start()
    try:
        for _ in range(60):  # 15 hours of one business unit's tokens, each retired 20 minutes after its issue
            masker.register(random_token(), retire_at=clock.now + 1200)
            clock.now += 900
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 8_000_000  # two live tokens; all sixty held 50 MB


def test_a_token_is_masked_in_every_form_until_it_retires() -> None:
    clock = FakeClock()
    masker = Masker(clock=clock)
    token = random_token()
    masker.register(token, retire_at=100)
    echoed = f"bad header: {quote(token, safe='')} {unicode_escaped(token)}"
    assert token[:20] not in masker.mask(echoed)
    clock.now = 101
    masker.register(random_token(), retire_at=1000)  # retirement happens as tokens are renewed
    assert masker.mask(token[100:120]) == token[100:120]


def test_a_secret_sharing_runs_with_a_retired_token_stays_masked() -> None:
    clock = FakeClock()
    secret = "Zq8Rw2Lm5Tx0Vb7Nc4Kd1Hs6"
    masker = Masker(clock=clock)
    masker.register(secret)
    masker.register(f"eyJ{secret}abc", retire_at=10)
    clock.now = 11
    masker.register(random_token(), retire_at=1000)
    assert masker.mask(f"echo {quote(secret)} {secret[3:14]}") == f"echo {MASK} {MASK}"


def test_a_retired_token_is_registered_again_when_it_comes_back() -> None:
    clock = FakeClock()
    masker = Masker(clock=clock)
    token = random_token()
    masker.register(token, retire_at=10)
    clock.now = 11
    masker.register(token, retire_at=2000)
    assert masker.mask(token[:30]) == MASK


def test_a_secret_percent_encoded_twice_is_masked() -> None:
    """A redirect or error URL that carries our form-encoded request in a query parameter encodes it again."""
    secret = "p+ss/w=rd&m%re+s/cr=t"
    location = "https://example.invalid/login?next=" + quote(f"/v2/token?client_secret={quote(secret, safe='')}")
    masked = masker_for(secret).mask(f"redirected to {location}")
    assert quote(quote(secret, safe=""), safe="") not in masked
    assert masked.endswith(MASK)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-16"])
@pytest.mark.parametrize("quoting", ["raw", "repr", "json"])
def test_a_token_in_utf16_text_read_one_byte_per_character_is_masked(codec: str, quoting: str) -> None:
    """A UTF-16 answer without a charset, as `requests` decodes it (the CDK's debug log of an answer prints it)."""
    quote_as = {"raw": str, "repr": lambda t: repr(t)[1:-1], "json": lambda t: json.dumps(t)[1:-1]}[quoting]
    token = random_token(120)
    read = f"bad token Bearer {token}".encode(codec).decode("latin-1")
    masked = masker_for(token).mask(f"Receiving response: {quote_as(read)}")
    assert MASK in masked
    for start in range(len(token) - FRAGMENT_CHARACTERS + 1):
        run = token[start : start + FRAGMENT_CHARACTERS]
        assert quote_as("\x00".join(run)) not in masked
