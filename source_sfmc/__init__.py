"""Airbyte source connector for Salesforce Marketing Cloud."""

from source_sfmc.source import SourceSfmc

__all__ = ["SourceSfmc"]
