"""A real Prometheus scraping a real node exporter, on free loopback ports, for one test session."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.conftest import free_port

PROMETHEUS = shutil.which("prometheus")
NODE_EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
MISSING = (
    "Prometheus and node exporter are not installed (Debian packages prometheus, "
    "prometheus-node-exporter; .ci/apt-packages.txt lists them for CI)"
)


@dataclass(frozen=True)
class RunningPrometheus:
    url: str
    node_exporter: str  # the `instance` label of the node exporter's series
    exporter: subprocess.Popen[bytes] | None = field(default=None, compare=False, repr=False)

    def stop_exporter(self) -> None:
        """Stop the node exporter while Prometheus keeps scraping (and failing): figures go stale."""
        assert self.exporter is not None
        _stop(self.exporter)

    def query(self, promql: str) -> httpx.Response:
        """Ask Prometheus directly, to compare opsbook's answer with the source's own."""
        return httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _wait_for(condition, what: str, processes: list[subprocess.Popen[bytes]], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args[0]} exited with {process.returncode} while waiting for {what}")
        try:
            if condition():
                return
        except (httpx.HTTPError, ValueError, KeyError):  # not listening yet, or 503 while starting
            pass
        time.sleep(0.2)
    raise RuntimeError(f"timed out after {timeout_s} s waiting for {what}")


@contextmanager
def running_prometheus() -> Iterator[RunningPrometheus]:
    """Start node exporter and Prometheus (1 s scrapes, storage in a temp dir); stop both after."""
    assert PROMETHEUS and NODE_EXPORTER, MISSING
    workdir = Path(tempfile.mkdtemp(prefix="opsbook-prometheus-"))
    exporter_address = f"127.0.0.1:{free_port()}"
    prometheus_address = f"127.0.0.1:{free_port()}"
    (workdir / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: node\n    static_configs: [{{targets: ['{exporter_address}']}}]\n"
    )
    logs = (workdir / "node-exporter.log").open("wb"), (workdir / "prometheus.log").open("wb")
    exporter = subprocess.Popen(
        [
            NODE_EXPORTER,
            f"--web.listen-address={exporter_address}",
            "--collector.disable-defaults",
            "--collector.cpu",
            "--collector.meminfo",
            "--collector.filesystem",
            "--collector.netdev",
        ],
        stdout=logs[0],
        stderr=subprocess.STDOUT,
    )
    server = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address={prometheus_address}",
        ],
        stdout=logs[1],
        stderr=subprocess.STDOUT,
    )
    running = RunningPrometheus(f"http://{prometheus_address}", exporter_address, exporter)
    try:
        # Ready when a CPU rate exists: that needs two scrapes of the exporter.
        rate = 'rate(node_cpu_seconds_total{mode="idle"}[5m])'
        _wait_for(lambda: running.query(rate).json()["data"]["result"], "the first CPU rate", [exporter, server])
        yield running
    finally:
        _stop(server)
        _stop(exporter)
        for log in logs:
            log.close()
        shutil.rmtree(workdir, ignore_errors=True)
