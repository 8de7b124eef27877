"""Resource sources without Prometheus: config, the local host, and strict reading of odd answers."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from opsbook.config import ConfigError, parse_config
from opsbook.demo.estate import DemoEstate
from opsbook.demo.server import LoopbackServer, Reply, Request
from opsbook.results import Status
from opsbook.tasks.prometheus import aligned_chunks
from opsbook.tasks.resources import check_resource_utilisation, measure_resources
from tests.helpers import estate


def df_percent(mountpoint: str) -> float:
    stat = os.statvfs(mountpoint)
    used = (stat.f_blocks - stat.f_bfree) * stat.f_frsize
    return 100.0 * used / (used + stat.f_bavail * stat.f_frsize)


def measure(tmp_path: Path, resources: dict, **extra: object):
    return asyncio.run(measure_resources(estate(tmp_path, resources=resources, **extra)))


# -- config ---------------------------------------------------------------------------------------


def test_defaults_follow_the_runbook_and_node_exporter(tmp_path: Path) -> None:
    config = estate(tmp_path, resources={"prometheus": {"url": "http://prom:9090"}, "host": {}})
    prometheus = config.resources.prometheus
    assert prometheus.step_s == 300 and prometheus.backfill_days == 30
    assert prometheus.max_points_per_query <= 11_000
    assert "node_cpu_seconds_total" in prometheus.queries.cpu_pct
    assert "node_filesystem_avail_bytes" in prometheus.queries.disk_pct
    assert "node_network_receive_bytes_total" in prometheus.queries.network_rx_bytes_per_s
    assert config.resources.host.mountpoints == ["/"]
    assert config.thresholds.resources.disk_pct.warn == 80


def test_bad_resource_config_names_each_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "resources": {
                    "prometheus": {"url": "not a url", "max_points_per_query": 20_000, "step_s": 0, "querys": {}},
                    "host": {"mountpoints": ["data"]},
                }
            },
            base_dir=tmp_path,
        )
    problems = "\n".join(caught.value.problems)
    for key in (
        "resources.prometheus.url",
        "resources.prometheus.max_points_per_query",
        "resources.prometheus.step_s",
        "resources.prometheus.querys: unknown key",
        "resources.host.mountpoints: mount points must be absolute",
    ):
        assert key in problems, problems


def test_nothing_configured_is_skipped_not_ok(tmp_path: Path) -> None:
    [result] = asyncio.run(check_resource_utilisation.fn(estate(tmp_path)))
    assert result.status is Status.SKIPPED and "resources.host" in result.message


def test_demo_estate_watches_this_host(tmp_path: Path) -> None:
    config = parse_config(DemoEstate({}, tmp_path).config(), base_dir=tmp_path)
    assert config.resources.host is not None and config.resources.prometheus is None


# -- the local host (psutil) ----------------------------------------------------------------------


def test_host_figures_match_df(tmp_path: Path) -> None:
    results = measure(tmp_path, {"host": {"name": "web-1", "mountpoints": ["/"], "cpu_sample_s": 0.2}})
    assert [r.check for r in results] == ["resource.cpu", "resource.memory", "resource.disk"]
    cpu, memory, disk = results
    assert 0 <= cpu.value <= 100 and 0 < memory.value < 100
    assert disk.target == "web-1 /" and disk.labels == {"instance": "web-1", "source": "host", "mountpoint": "/"}
    assert abs(disk.value - df_percent("/")) <= 1.0
    assert all(r.status is not Status.ERROR and r.unit == "%" for r in results)


def test_host_disk_past_configured_levels_warns_or_fails(tmp_path: Path) -> None:
    used = df_percent("/")
    warn_only = {"resources": {"disk_pct": {"warn": used / 2, "fail": 100}}}
    [disk] = [
        r
        for r in measure(tmp_path, {"host": {"cpu_sample_s": 0.1}}, thresholds=warn_only)
        if r.check == "resource.disk"
    ]
    assert disk.status is Status.WARN and "above the warning level" in disk.message


def test_missing_mountpoint_is_an_error_for_that_mount_only(tmp_path: Path) -> None:
    results = measure(tmp_path, {"host": {"mountpoints": ["/", "/no/such/mount"], "cpu_sample_s": 0.1}})
    disks = {r.labels["mountpoint"]: r for r in results if r.check == "resource.disk"}
    assert disks["/"].status is not Status.ERROR
    assert disks["/no/such/mount"].status is Status.ERROR
    assert "FileNotFoundError" in disks["/no/such/mount"].message


# -- answers a real Prometheus should not give, from a loopback stand-in ---------------------------


def vector(*values: str, instance: str = "node-1:9100") -> Reply:
    return Reply.json(
        {
            "status": "success",
            "data": {
                "resultType": "vector",
                "result": [
                    {"metric": {"instance": instance, "mountpoint": "/"}, "value": [1_700_000_000.0, v]} for v in values
                ],
            },
        }
    )


def answer_for(tmp_path: Path, reply: Reply, **section: object):
    seen: list[Request] = []

    def handler(request: Request) -> Reply:
        seen.append(request)
        return reply

    with LoopbackServer({"/api/v1/query": handler}) as server:
        results = measure(tmp_path, {"prometheus": {"url": server.url("/"), **section}})
    return {r.check: r for r in results}, seen


def test_bearer_token_from_env_is_sent_and_never_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    canary = "canary-4b1f-prometheus-token"
    monkeypatch.setenv("OPSBOOK_TEST_PROM_TOKEN", canary)
    results, seen = answer_for(tmp_path, vector("42.5"), bearer_token="${OPSBOOK_TEST_PROM_TOKEN}")
    assert {r.status for r in results.values()} == {Status.OK}
    assert results["resource.cpu"].value == 42.5
    # This fake answers `up[15m]` with a vector: freshness unknown, and the figure says so.
    assert results["resource.cpu"].details["freshness"].startswith("freshness not checked: expected a matrix")
    assert {r.headers.get("Authorization") for r in seen} == {f"Bearer {canary}"}
    assert {r.path for r in seen} == {"/api/v1/query"} and all("query=" in r.query for r in seen)
    assert all(canary not in json.dumps(r.model_dump(mode="json")) for r in results.values())


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (Reply(200, "<html>a login page</html>"), "that is not Prometheus' API JSON"),
        (Reply.json({"status": "success"}), "sent no data"),
        (Reply.json({"status": "success", "data": {"resultType": "matrix", "result": []}}), "expected a vector"),
        (Reply.json({"status": "success", "data": {"resultType": "vector", "result": [{"value": "x"}]}}), "malformed"),
        (vector("+Inf"), "not a number"),
        (vector("NaN"), "not a number"),
        (vector("130"), "not a percentage"),
        (
            Reply.json(
                {"status": "error", "errorType": "execution", "error": "many-to-many matching not allowed"}, status=422
            ),
            "Prometheus rejected the query (execution): many-to-many matching not allowed",
        ),
    ],
)
def test_odd_answers_are_errors(tmp_path: Path, reply: Reply, words: str) -> None:
    results, _ = answer_for(tmp_path, reply)
    for result in results.values():
        assert result.status is Status.ERROR, result
        assert words in result.message


def test_query_timeout_503_is_retried_then_shown_verbatim(tmp_path: Path) -> None:
    timeout = Reply.json(
        {"status": "error", "errorType": "timeout", "error": "query timed out in expression evaluation"}, status=503
    )
    results, seen = answer_for(tmp_path, timeout)
    figures = [r for r in seen if not r.query.startswith("query=up%5B")]
    assert len(figures) == 3 * 3  # three figures, each tried three times (http.retries = 2)
    assert len(seen) - len(figures) == 3  # ... and the freshness query (`up[15m]`) too
    assert "(timeout): query timed out in expression evaluation" in results["resource.memory"].message


# -- backfill windows -----------------------------------------------------------------------------


def test_windows_respect_the_point_limit_and_are_aligned_and_contiguous() -> None:
    end = datetime(2026, 3, 1, 12, 7, 31, tzinfo=UTC)
    start = end - timedelta(days=30)
    [only] = aligned_chunks(start, end, 300, 10_000)  # 30 days at 5 minutes fit in one query
    assert only[0] % 300 == 0 and only[0] >= start.timestamp() and only[1] <= end.timestamp()
    windows = aligned_chunks(start, end, 60, 10_000)  # 43,200 points need five
    assert len(windows) == 5
    points = [round((last - first) / 60) + 1 for first, last in windows]
    assert max(points) <= 10_000 and sum(points) == 30 * 24 * 60
    assert all(nxt[0] - prev[1] == 60 for prev, nxt in pairwise(windows))
    assert aligned_chunks(start, end, 60, 10_000) == windows  # same instants every time
    assert aligned_chunks(end, start, 60, 10_000) == []


def test_limits_left_out_judge_nothing(tmp_path: Path) -> None:
    no_limits = {"resources": {"cpu_pct": {"warn": None, "fail": None}}}
    [cpu] = [
        r for r in measure(tmp_path, {"host": {"cpu_sample_s": 0.1}}, thresholds=no_limits) if r.check == "resource.cpu"
    ]
    assert cpu.status is Status.OK and cpu.threshold is None and cpu.message.startswith("CPU at ")
