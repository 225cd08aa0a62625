"""Console entry point: `source-sfmc spec|check|discover|read ...`."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.logger import PRINT_BUFFER
from airbyte_cdk.models import ConnectorSpecification
from airbyte_cdk.sources.utils.schema_helpers import split_config

from source_sfmc.config import parse_config
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


def run(args: list[str] | None = None) -> None:
    # What `airbyte_cdk.entrypoint.launch` does, with our entry point class.
    entrypoint = SfmcEntrypoint(SourceSfmc())
    parsed_args = entrypoint.parse_args(sys.argv[1:] if args is None else args)
    with PRINT_BUFFER:
        for message in entrypoint.run(parsed_args):
            print(f"{message}\n", end="")


if __name__ == "__main__":
    run()
