"""Console entry point: `source-sfmc spec|check|discover|read ...`."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Mapping
from typing import Any

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.exception_handler import assemble_uncaught_exception
from airbyte_cdk.logger import PRINT_BUFFER
from airbyte_cdk.models import AirbyteMessage, ConnectorSpecification, FailureType
from airbyte_cdk.sources.utils.schema_helpers import split_config
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_sfmc.config import parse_config
from source_sfmc.messages import keep_record_nulls
from source_sfmc.source import SourceSfmc, mask_error_trace

logger = logging.getLogger("airbyte")


class SfmcEntrypoint(AirbyteEntrypoint):
    """The CDK's entry point, but `check` validates the config with our parser alone, as `discover` and `read` do.

    The CDK checks a config against the spec's JSON schema in `check` only (`discover` and `read` skip it, as
    `SourceSfmc.check_config_against_spec` is false), so anything the schema and `parse_config` disagree on was
    refused by `check` and read by `read`: a MID written as a JSON integer (`[7294501]`, as a Python user of
    PyAirbyte writes it), an optional setting left null. Its messages do not name the field either ("7294501 is not
    of type 'string'"). `parse_config` is the one judge of a config for every command, and names the field.
    """

    @staticmethod
    def validate_connection(source_spec: ConnectorSpecification, config: Mapping[str, Any]) -> None:
        connector_config, _ = split_config(config)
        parse_config(connector_config)


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
        try:
            for message in entrypoint.run(parsed_args):
                print(f"{message}\n", end="")
        except Exception as error:
            traced = assemble_uncaught_exception(type(error), error)
            if traced.failure_type != FailureType.config_error:
                # What the CDK's uncaught-exception handler does (a FATAL log line with the traceback, then the
                # trace with its stack trace for whoever debugs the connector), but masked: the handler masks the
                # literal text of a secret only, so a discover that failed on an answer quoting the token
                # percent-encoded printed it.
                logger.fatal(error, exc_info=error)
                print(f"{AirbyteEntrypoint.airbyte_message_to_string(masked_trace(traced))}\n", end="")
                sys.exit(1)
            for message in config_error_messages(parsed_args.command, traced):
                print(f"{AirbyteEntrypoint.airbyte_message_to_string(message)}\n", end="")
            # As the CDK ends a check whose config is wrong (a FAILED status, exit code 0); read and discover
            # exit non-zero, which is how the platform learns an attempt failed.
            if parsed_args.command != "check":
                sys.exit(1)


def config_error_messages(command: str, error: AirbyteTracedException) -> list[AirbyteMessage]:
    """What a config_error that reached the entry point prints: its trace (without a stack trace: the user's
    mistake is in the message, not in our code) and, for `check`, the FAILED CONNECTION_STATUS Airbyte expects.

    The CDK reads the config file before our `check`/`discover`/`read` run, so a file that is not a JSON object
    fails outside them; the CDK's uncaught-exception handler would log it as FATAL with a Python traceback and
    give `check` no status at all."""
    trace = masked_trace(error)
    if trace.trace and trace.trace.error:
        trace.trace.error.stack_trace = None
    messages = [trace]
    if command == "check":
        status = error.as_connection_status_message()
        if status is not None:
            messages.append(status)
    return messages


def masked_trace(error: AirbyteTracedException) -> AirbyteMessage:
    """The error's TRACE message with every rendering of a secret masked in its message, internal message and
    stack trace (`as_sanitized_airbyte_message` masks their literal text only)."""
    trace = error.as_airbyte_message()
    if trace.trace and trace.trace.error:
        mask_error_trace(trace.trace.error)
    return trace


if __name__ == "__main__":
    run()
