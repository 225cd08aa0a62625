"""The demo's landing path: PyAirbyte runs `source-sfmc` as a local executable against the sandbox, into DuckDB.

PyAirbyte lives in its own venv, .venv-demo (scripts/setup-demo.sh, which scripts/demo.sh runs): its ~180
packages would add minutes to every test install, so the test venv and CI do without, and these tests skip
there with the reason.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from airbyte_cdk.models import AirbyteCatalog

from integration_tests import harness
from integration_tests.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent
DEMO_PYTHON = ROOT / ".venv-demo" / "bin" / "python"
# One REST stream, one SOAP object, one tracking-event stream and one data extension: each path once.
STREAMS = ["campaigns", "subscriber_lists", "bounce_events"]


def _pyairbyte_problem() -> str | None:
    if not DEMO_PYTHON.exists():
        return "PyAirbyte is not installed: scripts/setup-demo.sh (run by scripts/demo.sh) puts it in .venv-demo"
    if subprocess.run([DEMO_PYTHON, "-c", "import airbyte"], capture_output=True, timeout=120).returncode != 0:
        return ".venv-demo has no importable PyAirbyte: rerun scripts/setup-demo.sh"
    return None


PYAIRBYTE_PROBLEM = _pyairbyte_problem()
pytestmark = pytest.mark.skipif(PYAIRBYTE_PROBLEM is not None, reason=f"the demo's PyAirbyte path: {PYAIRBYTE_PROBLEM}")


def land(config: dict[str, Any], streams: list[str], workdir: Path) -> dict[str, Any]:
    """scripts/land_duckdb.py in `workdir` (PyAirbyte's default cache lands there); its JSON summary."""
    config_path = workdir / "config.json"
    config_path.write_text(json.dumps(config))
    command = [
        DEMO_PYTHON,
        ROOT / "scripts" / "land_duckdb.py",
        "--config",
        config_path,
        "--streams",
        ",".join(streams),
    ]
    command += ["--executable", Path(sys.executable).parent / "source-sfmc", "--summary", workdir / "summary.json"]
    finished = subprocess.run(command, capture_output=True, text=True, cwd=workdir, timeout=300)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    return json.loads((workdir / "summary.json").read_text())


def duckdb_row_count(database: str, table: str) -> int:
    connect = f"db = duckdb.connect({database!r}, read_only=True)"
    query = f"import duckdb; {connect}; print(db.sql('SELECT COUNT(*) FROM {table}').fetchone()[0])"
    return int(subprocess.run([DEMO_PYTHON, "-c", query], capture_output=True, text=True, check=True).stdout)


@pytest.fixture(scope="module")
def streams(catalog: AirbyteCatalog) -> list[str]:
    data_extensions = sorted(stream.name for stream in catalog.streams if stream.name.startswith("data_extension__"))
    return [*STREAMS, data_extensions[0]]


@pytest.fixture(scope="module")
def landed(sandbox: Sandbox, streams: list[str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return land(sandbox.config(), streams, tmp_path_factory.mktemp("pyairbyte"))


def test_pyairbyte_lands_as_many_rows_per_stream_as_the_connector_reads(
    sandbox: Sandbox, catalog: AirbyteCatalog, streams: list[str], landed: dict[str, Any]
) -> None:
    direct = harness.run_read(
        sandbox, sandbox.config(), harness.configured_catalog(catalog, streams, incremental=False)
    )

    assert landed["rows"] == {stream: len(direct.records.get(stream, [])) for stream in streams}
    assert all(landed["rows"].values()), landed["rows"]


def test_the_landed_rows_are_in_a_duckdb_file_a_person_can_open(landed: dict[str, Any]) -> None:
    assert Path(landed["duckdb"]).is_file()
    assert duckdb_row_count(landed["duckdb"], "campaigns") == landed["rows"]["campaigns"]


def test_a_stream_pyairbyte_cannot_name_a_column_for_is_left_out_by_name_and_the_rest_lands(
    sandbox: Sandbox, catalog: AirbyteCatalog, tmp_path: Path
) -> None:
    unnameable = [
        stream.name
        for stream in catalog.streams
        if any(not re.sub(r"[^A-Za-z0-9]", "", name) for name in stream.json_schema.get("properties", {}))
    ]
    assert unnameable, "the sandbox has a data extension whose fields are named in another script"

    summary = land(sandbox.config(), ["campaigns", unnameable[0]], tmp_path)

    assert set(summary["left_out"]) == {unnameable[0]}
    assert summary["rows"]["campaigns"] > 0
