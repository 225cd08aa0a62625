"""The floor: the same pages fetched one after another, parsed by lxml iterparse into dicts and written out.

Nothing but HTTP, the fastest XML-to-dict path available and a JSON line per record, so the connector's
overhead reads as a ratio to this. Requests are built with the connector's own envelope code, so the pages are
the same ones the connector asks for (same properties, same windows, same page size).
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from lxml import etree

from source_sfmc.auth import SfmcAuthenticator
from source_sfmc.config import parse_config
from source_sfmc.soap.envelope import (
    SOAP_ACTION_HEADERS,
    ComplexFilter,
    SimpleFilter,
    continue_envelope,
    retrieve_envelope,
)
from source_sfmc.soap.streams import SOAP_OBJECTS, soap_properties
from source_sfmc.stream_base import date_windows, format_window_bound, load_schema, utc_now

_PARTNER_API = "{http://exacttarget.com/wsdl/partnerAPI}"
_RESULTS = f"{_PARTNER_API}Results"
_STATUS = f"{_PARTNER_API}OverallStatus"
_REQUEST_ID = f"{_PARTNER_API}RequestID"


@dataclass
class FloorRun:
    records: int
    pages: int
    wall_seconds: float  # fetch + parse + write, one page after another
    parse_write_seconds: float  # the CPU part alone: parse + write
    cpu_seconds: float  # CPU of this process over the whole run (requests, parse, write), whatever the load

    @property
    def records_per_second(self) -> float:
        return self.records / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def parse_write_records_per_second(self) -> float:
        return self.records / self.parse_write_seconds if self.parse_write_seconds else 0.0


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def parse_page(body: bytes, out: Any) -> tuple[int, str, str | None]:
    """Records written, OverallStatus and RequestID of one Retrieve response."""
    count, status, request_id = 0, "", None
    for _, element in etree.iterparse(io.BytesIO(body), events=("end",), tag=(_RESULTS, _STATUS, _REQUEST_ID)):
        if element.tag == _RESULTS:
            record = {}
            for child in element:
                if len(child):
                    record[_local(child.tag)] = {_local(leaf.tag): leaf.text for leaf in child}
                else:
                    record[_local(child.tag)] = child.text
            out.write(json.dumps(record))
            out.write("\n")
            count += 1
            element.clear()
        elif element.tag == _STATUS:
            status = element.text or ""
        else:
            request_id = element.text
    return count, status, request_id


def run_floor(config: dict[str, Any], stream_name: str, output: Path) -> FloorRun:
    sfmc_config = parse_config(config)
    session = requests.Session()
    authenticator = SfmcAuthenticator(sfmc_config, session=session)
    spec = next(spec for spec in SOAP_OBJECTS if spec.stream_name == stream_name)
    properties = soap_properties(load_schema(stream_name))
    records = pages = 0
    parse_write = 0.0
    started, cpu_started = time.perf_counter(), time.process_time()
    with output.open("w") as out:
        for lower, upper in _windows(sfmc_config.start_date, sfmc_config.window, spec.cursor):
            request_id: str | None = None
            while True:
                token = authenticator.get_access_token()
                if request_id:
                    body = continue_envelope(token, request_id, spec.object_type)
                else:
                    body = retrieve_envelope(
                        token, spec.object_type, properties, _window_filter(spec.cursor, lower, upper)
                    )
                response = session.post(authenticator.soap_endpoint, data=body, headers=SOAP_ACTION_HEADERS)
                response.raise_for_status()
                parse_started = time.perf_counter()
                count, status, request_id = parse_page(response.content, out)
                parse_write += time.perf_counter() - parse_started
                records += count
                pages += 1
                if status != "MoreDataAvailable" or not request_id:
                    break
    return FloorRun(records, pages, time.perf_counter() - started, parse_write, time.process_time() - cpu_started)


def _windows(start: datetime | None, step: timedelta, cursor: str | None) -> list[tuple[str | None, str | None]]:
    if start is None or cursor is None:
        return [(None, None)]
    return [(format_window_bound(a), format_window_bound(b)) for a, b in date_windows(start, utc_now(), step)]


def _window_filter(cursor: str | None, lower: str | None, upper: str | None) -> ComplexFilter | None:
    if cursor is None or lower is None or upper is None:
        return None
    return ComplexFilter(
        SimpleFilter(cursor, "greaterThanOrEqual", (lower,), dates=True),
        "AND",
        SimpleFilter(cursor, "lessThan", (upper,), dates=True),
    )
