"""The sandbox as a separate process, so its CPU time is not charged to the connector."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SANDBOX_CONFIG = ROOT / "integration_tests" / "sandbox_config.json"


class SandboxProcess:
    def __init__(self, scale: float, latency_ms: float) -> None:
        self.scale, self.latency_ms = scale, latency_ms
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "integration_tests.sandbox",
                "--port",
                "0",
                "--scale",
                str(scale),
                "--latency-ms",
                str(latency_ms),
                # The fixed data set (activity 2025-01-01 .. 2025-07-01), so figures compare across days.
                "--epoch",
                "2025-07-01",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline().strip() if self.process.stdout else ""
        if "http://" not in line:
            self.process.kill()
            raise SystemExit(f"the sandbox did not start: {line!r}")
        self.base_url = line[line.index("http://") :].split()[0]

    def config(self, **overrides: Any) -> dict[str, Any]:
        """The repository's sandbox config pointed at this process."""
        return {**json.loads(SANDBOX_CONFIG.read_text()), "subdomain": self.base_url, **overrides}

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.base_url}/_sandbox/stats", timeout=10) as response:
            return json.load(response)

    def reset_stats(self) -> None:
        request = urllib.request.Request(f"{self.base_url}/_sandbox/reset-stats", data=b"", method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class RequestClock:
    """Polls the sandbox's counters during a read, to tell process start-up from the time spent on requests."""

    def __init__(self, sandbox: SandboxProcess, interval: float = 0.05) -> None:
        self.sandbox, self.interval = sandbox, interval
        self.first_request_at: float | None = None
        self.last_request_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> RequestClock:
        self.started = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        seen = 0
        while not self._stop.wait(self.interval):
            stats = self.sandbox.stats()["requests"]
            total = stats["token"] + sum(stats["soap"].values()) + sum(stats["rest"].values())
            if total != seen:
                now = time.perf_counter() - self.started
                self.first_request_at = self.first_request_at if self.first_request_at is not None else now
                self.last_request_at, seen = now, total
