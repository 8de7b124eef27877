"""People judge alerts real or noise; alert accuracy and the noise review count those verdicts per episode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsbook.alerts import UnknownAlert, episodes_since, judge_alert, record_results
from opsbook.cli import app
from opsbook.config.thresholds import KpiTargets
from opsbook.results import CheckResult, Status, utcnow
from opsbook.store import HistoryStore, open_store
from opsbook.tasks.analytics.alert_noise import review_alert_noise
from opsbook.tasks.analytics.kpis import alert_records, operational_kpis
from tests.helpers import write_config

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
RENDER = "platform.health|render"


def _result(status: Status, at: datetime, target: str = "render") -> CheckResult:
    return CheckResult(
        check="platform.health",
        target=target,
        component="platforms",
        status=status,
        message="down: HTTP 503" if status is Status.FAIL else "healthy",
        started_at=at,
    )


def _fire_and_resolve(store: HistoryStore, at: datetime, target: str = "render") -> None:
    record_results(store, [_result(Status.FAIL, at, target)], now=at)
    record_results(store, [_result(Status.OK, at + timedelta(minutes=10), target)], now=at + timedelta(minutes=10))


def test_each_firing_episode_keeps_its_own_verdict_and_accuracy_counts_them(history_url: str) -> None:
    store = open_store(history_url)
    _fire_and_resolve(store, T0)
    judge_alert(store, RENDER, true_positive=True, judged_by="ana", now=T0 + timedelta(hours=1))
    judge_alert(store, RENDER, true_positive=False, judged_by="ana", note="probe blip", now=T0 + timedelta(hours=2))
    _fire_and_resolve(store, T0 + timedelta(days=1))  # the same fingerprint fires again: a new episode

    episodes = episodes_since(store, T0 - timedelta(days=1))
    assert [(e.started, e.true_positive) for e in episodes] == [(T0, False), (T0 + timedelta(days=1), None)]
    assert episodes[0].resolved == T0 + timedelta(minutes=10)  # kept from when it was judged

    judge_alert(store, RENDER, true_positive=True, judged_by="ben", now=T0 + timedelta(days=1, hours=1))
    records = alert_records(store, T0 - timedelta(days=1))
    [accuracy] = [r for r in operational_kpis([], records, KpiTargets(), None) if r.check == "kpi.alert_accuracy"]
    assert accuracy.value == 50.0 and accuracy.status is Status.WARN  # 1 of 2 judged, target > 95 %
    assert "of 2 judged alerts" in accuracy.message and "0 not judged" in accuracy.message
    assert episodes_since(store, T0 + timedelta(hours=12))[0].started == T0 + timedelta(days=1)  # period bound
    store.dispose()


def test_judging_an_unknown_alert_says_so(history_url: str) -> None:
    store = open_store(history_url)
    with pytest.raises(UnknownAlert, match="no alert 'platform.health|fly'"):
        judge_alert(store, "platform.health|fly", true_positive=True, judged_by="ana")
    store.dispose()


def test_weekly_noise_review_shows_the_false_positives_of_that_target_only(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'h.db'}")
    now = utcnow()
    for hour in range(6):  # render fails every other hour; fly fails once
        at = now - timedelta(hours=6 - hour)
        results = [
            _result(Status.FAIL if hour % 2 == 0 else Status.OK, at),
            _result(Status.FAIL if hour == 0 else Status.OK, at, target="fly"),
        ]
        store.record_run(
            run_id=f"run-{hour}", flow="daily-checklist", estate="test", started_at=at, finished_at=at, results=results
        )
        record_results(store, results, now=at)
        if hour % 2 == 0:
            judge_alert(store, RENDER, true_positive=False, judged_by="ana", note="flaky probe", now=at)
    reviews = {r.target: r for r in review_alert_noise.fn(f"sqlite:///{tmp_path / 'h.db'}")}
    assert "100 % false positives" in reviews["platform.health render"].message
    assert reviews["platform.health render"].status is Status.WARN
    assert "false positives" not in reviews["platform.health fly"].message  # nobody judged fly
    store.dispose()


def test_cli_lists_and_judges_alerts(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"history": {"url": f"sqlite:///{tmp_path / 'h.db'}"}})
    store = open_store(f"sqlite:///{tmp_path / 'h.db'}")
    record_results(store, [_result(Status.FAIL, T0)], now=T0)
    runner = CliRunner(env={"COLUMNS": "220"})

    def cli(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, [*args, "-c", str(path)])
        assert result.exit_code == code, result.output
        return result.output

    listing = cli("alerts", "list", "--state", "firing")
    assert RENDER in listing and "firing" in listing and "P1" in listing
    assert RENDER not in cli("alerts", "list", "--state", "resolved")
    judged = cli("alerts", "judge", RENDER, "--false-positive", "--note", "probe blip")
    assert "judged a false positive" in judged
    assert [e.true_positive for e in episodes_since(store, T0)] == [False]
    assert "no alert 'platform.health|fly'" in cli("alerts", "judge", "platform.health|fly", "--true-positive", code=1)
    cli("alerts", "judge", RENDER, code=2)  # the verdict is required
    cli("alerts", "list", "--state", "open", code=2)
    store.dispose()
