"""Resource figures from a real Prometheus scraping a real node exporter on this machine."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from opsbook.cli import app
from opsbook.results import Status, utcnow
from opsbook.store import HistoryStore
from opsbook.tasks.resource_history import backfill_resources
from opsbook.tasks.resources import measure_resources
from tests.conftest import free_port
from tests.helpers import estate, write_config
from tests.prometheus_harness import MISSING, NODE_EXPORTER, PROMETHEUS, RunningPrometheus, running_prometheus
from tests.test_resources import df_percent


@pytest.fixture(scope="session")
def prometheus() -> Iterator[RunningPrometheus]:
    if not (PROMETHEUS and NODE_EXPORTER):
        pytest.skip(MISSING)
    with running_prometheus() as running:
        yield running


def measure(tmp_path: Path, prometheus_section: dict, **extra: object):
    config = estate(tmp_path, resources={"prometheus": prometheus_section}, **extra)
    return asyncio.run(measure_resources(config))


def test_real_figures_of_this_machine(tmp_path: Path, prometheus: RunningPrometheus) -> None:
    results = measure(tmp_path, {"url": prometheus.url})
    by_check = {
        check: [r for r in results if r.check == check]
        for check in ("resource.cpu", "resource.memory", "resource.disk")
    }
    [cpu], [memory] = by_check["resource.cpu"], by_check["resource.memory"]
    for result in (cpu, memory):
        assert result.status in (Status.OK, Status.WARN, Status.FAIL), result.message
        assert 0 <= result.value <= 100 and result.unit == "%"
        assert result.labels == {"instance": prometheus.node_exporter, "source": "prometheus"}
    [root] = [r for r in by_check["resource.disk"] if r.labels["mountpoint"] == "/"]
    assert root.target == f"{prometheus.node_exporter} /"
    assert abs(root.value - df_percent("/")) <= 1.0, (root.value, df_percent("/"))
    assert root.threshold == 80  # the runbook's warning level, from thresholds.resources
    assert "query" in root.details


def test_critical_level_comes_from_config_thresholds(tmp_path: Path, prometheus: RunningPrometheus) -> None:
    used = df_percent("/")
    thresholds = {"resources": {"disk_pct": {"warn": used / 4, "fail": used / 2}}}
    results = measure(tmp_path, {"url": prometheus.url, "mountpoints": ["/"]}, thresholds=thresholds)
    [root] = [r for r in results if r.check == "resource.disk"]
    assert root.status is Status.FAIL
    assert root.threshold == pytest.approx(used / 2)
    assert "above the critical level" in root.message


def test_promql_syntax_error_shows_prometheus_own_message(tmp_path: Path, prometheus: RunningPrometheus) -> None:
    bad = "rate(node_cpu_seconds_total[5m]"
    own = prometheus.query(bad).json()
    assert own["status"] == "error"
    results = measure(tmp_path, {"url": prometheus.url, "queries": {"cpu_pct": bad}})
    [cpu] = [r for r in results if r.check == "resource.cpu"]
    assert cpu.status is Status.ERROR
    assert own["error"] in cpu.message and own["errorType"] in cpu.message
    assert cpu.attempts == 1 and cpu.details["failure"] == "rejected"  # a 400 is not retried
    assert all(r.status is not Status.ERROR for r in results if r.check != "resource.cpu")


def test_empty_result_is_an_error_never_ok(tmp_path: Path, prometheus: RunningPrometheus) -> None:
    results = measure(tmp_path, {"url": prometheus.url, "queries": {"memory_pct": "node_no_such_metric_bytes"}})
    [memory] = [r for r in results if r.check == "resource.memory"]
    assert memory.status is Status.ERROR
    assert "no series" in memory.message


def test_watched_mountpoint_that_is_not_there_is_no_series(tmp_path: Path, prometheus: RunningPrometheus) -> None:
    results = measure(tmp_path, {"url": prometheus.url, "mountpoints": ["/no/such/mount"]})
    [disk] = [r for r in results if r.check == "resource.disk"]
    assert disk.status is Status.ERROR and "no series for mount points ['/no/such/mount']" in disk.message


def test_nan_values_are_errors(tmp_path: Path, prometheus: RunningPrometheus) -> None:
    nan = "100 * node_memory_MemFree_bytes * 0 / 0"
    results = measure(tmp_path, {"url": prometheus.url, "queries": {"memory_pct": nan}})
    [memory] = [r for r in results if r.check == "resource.memory"]
    assert memory.status is Status.ERROR
    assert "nan" in memory.message.lower() and "not a number" in memory.message
    assert memory.target == prometheus.node_exporter


def test_unreachable_prometheus_errors_every_figure(tmp_path: Path) -> None:
    results = measure(tmp_path, {"url": f"http://127.0.0.1:{free_port()}"})
    assert [r.check for r in results] == ["resource.cpu", "resource.memory", "resource.disk"]
    for result in results:
        assert result.status is Status.ERROR
        assert "unreachable after 3 attempt(s): connection failed" in result.message


def test_backfill_is_chunked_under_the_point_limit_and_never_duplicates(
    tmp_path: Path, prometheus: RunningPrometheus, history_url: str
) -> None:
    end = utcnow()
    start = end - timedelta(seconds=30)
    # 30 s every 2 ms is 15,001 points: Prometheus refuses that in one query...
    refused = httpx.get(
        f"{prometheus.url}/api/v1/query_range",
        timeout=10,
        params={
            "query": "node_memory_MemTotal_bytes",
            "start": start.timestamp(),
            "end": end.timestamp(),
            "step": "0.002",
        },
    )
    assert refused.status_code == 400 and "11,000 points" in refused.json()["error"]
    # ... so the backfill cuts it into windows of at most 10,000 points.
    config = estate(
        tmp_path, resources={"prometheus": {"url": prometheus.url, "mountpoints": ["/"]}}, history={"url": history_url}
    )
    store = HistoryStore(history_url)
    progress: list[tuple[str, int, int]] = []
    first = asyncio.run(
        backfill_resources(
            config, days=30 / 86400, step_s=0.002, end=end, store=store, on_progress=lambda *args: progress.append(args)
        )
    )
    assert first.ok, first.errors
    assert first.windows == 5 * 2 and progress[-1] == ("resource.network_tx", 2, 2)
    assert first.points > 0 and first.inserted == first.points
    memory = store.samples("resource.memory", source="prometheus")
    assert memory and all(0 < s.value < 100 and s.unit == "%" for s in memory)
    assert all(start <= s.ts <= end and round(s.ts.timestamp() * 1000) % 2 == 0 for s in memory)  # 2 ms grid
    disks = store.samples("resource.disk", source="prometheus")
    assert {s.labels["mountpoint"] for s in disks} == {"/"}
    assert abs(disks[-1].value - df_percent("/")) <= 1.0

    again = asyncio.run(backfill_resources(config, days=30 / 86400, step_s=0.002, end=end, store=store))
    assert again.ok and again.points == first.points
    assert again.inserted == 0
    assert len(store.samples("resource.memory", source="prometheus")) == len(memory)


def test_backfill_command_shows_progress_and_summary(tmp_path: Path, prometheus: RunningPrometheus) -> None:
    path = write_config(
        tmp_path,
        {"history": {"url": f"sqlite:///{tmp_path / 'h.db'}"}, "resources": {"prometheus": {"url": prometheus.url}}},
    )
    result = CliRunner().invoke(app, ["backfill", "-c", str(path), "--days", "0.0002", "--step", "1"])
    assert result.exit_code == 0, result.output
    assert "resource.cpu" in result.output  # the progress bars name each metric
    assert "range queries" in result.output and "0 NaN skipped" in result.output


def test_backfill_command_exits_1_when_prometheus_is_down(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        {
            "history": {"url": f"sqlite:///{tmp_path / 'h.db'}"},
            "http": {"retries": 0},
            "resources": {"prometheus": {"url": f"http://127.0.0.1:{free_port()}"}},
        },
    )
    result = CliRunner().invoke(app, ["backfill", "-c", str(path), "--days", "0.001", "--step", "60"])
    assert result.exit_code == 1
    assert "unreachable" in result.output


@pytest.mark.usefixtures("prefect_server")
def test_daily_checklist_runs_the_resource_step_from_both_sources(
    tmp_path: Path, prometheus: RunningPrometheus
) -> None:
    from opsbook.flows.checklist import ChecklistOutcome
    from opsbook.flows.daily import daily_checklist

    history = f"sqlite:///{tmp_path / 'history.db'}"
    path = write_config(
        tmp_path,
        {
            "history": {"url": history},
            "reports": {"directory": str(tmp_path / "reports")},
            # CPU on a shared test machine may spike to 100 %: only its presence is under test here.
            "thresholds": {"resources": {"cpu_pct": {"warn": None, "fail": None}}},
            "resources": {
                "prometheus": {"url": prometheus.url, "mountpoints": ["/"]},
                "host": {"name": "opsbook-host", "cpu_sample_s": 0.2},
            },
        },
    )
    state = daily_checklist(config_path=str(path), return_state=True)
    outcome = state.result(raise_on_failure=False)
    assert isinstance(outcome, ChecklistOutcome) and state.is_completed(), state.message
    disks = {r.labels["source"]: r for r in outcome.results if r.check == "resource.disk"}
    assert set(disks) == {"prometheus", "host"}
    assert abs(disks["prometheus"].value - disks["host"].value) <= 1.0
    html = outcome.report_path.read_text()
    assert "Resource utilisation" in html and "Disk usage, 30 days" in html
    stored = HistoryStore(history).get_run(outcome.run_id)
    assert {r.target for r in stored.results if r.check == "resource.disk"} == {
        f"{prometheus.node_exporter} /",
        "opsbook-host /",
    }
    samples = HistoryStore(history).samples("resource.disk", source="check")
    assert {s.labels["mountpoint"] for s in samples} == {"/"} and len(samples) == 2


@pytest.mark.usefixtures("prefect_server")
def test_backfill_flow_takes_one_parameter_model_and_repeats_safely(
    tmp_path: Path, prometheus: RunningPrometheus
) -> None:
    from opsbook.flows.backfill import BackfillParameters, backfill_resource_history

    history = f"sqlite:///{tmp_path / 'history.db'}"
    path = write_config(tmp_path, {"history": {"url": history}, "resources": {"prometheus": {"url": prometheus.url}}})
    parameters = BackfillParameters(config_path=str(path), days=20 / 86400, step_s=1)
    first = asyncio.run(backfill_resource_history(parameters, return_state=True))
    assert first.is_completed(), first.message
    assert HistoryStore(history).samples("resource.cpu", source="prometheus")
    # Moments later the window has moved on a few seconds: only those new seconds are stored.
    again = asyncio.run(backfill_resource_history(parameters, return_state=True))
    assert again.is_completed(), again.message
    assert again.result().points >= first.result().inserted / 2
    assert again.result().inserted < first.result().inserted / 2


@pytest.mark.usefixtures("prefect_server")
def test_backfill_flow_fails_when_prometheus_is_down(tmp_path: Path) -> None:
    from opsbook.flows.backfill import BackfillParameters, backfill_resource_history

    path = write_config(
        tmp_path,
        {
            "history": {"url": f"sqlite:///{tmp_path / 'h.db'}"},
            "http": {"retries": 0},
            "resources": {"prometheus": {"url": f"http://127.0.0.1:{free_port()}"}},
        },
    )
    state = asyncio.run(
        backfill_resource_history(BackfillParameters(config_path=str(path), days=0.01), return_state=True)
    )
    assert state.is_failed() and "unreachable" in state.message


def test_figures_of_a_stopped_exporter_are_errors_naming_the_target_and_the_age(tmp_path: Path) -> None:
    """With the exporter gone, a 5-minute CPU rate still has points: `up` says they are old."""
    if not (PROMETHEUS and NODE_EXPORTER):
        pytest.skip(MISSING)
    with running_prometheus() as own:  # its own pair: the session's exporter stays up for the others
        section = {"url": own.url, "mountpoints": ["/"]}
        fresh = measure(tmp_path, section)
        assert all(r.status is not Status.ERROR for r in fresh), [r.message for r in fresh]
        assert all(r.details["freshness"]["up"] is True for r in fresh)
        assert {r.details["freshness"]["scrape_interval_s"] for r in fresh} == {1.0}  # 1 s, to the tenth

        own.stop_exporter()
        # Prometheus notices at its next scrape (1 s interval); poll, never sleep a fixed time.
        deadline = time.monotonic() + 30
        while own.query("up").json()["data"]["result"][0]["value"][1] != "0":
            assert time.monotonic() < deadline, "Prometheus never saw the exporter down"
            time.sleep(0.2)
        cpu_still_answers = own.query('rate(node_cpu_seconds_total{mode="idle"}[5m])').json()["data"]["result"]
        assert cpu_still_answers  # the trap: old samples still make a rate

        results = measure(tmp_path, section)
        by_check = {r.check: r for r in results}
        assert sorted(by_check) == ["resource.cpu", "resource.disk", "resource.memory"] and len(results) == 3
        for result in results:
            assert result.status is Status.ERROR, result.message
            assert result.target.startswith(own.node_exporter)
            assert f"target {own.node_exporter} (job node) is down (up == 0)" in result.message
            assert re.search(r"newest sample \d+s old", result.message), result.message
            assert result.details["failure"] == "stale" and result.details["freshness"]["up"] is False
        assert "the last value read" in by_check["resource.cpu"].message  # the figure was there, but old
        assert "no series" in by_check["resource.memory"].message  # its instant series went stale


def test_a_target_no_longer_scraped_is_stale_after_a_few_intervals() -> None:
    from opsbook.tasks.prometheus_freshness import summarise

    points = [(1000.0 + second, 1.0) for second in range(0, 60, 15)]  # scraped every 15 s until 1045
    target = summarise({"instance": "web-1:9100", "job": "node"}, points)
    assert target.interval_s == 15 and target.up
    assert target.problem(now=1080, stale_after_scrapes=3, window_s=900) is None  # 35 s: within 3 intervals
    assert target.problem(now=1100, stale_after_scrapes=3, window_s=900) == (
        "target web-1:9100 (job node) not scraped for 55s (every 15 s expected): newest sample 55s old"
    )
    down = summarise({"instance": "web-1:9100", "job": "node"}, [(1000.0, 0.0), (1015.0, 0.0)])
    assert down.problem(now=1016, stale_after_scrapes=3, window_s=900) == (
        "target web-1:9100 (job node) is down (up == 0), no successful scrape in the last 15m"
    )
