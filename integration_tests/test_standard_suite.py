"""The CDK's standard source tests, driven by acceptance-test-config.yml, against a sandbox this module starts.

The configs under integration_tests/ point at a sandbox on 127.0.0.1:8765 (for a by-hand run). Here the
sandbox listens on a free port chosen when the tests are collected, and every scenario reads its config file
with `subdomain` pointed at that port, so a sandbox left running on 8765 never collides.

The image tests (`test_docker_image_*`: spec, check, discover, the config against the image's spec, and a read
of every scenario, which must emit integration_tests/expected_records.jsonl) run against an image built
beforehand: `--connector-image`, else $SFMC_CONNECTOR_IMAGE, else `airbyte/source-sfmc:dev`. Its containers
share the host's network to reach the sandbox on loopback. They are skipped, with the reason, when no Docker
engine answers or the image is not built (CI has no engine).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from airbyte_cdk.models import ConfiguredAirbyteCatalogSerializer, SyncMode
from airbyte_cdk.test.models import ConnectorTestScenario
from airbyte_cdk.test.standard_tests import (
    SourceTestSuiteBase,
    docker_base,
)

# The suite's fixtures and parametrization hook, imported so pytest finds them in this module.
from airbyte_cdk.test.standard_tests.pytest_hooks import pytest_generate_tests  # noqa: F401
from boltons.typeutils import classproperty

from integration_tests.sandbox import start_sandbox
from integration_tests.test_acceptance_extras import acceptance_catalog, canonical
from source_sfmc.source import SourceSfmc

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_IMAGE = os.environ.get("SFMC_CONNECTOR_IMAGE", "airbyte/source-sfmc:dev")


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


@functools.cache
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
def connector_image_override(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    image = request.config.getoption("--connector-image") or DEFAULT_IMAGE
    problem = _docker_image_problem(image)
    if problem:
        pytest.skip(f"image tests need a Docker engine and a built image: {problem}")
    # The sandbox listens on the host's loopback only; the suite's containers must share the host's network.
    run_in_image = docker_base.run_docker_airbyte_command

    def run_on_host_network(cmd: list[str], **options: object) -> object:
        if cmd[:2] == ["docker", "run"]:
            cmd = [*cmd[:2], "--network", "host", *cmd[2:]]
        return run_in_image(cmd, **options)

    monkeypatch.setattr(docker_base, "run_docker_airbyte_command", run_on_host_network)
    return image


@pytest.fixture
def connector_base_image_override() -> None:
    return None


@pytest.fixture
def read_from_streams(request: pytest.FixtureRequest) -> Literal["all", "none", "default"] | list[str]:
    """Which streams the image read test reads: metadata.yaml's suggested streams unless `--read-from-streams`
    says `all`, `none`/`false` or names them (the CDK's meanings; its default, too, once its option is registered).
    """
    chosen = request.config.getoption("--read-from-streams")
    if chosen is None or chosen.lower() in ("true", "suggested", "default"):
        return "default"
    if chosen.lower() in ("false", "none"):
        return "none"
    if chosen.lower() == "all":
        return "all"
    return [name.strip() for name in chosen.split(",") if name.strip()]


@pytest.fixture
def read_scenarios(request: pytest.FixtureRequest) -> Literal["all", "none"] | list[str]:
    """Which scenarios the image read test reads: every one unless `--read-scenarios` names them.

    The CDK's default reads only scenarios named `config`, `valid_config` or `default`; ours is `sandbox_config`.
    """
    chosen = request.config.getoption("--read-scenarios")
    if chosen in (None, "default", "all"):
        return "all"
    if chosen == "none":
        return "none"
    return [name.strip() for name in chosen.split(",") if name.strip()]


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

    def test_docker_image_read_emits_the_expected_records(self, connector_image_override: str) -> None:
        config = {**json.loads((REPO_ROOT / "integration_tests" / "sandbox_config.json").read_text())}
        config["subdomain"] = f"http://127.0.0.1:{SANDBOX_PORT}"
        catalog = acceptance_catalog(sync_mode=SyncMode.full_refresh)
        expected_lines = (REPO_ROOT / "integration_tests" / "expected_records.jsonl").read_text().splitlines()
        expected = [json.loads(line) for line in expected_lines if line.strip()]

        messages = _read_in_image(connector_image_override, config, ConfiguredAirbyteCatalogSerializer.dump(catalog))

        read: dict[str, set[str]] = {}
        for message in messages:
            if message["type"] == "RECORD":
                read.setdefault(message["record"]["stream"], set()).update(canonical([message["record"]["data"]]))
        missing = [e for e in expected if canonical([e["data"]])[0] not in read.get(e["stream"], set())]
        assert not [m for m in messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]
        assert not missing, f"{len(missing)} expected records not read by the image, first: {missing[0]}"

    def test_docker_image_spec_backward_compatibility(self) -> None:
        # It compares with the version published in Airbyte's registry: off the loopback, and none is published.
        pytest.skip("source-sfmc has no published version to compare its spec with")


def _read_in_image(image: str, config: dict, catalog: dict) -> list[dict]:
    """`read` in a container on the host's network; the Airbyte messages it printed."""
    with tempfile.TemporaryDirectory() as folder:
        files = {"config.json": config, "catalog.json": catalog}
        for name, content in files.items():
            path = Path(folder) / name
            path.write_text(json.dumps(content))
            path.chmod(0o644)  # the image runs as the non-root user `airbyte`
        mounts = [option for name in files for option in ("-v", f"{Path(folder) / name}:/secrets/{name}:ro")]
        command = ["docker", "run", "--rm", "--network", "host", *mounts, image]
        command += ["read", "--config", "/secrets/config.json", "--catalog", "/secrets/catalog.json"]
        finished = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert finished.returncode == 0, finished.stderr[-2000:]
    return [json.loads(line) for line in finished.stdout.splitlines() if line.startswith("{")]
