"""The connector's packaging: metadata.yaml as Airbyte's published models read it, one version and license
everywhere Airbyte looks, the pinned base image, the icon, the changelog, and a lock that matches pyproject.toml."""

from __future__ import annotations

import re
import sys
import tomllib
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK_FILES = ("requirements.txt", "requirements-dev.txt", "requirements-demo.txt")


def metadata() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "metadata.yaml").read_text())["data"]


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def dockerfile_default_base_image() -> str:
    (default,) = re.findall(r"^ARG BASE_IMAGE=(\S+)$", (ROOT / "Dockerfile").read_text(), flags=re.MULTILINE)
    return default


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="airbyte-connector-models supports Python 3.10 to 3.12")
def test_metadata_yaml_is_valid_for_airbytes_published_metadata_models() -> None:
    from airbyte_connector_models.metadata.v0.connector_metadata_definition_v0 import (
        ConnectorMetadataDefinitionV0,
    )

    ConnectorMetadataDefinitionV0.model_validate(yaml.safe_load((ROOT / "metadata.yaml").read_text()))


def test_metadata_has_what_airbytes_qa_checks_and_registry_read() -> None:
    data = metadata()

    assert data["remoteRegistries"]["pypi"] == {"enabled": True, "packageName": "airbyte-source-sfmc"}
    assert data["maxSecondsBetweenMessages"] > 600, "longer than one request's whole retry budget"
    assert data["icon"] == "icon.svg"
    assert data["releaseDate"]


def test_suggested_streams_are_streams_the_connector_has() -> None:
    from source_sfmc.rest import REST_STREAMS
    from source_sfmc.soap.streams import SOAP_OBJECTS

    names = {stream.stream_name for stream in REST_STREAMS} | {spec.stream_name for spec in SOAP_OBJECTS}

    assert set(metadata()["suggestedStreams"]["streams"]) <= names


def test_base_image_is_airbytes_python_base_pinned_by_digest_and_the_dockerfiles_default() -> None:
    base_image = metadata()["connectorBuildOptions"]["baseImage"]

    assert re.fullmatch(r"docker\.io/airbyte/python-connector-base:[\d.]+@sha256:[0-9a-f]{64}", base_image)
    assert dockerfile_default_base_image() == base_image


def test_version_is_the_same_in_metadata_pyproject_poetry_section_and_image_label() -> None:
    project = pyproject()
    label = re.search(r"io\.airbyte\.version=(\S+)", (ROOT / "Dockerfile").read_text())

    assert label is not None
    versions = {metadata()["dockerImageTag"], project["project"]["version"], project["tool"]["poetry"]["version"]}
    assert versions == {label.group(1)}


def test_license_is_the_same_in_metadata_and_where_airbytes_qa_reads_pyproject() -> None:
    project = pyproject()

    assert metadata()["license"] == project["project"]["license"] == project["tool"]["poetry"]["license"] == "MIT"


def test_icon_is_a_square_svg() -> None:
    root = ElementTree.parse(ROOT / "icon.svg").getroot()

    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("width") == root.get("height")


def test_docs_changelog_has_the_current_version_inside_details() -> None:
    page = (ROOT / "docs" / "integrations" / "sources" / "sfmc.md").read_text()
    changelog = page[page.index("## Changelog") :]
    details = changelog[changelog.index("<details>") : changelog.index("</details>")]
    version = re.escape(metadata()["dockerImageTag"])

    assert re.search(rf"^\|\s*{version}\s*\|\s*\d{{4}}-\d{{2}}-\d{{2}}\s*\|", details, re.MULTILINE)


# -- the lock --------------------------------------------------------------------------------------------------
def _declared(requirements: list[str]) -> set[tuple[str, SpecifierSet]]:
    parsed = [Requirement(requirement) for requirement in requirements]
    return {(canonicalize_name(requirement.name), requirement.specifier) for requirement in parsed}


def test_uv_lock_was_made_from_the_current_pyproject_dependencies() -> None:
    """uv.lock records the dependencies it was resolved for; a pyproject.toml edited without `scripts/lock.sh`
    differs from them."""
    project = pyproject()["project"]
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    (root_package,) = [package for package in lock["package"] if package["name"] == project["name"]]
    locked = {
        (canonicalize_name(requirement["name"]), SpecifierSet(requirement.get("specifier", "")))
        for requirement in root_package["metadata"]["requires-dist"]
    }
    declared = _declared(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared |= _declared(extra)

    assert locked == declared, "pyproject.toml changed since the lock: run scripts/lock.sh"


@pytest.mark.parametrize("lock_file", LOCK_FILES)
def test_every_exported_requirement_is_pinned_with_hashes_at_its_uv_lock_version(lock_file: str) -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = {(package["name"], package["version"]) for package in lock["package"] if "version" in package}
    pins = re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+)", (ROOT / lock_file).read_text(), flags=re.MULTILINE)
    blocks = re.split(r"\n(?=[a-z0-9])", (ROOT / lock_file).read_text())

    assert pins
    assert set(pins) <= locked, "exports differ from uv.lock: run scripts/lock.sh"
    assert all("--hash=sha256:" in block for block in blocks if re.match(r"[a-z0-9]", block))
