"""The CDK's standard source tests, driven by acceptance-test-config.yml, against a sandbox this module starts.

The configs under integration_tests/ point at a sandbox on 127.0.0.1:8765 (for a by-hand run or the image).
Here the sandbox listens on a free port chosen when the tests are collected, and every scenario reads its
config file with `subdomain` pointed at that port, so a sandbox left running on 8765 never collides.

The image tests (`test_docker_image_*`) run against an image built beforehand, `airbyte/source-sfmc:dev` or
the one named by SFMC_CONNECTOR_IMAGE; they are skipped when no Docker engine answers or the image is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from airbyte_cdk.test.models import ConnectorTestScenario
from airbyte_cdk.test.standard_tests import (
    SourceTestSuiteBase,
    docker_base,
)

# The suite's fixtures and parametrization hook, imported so pytest finds them in this module.
from airbyte_cdk.test.standard_tests.pytest_hooks import (  # noqa: F401
    pytest_generate_tests,
    read_from_streams,
    read_scenarios,
)
from boltons.typeutils import classproperty

from integration_tests.sandbox import start_sandbox
from source_sfmc.source import SourceSfmc

REPO_ROOT = Path(__file__).resolve().parent.parent
CONNECTOR_IMAGE = os.environ.get("SFMC_CONNECTOR_IMAGE", "airbyte/source-sfmc:dev")


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SANDBOX_PORT = _free_loopback_port()


def _pointed_at_sandbox(scenario: ConnectorTestScenario) -> ConnectorTestScenario:
    if scenario.config_path is None:
        return scenario
    config = json.loads((REPO_ROOT / scenario.config_path).read_text())
    config["subdomain"] = f"http://127.0.0.1:{SANDBOX_PORT}"
    return scenario.model_copy(update={"config_dict": config})


def _docker_image_problem(image: str) -> str | None:
    """Why the image tests cannot run here, or None when they can."""
    if shutil.which("docker") is None:
        return "no docker CLI on PATH"
    if subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode != 0:
        return "no Docker engine answers `docker info`"
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True, timeout=30).returncode != 0:
        return f"image {image} is not built (see the README's Docker section)"
    return None


@pytest.fixture(scope="module", autouse=True)
def standard_suite_sandbox() -> Iterator[None]:
    with start_sandbox(port=SANDBOX_PORT):
        yield


@pytest.fixture
def connector_image_override(monkeypatch: pytest.MonkeyPatch) -> str:
    problem = _docker_image_problem(CONNECTOR_IMAGE)
    if problem:
        pytest.skip(f"image tests need a Docker engine and a built image: {problem}")
    # The sandbox listens on the host's loopback only; the suite's containers must share the host's network.
    run_in_image = docker_base.run_docker_airbyte_command

    def run_on_host_network(cmd: list[str], **options: object) -> object:
        if cmd[:2] == ["docker", "run"]:
            cmd = [*cmd[:2], "--network", "host", *cmd[2:]]
        return run_in_image(cmd, **options)

    monkeypatch.setattr(docker_base, "run_docker_airbyte_command", run_on_host_network)
    return CONNECTOR_IMAGE


@pytest.fixture
def connector_base_image_override() -> None:
    return None


class TestSfmcStandardSuite(SourceTestSuiteBase):
    connector = SourceSfmc

    @classproperty
    def connector_name(cls) -> str:
        return "source-sfmc"

    @classmethod
    def get_connector_root_dir(cls) -> Path:
        # The repository root is the connector's directory, whatever the checkout's folder is called.
        return REPO_ROOT

    @classmethod
    def get_scenarios(cls) -> list[ConnectorTestScenario]:
        return [_pointed_at_sandbox(scenario) for scenario in super().get_scenarios()]

    def test_config_matches_spec(self, scenario: ConnectorTestScenario) -> None:
        # The suite's job runner passes a scenario's catalog to every verb but check and discover, and
        # `spec` refuses `--catalog`; this config is also a read config, so it carries one.
        super().test_config_matches_spec(scenario.model_copy(update={"configured_catalog_path": None}))

    def test_docker_image_spec_backward_compatibility(self) -> None:
        # It compares with the version published in Airbyte's registry: off the loopback, and none is published.
        pytest.skip("source-sfmc has no published version to compare its spec with")
