"""The capacity-planning flow and the daily checklist's performance review on a real Prefect server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsbook.demo.server import LoopbackServer, Reply
from opsbook.flows.capacity import capacity_planning
from opsbook.flows.daily import daily_checklist
from opsbook.results import Status, Verdict
from opsbook.store import HistoryStore
from tests.analytics_data import growing, load
from tests.helpers import write_config
from tests.test_daily_flow import read_back

pytestmark = pytest.mark.usefixtures("prefect_server")


def _config(tmp_path: Path, **extra: object) -> Path:
    return write_config(
        tmp_path,
        {
            "estate": "test estate",
            "history": {"url": f"sqlite:///{tmp_path / 'h.db'}"},
            "reports": {"directory": str(tmp_path / "reports")},
            **extra,
        },
    )


def test_capacity_planning_publishes_trends_report_and_insufficient_data(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    path = _config(
        tmp_path,
        analytics={
            "capacity": {
                "resources": [
                    {
                        "name": "web cpu",
                        "metric": "host.cpu_pct",
                        "unit": "%",
                        "threshold": "cpu_pct",
                        "monthly_cost": 500,
                    },
                    {"name": "db disk", "metric": "host.disk_pct", "unit": "%", "threshold": "disk_pct"},
                ]
            }
        },
    )
    load(
        HistoryStore(f"sqlite:///{tmp_path / 'h.db'}"),
        growing(now, start=60, every=timedelta(minutes=30)),
        "host.cpu_pct",
    )

    state = capacity_planning(config_path=str(path), now=now, return_state=True)
    outcome = state.result(raise_on_failure=False)

    by_target = {r.target: r for r in outcome.results}
    assert by_target["web cpu"].status is Status.WARN and "add " in by_target["web cpu"].message
    assert by_target["db disk"].status is Status.ERROR
    assert by_target["db disk"].message == "insufficient data: no samples in the period"
    assert state.is_completed() and outcome.verdict is Verdict.RED  # an analysis without data is not a silent green
    html = outcome.report_path.read_text()
    assert "Capacity trends" in html and "95 % interval" in html and "insufficient data" in html

    artifacts, _ = read_back(outcome.run_id)
    trends = {a.key: a for a in artifacts}["capacity-trends"]
    assert "web cpu" in trends.data and "log-linear" in trends.data


def test_daily_checklist_runs_the_performance_review_when_series_are_configured(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    frame = growing(now, days=8, pct_per_month=0, start=120, every=timedelta(minutes=5), noise=0.03)
    frame.loc[frame["ts"] >= now - timedelta(hours=24), "value"] *= 1.35  # p95 +35 % today
    with LoopbackServer({"/h": lambda r: Reply(200, "ok")}) as server:
        path = _config(
            tmp_path,
            platforms=[{"name": "fly", "url": server.url("/h")}],
            analytics={
                "performance": {"series": [{"name": "api latency", "metric": "api.latency_ms", "unit": "ms"}]},
                "slos": [{"name": "fly availability", "target": "fly"}],
            },
        )
        load(HistoryStore(f"sqlite:///{tmp_path / 'h.db'}"), frame, "api.latency_ms", unit="ms")
        state = daily_checklist(config_path=str(path), return_state=True)
    outcome = state.result(raise_on_failure=False)
    review = {r.check: r for r in outcome.results}["performance.review"]
    assert review.status is Status.WARN and review.value == pytest.approx(35, abs=4)
    assert "regression: p95" in review.message
    assert "Performance review" in outcome.report_path.read_text()
    slo = {r.check: r for r in outcome.results}["slo.error_budget"]
    assert slo.status is Status.SKIPPED and "no results in the SLO period yet" in slo.message
