"""Console entry point: `source-sfmc spec|check|discover|read ...`."""

from __future__ import annotations

import sys

from airbyte_cdk.entrypoint import launch

from source_sfmc.source import SourceSfmc


def run() -> None:
    launch(SourceSfmc(), sys.argv[1:])


if __name__ == "__main__":
    run()
