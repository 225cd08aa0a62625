"""Command line: `python -m integration_tests.sandbox --port 8765 --seed 42 --faults rate_limit:0.1`.

Its activity (sends, tracking events) lies in the six months before `--epoch`, which defaults to today on SFMC's
clock, so a sync of the last 30 days finds data; the data set is the same all day for one seed. Tests pin
`--epoch 2025-07-01` (the library's default) to read fixed data.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import date

from .faults import parse_fault_spec
from .server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, activity_start, server_today, start_sandbox
from .tokens import ALL_SCOPES


def _scopes(text: str) -> tuple[str, ...]:
    return tuple(scope for scope in text.replace(",", " ").split() if scope)


def _faults(text: str) -> str:
    try:
        parse_fault_spec(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _epoch(text: str) -> date:
    if text.strip().lower() == "today":
        return server_today()
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD) or 'today': {text!r}") from None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m integration_tests.sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--epoch",
        type=_epoch,
        default="today",
        help="YYYY-MM-DD: activity lies in the six months before it (default: today, UTC-6)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="record counts scale linearly with it")
    parser.add_argument("--latency-ms", type=float, default=0, help="delay before every answer")
    parser.add_argument(
        "--faults", type=_faults, default="", help="KIND[:RATE][,KIND[:RATE]...]; RATE defaults to 0.1; 'all'"
    )
    parser.add_argument("--slow-seconds", type=float, default=65.0, help="stall length of the 'slow' fault")
    parser.add_argument(
        "--timeout-above",
        type=int,
        default=None,
        help="a Retrieve matching more records than this answers with SFMC's 'Timeout expired' fault",
    )
    parser.add_argument("--token-ttl", type=float, default=1079, help="token lifetime in seconds")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument(
        "--gzip", action="store_true", help="gzip-compress answers to requests that accept gzip (Accept-Encoding)"
    )
    parser.add_argument(
        "--scopes", type=_scopes, default=ALL_SCOPES, help="granted scopes, comma or space separated (default: all)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        sandbox = start_sandbox(
            port=args.port,
            seed=args.seed,
            scale=args.scale,
            latency_ms=args.latency_ms,
            faults=args.faults,
            token_ttl=args.token_ttl,
            client_id=args.client_id,
            client_secret=args.client_secret,
            host=args.host,
            scopes=args.scopes,
            slow_seconds=args.slow_seconds,
            timeout_above=args.timeout_above,
            epoch=args.epoch,
            gzip=args.gzip,
        )
    except (OSError, ValueError) as error:
        print(f"sandbox: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    start = activity_start(args.epoch)
    print(f"SFMC sandbox listening on {sandbox.base_url} (activity from {start} to {args.epoch})", flush=True)
    while not stop.wait(1):
        pass
    sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
