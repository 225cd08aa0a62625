"""Console entry point: `source-sfmc spec|check|discover|read ...`."""

from __future__ import annotations

import gc
import sys
from collections.abc import Mapping
from typing import Any

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.logger import PRINT_BUFFER
from airbyte_cdk.models import ConnectorSpecification
from airbyte_cdk.sources.utils.schema_helpers import split_config

from source_sfmc.config import parse_config
from source_sfmc.messages import keep_record_nulls
from source_sfmc.source import SourceSfmc


class SfmcEntrypoint(AirbyteEntrypoint):
    """The CDK's entry point, but `check` validates with our config parser first.

    The CDK checks a config against the spec's JSON schema before anything else, and its messages do not name the
    field ("0 is less than the minimum of 1"); `parse_config` says which field is wrong and what it expects.
    """

    @staticmethod
    def validate_connection(source_spec: ConnectorSpecification, config: Mapping[str, Any]) -> None:
        connector_config, _ = split_config(config)
        parse_config(connector_config)
        # parse_config reads an optional setting left null as not set, and so does `read`; the spec's schema
        # would refuse the null ("None is not of type 'integer'", naming no field), so it checks the rest.
        AirbyteEntrypoint.validate_connection(
            source_spec, {key: value for key, value in config.items() if value is not None}
        )


# Objects allocated between two young-generation collections (CPython's default is 700).
YOUNG_COLLECTION_THRESHOLD = 50_000


def tune_garbage_collection() -> None:
    """Make the cyclic garbage collector cheap for a read, without turning it off.

    A read allocates some twenty dicts and lists per record, none of them in a reference cycle. With CPython's
    defaults the collector runs every 700 allocations and, every hundred runs, walks every object alive, the
    CDK's several hundred thousand from start-up included: about 5 µs of CPU per record, a tenth of what a record
    costs (measured with `bench.profile` and whole reads). Frozen start-up objects are never walked again, and a
    young generation of 50,000 objects is collected 70 times less often; cycles are still collected.
    """
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])


def run(args: list[str] | None = None) -> None:
    # What `airbyte_cdk.entrypoint.launch` does, with our entry point class.
    entrypoint = SfmcEntrypoint(SourceSfmc())
    keep_record_nulls()
    tune_garbage_collection()
    parsed_args = entrypoint.parse_args(sys.argv[1:] if args is None else args)
    with PRINT_BUFFER:
        for message in entrypoint.run(parsed_args):
            print(f"{message}\n", end="")


if __name__ == "__main__":
    run()
