"""Secret masking: every form of the client secret and of each access token that a message could show.

The CDK masks a secret's literal text only (`airbyte_cdk.utils.airbyte_secrets_utils.filter_secrets`: one
`str.replace` per registered string). A server can echo a secret back in other forms, and some of them reach our
messages inside its error text: percent-encoded (a form body or query string, `quote` / `quote_plus`, upper or lower
hex), base64-encoded (a Basic `client_id:client_secret` header), JSON-unicode-escaped, or cut short (an error that
quotes the first or last characters of it). The rule, stated once:

1. Every *rendering* of the whole secret is masked: literal, JSON (ASCII or not), `\\uXXXX` for every character
   (either hex case), XML / HTML escaped, `repr` / `ascii`, percent-encoded (`quote`, `quote` keeping `/`,
   `quote_plus`, and every UTF-8 byte as `%XX`; either hex case; `quote` and `quote_plus` also twice), and base64
   (standard and URL-safe) of the secret's UTF-8 bytes at any of the three byte alignments, so also inside the
   base64 of a longer text (`id:secret`).
2. Within any rendering, every run that covers at least `FRAGMENT_CHARACTERS` (8) consecutive characters of the
   secret is masked too, wherever it appears and however it is cut.

Why 8: eight characters of a secret drawn from 62 letters and digits are 47 bits, so eight consecutive characters
of a random secret (SFMC issues 24-character client secrets and tokens of hundreds) match an unrelated 8-character
run of a message about once in 10^14; and no word of our own messages is a run of a generated secret, so nothing
ordinary is masked. A shorter cut leaves at most 7 characters of a 24-character secret visible: 17 unknown
characters, about 100 bits. Whole renderings are masked at any length.

Cost: the whole renderings go to the CDK's list (about 20 per secret, each a C-speed `str.replace`); the runs are
found with one regular-expression scan for spans of characters a rendering can contain, then one set look-up per
position and window length inside the spans at least 8 characters long, so a message costs the same whatever the
number of secrets registered (a long sync registers a token every 15 minutes). The runs of a token of 500
characters take about 0.8 MB, so a token leaves the index once it has expired and the answers to the requests that
carried it are in (`retire_at`); its literal text stays in the CDK's list. Records are never masked: the CDK
filters log and trace text only, and so do we (`mask` is applied to log records and to the text of TRACE, LOG and
CONNECTION_STATUS messages).
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape as xml_escape

from airbyte_cdk.logger import AirbyteLogFormatter
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets, filter_secrets

FRAGMENT_CHARACTERS = 8
MASK = "****"
_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")


def _lower_hex(text: str) -> str:
    return _PERCENT_ESCAPE.sub(lambda escape: escape.group(0).lower(), text)


def _unicode_escaped(character: str, hex_format: str) -> str:
    """`\\uXXXX` for one character, a UTF-16 surrogate pair beyond the BMP (as JSON writes it)."""
    code = ord(character)
    if code < 0x10000:
        return "\\u" + format(code, hex_format).zfill(4)
    code -= 0x10000
    return "\\u" + format(0xD800 + (code >> 10), hex_format) + "\\u" + format(0xDC00 + (code & 0x3FF), hex_format)


def character_renderings(secret: str) -> list[list[str]]:
    """Each per-character rendering of `secret`, as the list of what each character became (so that a run of N
    characters of the secret is N consecutive pieces). Shape: one list of `len(secret)` strings per rendering."""
    per_character = [
        lambda c: c,
        lambda c: json.dumps(c)[1:-1],
        lambda c: json.dumps(c, ensure_ascii=False)[1:-1],
        lambda c: _unicode_escaped(c, "04x"),
        lambda c: _unicode_escaped(c, "04X"),
        lambda c: xml_escape(c),
        lambda c: xml_escape(c, {'"': "&quot;", "'": "&apos;"}),
        lambda c: html.escape(c),
        lambda c: repr(c)[1:-1] if c not in "'\"" else c,
        lambda c: ascii(c)[1:-1] if c not in "'\"" else c,
        lambda c: quote(c, safe=""),
        lambda c: quote(c),
        lambda c: quote_plus(c),
        lambda c: _lower_hex(quote(c, safe="")),
        lambda c: _lower_hex(quote_plus(c)),
        lambda c: "".join(f"%{byte:02X}" for byte in c.encode()),
        lambda c: "".join(f"%{byte:02x}" for byte in c.encode()),
        # Percent-encoded twice: a URL carrying our form-encoded request in a query parameter (a redirect's
        # Location, an error quoting the URL it was asked), where `%2B` becomes `%252B`.
        lambda c: quote(quote(c, safe=""), safe=""),
        lambda c: quote(_lower_hex(quote(c, safe="")), safe=""),
        lambda c: quote_plus(quote_plus(c)),
    ]
    # A rendering quoted inside another message is escaped once more: a JSON body in an exception's repr(), a
    # SOAP envelope inside an XML fault.
    quoted_again = [
        lambda text: text,
        lambda text: json.dumps(text)[1:-1],
        lambda text: repr(text)[1:-1],
        lambda text: xml_escape(text),
    ]
    # Each distinct character is rendered once per rendering (a token of 500 characters has about 64): rendering
    # every character of it again cost 0.2 s of CPU per token.
    renderings: set[tuple[str, ...]] = set()
    for render in per_character:
        for again in quoted_again:
            piece = {c: again(render(c)) for c in set(secret)}
            renderings.add(tuple(map(piece.__getitem__, secret)))
    return [list(rendering) for rendering in renderings]


def base64_cores(secret: str) -> set[str]:
    """The base64 text that encodes `secret`'s UTF-8 bytes wherever they sit in a longer byte string.

    Base64 turns 3 bytes into 4 characters, so the secret starts at one of three alignments; at each, the
    characters that depend on the secret's bytes alone are fixed whatever precedes or follows it."""
    data = secret.encode()
    cores = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode()
        first = -(-8 * offset // 6)  # characters touched by the padding bytes before the secret
        last = 8 * (offset + len(data)) // 6  # characters wholly inside the secret's bits
        core = encoded[first:last]
        cores |= {core, core.replace("+", "-").replace("/", "_")}
    # A core shorter than a run (the base64 of a very short secret) would mask ordinary text, so none is kept.
    return {core for core in cores if len(core) >= FRAGMENT_CHARACTERS}


def whole_renderings(secret: str) -> set[str]:
    """Every rendering of the whole secret (rule 1), the literal text included."""
    forms = {"".join(rendering) for rendering in character_renderings(secret)}
    forms |= {repr(secret)[1:-1], ascii(secret)[1:-1]}
    return {form for form in forms | base64_cores(secret) if form}


class Masker:
    """The runs of rule 2 for every registered secret, looked up by window length; thread-safe registration."""

    def __init__(
        self, fragment_characters: int = FRAGMENT_CHARACTERS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._k = fragment_characters
        self._clock = clock
        self._runs: set[str] = set()
        # The first `fragment_characters` characters of each run -> the lengths of the runs that start so: one
        # look-up per position of a message finds the few windows worth comparing. The tuples are shared (there
        # are only a few distinct ones): a set per entry was half of the index's memory.
        self._starts: dict[str, tuple[int, ...]] = {}
        self._lengths: dict[tuple[int, ...], tuple[int, ...]] = {}
        self._alphabet: set[str] = set()
        self._span: re.Pattern[str] | None = None
        self._registered: set[str] = set()
        # The runs of the secrets kept for good (the client secret); those of secrets that retire (access tokens),
        # and when (clock time) they leave the index.
        self._permanent_runs: set[str] = set()
        self._runs_of: dict[str, set[str]] = {}
        self._retire_at: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def fragment_characters(self) -> int:
        return self._k

    def register(self, secret: str, retire_at: float | None = None) -> set[str]:
        """Register `secret`; returns its whole renderings (for the CDK's list), empty when already registered.

        `retire_at` (a time of `clock`, seconds) is when the secret's runs leave the index: an access token, once
        it has expired and no answer to a request that carried it can still arrive. The index of a secret is
        about 0.8 MB for a token of 500 characters, so without retirement a long sync that renews a token every
        15 minutes for many business units would hold gigabytes. None: kept for the whole process."""
        if not secret:
            return set()
        with self._lock:
            self._retire_due()
            if secret in self._registered:
                return set()
            self._registered.add(secret)
            runs = self._runs_of_secret(secret)
            if retire_at is None:
                self._permanent_runs |= runs
            else:
                self._runs_of[secret] = runs
                self._retire_at[secret] = retire_at
            self._index(runs - self._runs)
            self._runs |= runs
            self._compile_span()
            return whole_renderings(secret)

    def _runs_of_secret(self, secret: str) -> set[str]:
        runs: set[str] = set()
        for pieces in character_renderings(secret):
            runs.update("".join(pieces[start : start + self._k]) for start in range(len(pieces) - self._k + 1))
        # Base64 characters wholly inside K bytes of the secret, at its worst alignment (10 for 8 bytes).
        base64_window = min(8 * (offset + self._k) // 6 - -(-8 * offset // 6) for offset in range(3))
        for core in base64_cores(secret):
            runs.update(core[start : start + base64_window] for start in range(len(core) - base64_window + 1))
        return runs

    def _index(self, runs: Iterable[str]) -> None:
        self._index_into(runs, self._starts, self._lengths, self._alphabet)

    def _index_into(
        self,
        runs: Iterable[str],
        starts: dict[str, tuple[int, ...]],
        lengths: dict[tuple[int, ...], tuple[int, ...]],
        alphabet: set[str],
    ) -> None:
        for run in runs:
            key = run[: self._k]
            known = starts.get(key, ())
            if len(run) not in known:
                merged = tuple(sorted((*known, len(run))))
                starts[key] = lengths.setdefault(merged, merged)
            alphabet.update(run)

    def _compile_span(self) -> None:
        characters = "".join(sorted(self._alphabet))
        self._span = re.compile(f"[{re.escape(characters)}]{{{self._k},}}") if characters else None

    def _retire_due(self) -> None:
        """Drop the runs of every secret whose time has come, rebuilding the index from the secrets kept."""
        now = self._clock()
        due = [secret for secret, when in self._retire_at.items() if when <= now]
        # A rebuild costs the runs of every secret kept, so it waits until a quarter of them are due: a
        # registration costs a few times a secret's own runs, however many business units hold live tokens.
        if not due or len(due) * 4 < len(self._retire_at):
            return
        for secret in due:
            del self._runs_of[secret], self._retire_at[secret]
            self._registered.discard(secret)
        # Built aside and swapped in, so that `mask` (which takes no lock) never sees a half-built index.
        runs = self._permanent_runs.union(*self._runs_of.values())
        starts: dict[str, tuple[int, ...]] = {}
        lengths: dict[tuple[int, ...], tuple[int, ...]] = {}
        alphabet: set[str] = set()
        self._index_into(runs, starts, lengths, alphabet)
        self._runs, self._starts, self._lengths, self._alphabet = runs, starts, lengths, alphabet
        self._compile_span()

    def mask(self, text: str) -> str:
        """`text` with every registered run (rule 2) replaced by `****`; whole renderings are runs too.

        UTF-16 text read as if it were one byte per character (a UTF-16 answer without a charset, which the CDK's
        debug log of an answer prints as decoded by `requests`) has a NUL beside every character of a secret:
        runs are also looked for in the text without its NULs (raw, or escaped as `\\x00` / `\\u0000`)."""
        if not text or self._span is None:
            return text
        covered = self._covered(text)
        if "\x00" in text or "x00" in text or "u0000" in text:
            stripped, origin = _without_nuls(text)
            if len(stripped) < len(text):
                covered += [(origin[start], origin[stop - 1] + 1) for start, stop in self._covered(stripped)]
        return _replace_spans(text, covered) if covered else text

    def _covered(self, text: str) -> list[tuple[int, int]]:
        """The spans of `text` (start, stop) that registered runs cover."""
        span, runs, starts, k = self._span, self._runs, self._starts, self._k
        covered: list[tuple[int, int]] = []
        if span is None:
            return covered
        for found in span.finditer(text):
            chunk, base = found.group(0), found.start()
            size = len(chunk)
            for position in range(size - k + 1):
                lengths = starts.get(chunk[position : position + k])
                if lengths:
                    covered += [
                        (base + position, base + position + length)
                        for length in lengths
                        if position + length <= size and chunk[position : position + length] in runs
                    ]
        return covered


_NUL = re.compile(r"\x00|\\+(?:x00|u0000)")


def _without_nuls(text: str) -> tuple[str, list[int]]:
    """`text` without its NULs (raw or escaped), and for each character kept its index in `text`."""
    pieces: list[str] = []
    origin: list[int] = []
    end = 0
    for nul in _NUL.finditer(text):
        pieces.append(text[end : nul.start()])
        origin.extend(range(end, nul.start()))
        end = nul.end()
    pieces.append(text[end:])
    origin.extend(range(end, len(text)))
    return "".join(pieces), origin


def _replace_spans(text: str, spans: Iterable[tuple[int, int]]) -> str:
    pieces: list[str] = []
    end = 0
    for start, stop in sorted(spans):
        if start > end:
            pieces += [text[end:start], MASK]
        elif not pieces:
            pieces.append(MASK)
        end = max(end, stop)
    pieces.append(text[end:])
    return "".join(pieces)


MASKER = Masker()


def register_secret(secret: str, retire_at: float | None = None) -> None:
    """Mask `secret` in every form from now on: its runs in our masker, which `mask` and the log handler filter
    apply, and a few whole renderings in the CDK's list, which the CDK's own messages go through.

    The CDK's list only grows (a token every 15 minutes) and costs one `str.replace` per entry and message, so it
    gets the forms it got before (literal, JSON, XML, repr, ascii); every rendering when the secret is too short
    for runs to cover it. `retire_at` (`time.monotonic()` seconds): when the secret's runs and other renderings
    stop being masked (`Masker.register`); its literal forms in the CDK's list stay masked."""
    forms = MASKER.register(secret, retire_at)
    if len(secret) >= MASKER.fragment_characters:
        forms &= {secret, json.dumps(secret)[1:-1], xml_escape(secret), repr(secret)[1:-1], ascii(secret)[1:-1]}
    for form in forms:
        add_to_secrets(form)
    install_log_masking()


def mask(text: str) -> str:
    """`text` with no rendering or run of a registered secret left; the CDK's literal masking first."""
    return MASKER.mask(filter_secrets(text))


class _MaskingFormatter(logging.Formatter):
    """The CDK's log formatter, given a record whose message, traceback and extras are masked.

    Masking happens before the CDK's formatter turns the record into a LOG message: masking the formatted JSON line
    instead would miss a secret the JSON escaping changed (`\\u` becomes `\\\\u`). The record is restored after,
    so other handlers (a test's log capture) see it as it was logged."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        saved = dict(record.__dict__)
        try:
            mask_record(record)
            return self.inner.format(record)
        finally:
            record.__dict__.clear()
            record.__dict__.update(saved)


def mask_record(record: logging.LogRecord) -> None:
    """Mask a log record in place: its message, traceback, stack and the `extra` attributes the CDK's debug log of
    each request and answer carries (headers, body), which its formatter prints as `str(value)`."""
    message = record.getMessage()
    masked = mask(message)
    if masked != message:
        record.msg, record.args = masked, None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask(record.exc_text)
    if record.stack_info:
        record.stack_info = mask(record.stack_info)
    for name in record.__dict__.keys() - _STANDARD_RECORD_ATTRIBUTES:
        value = getattr(record, name)
        if value is not None and not isinstance(value, (int, float, bool)):
            setattr(record, name, mask(str(value)))


_STANDARD_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, None, None, None).__dict__) | {"message"}


def install_log_masking() -> None:
    """Wrap the formatter of every root handler that prints Airbyte LOG messages (the CDK's console handler, which
    prints every log line of the connector and of the CDK); idempotent."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, AirbyteLogFormatter):
            handler.setFormatter(_MaskingFormatter(handler.formatter))
