"""scripts/demo.py where PyAirbyte is not installed: every stream's records land as JSON lines, and it says so."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_without_pyairbyte_the_demo_lands_each_stream_as_json_lines_and_says_so(tmp_path: Path) -> None:
    command = [sys.executable, ROOT / "scripts" / "demo.py", "--streams", "campaigns,bounce_events"]
    command += ["--json-lines-dir", tmp_path]

    finished = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)

    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    assert "landing JSON lines instead of DuckDB" in finished.stdout
    counts = {name: int(records) for name, records, _ in re.findall(r"^(\w+)\s+(\d+)\s+(\d+)$", finished.stdout, re.M)}
    for stream in ("campaigns", "bounce_events"):
        records = [json.loads(line) for line in (tmp_path / f"{stream}.jsonl").read_text().splitlines()]
        assert records and all(record["entity_id"] for record in records)
        assert len(records) == counts[stream]
