"""Operational KPIs from incident and alert records, uptime from the store, and alert noise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from opsbook.config.thresholds import KpiTargets
from opsbook.results import CheckResult, Status
from opsbook.store import HistoryStore
from opsbook.tasks.analytics.alert_noise import noise_from_history, noise_result, review_noise
from opsbook.tasks.analytics.kpis import AlertRecord, IncidentRecord, operational_kpis, uptime_from_history

T = datetime(2026, 3, 1, tzinfo=UTC)
M = timedelta(minutes=1)


def _incident(n: int, detect: int, resolve: int | None, escalated: bool = False) -> IncidentRecord:
    start = T + n * timedelta(hours=5)
    return IncidentRecord(
        f"INC-{n}", "P1", start, start + detect * M, None if resolve is None else start + resolve * M, escalated
    )


def by_check(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.check: r for r in results}


def test_kpis_are_distributions_judged_against_the_runbook_targets() -> None:
    incidents = [
        _incident(0, 2, 20),
        _incident(1, 3, 25),
        _incident(2, 4, 28, True),
        _incident(3, 15, 95, True),
        _incident(4, 1, None),
    ]
    alerts = [AlertRecord(f"a{i}", "platform.health", T, T, true_positive=i != 0) for i in range(20)]
    kpis = by_check(operational_kpis(incidents, alerts, KpiTargets(), uptime_pct=99.95))

    assert kpis["kpi.uptime"].status is Status.OK
    assert kpis["kpi.mttd"].value == 3.0 and kpis["kpi.mttd"].details["p90"] == pytest.approx(10.6)
    assert kpis["kpi.mttd"].status is Status.WARN  # p90 10.6 min is more than twice the 5-min target
    assert kpis["kpi.mttr"].value == pytest.approx(26.5)  # the unresolved incident is left out
    assert kpis["kpi.within_target"].value == 75.0 and kpis["kpi.within_target"].status is Status.WARN
    assert kpis["kpi.escalation_rate"].value == 40.0
    assert kpis["kpi.alert_accuracy"].value == 95.0
    assert kpis["kpi.alert_accuracy"].status is Status.WARN  # the target is above 95 %


def test_kpis_without_data_or_with_inconsistent_records_say_insufficient_data() -> None:
    kpis = by_check(operational_kpis([], [], KpiTargets(), uptime_pct=None))
    assert all(r.message.startswith("insufficient data") and r.value is None for r in kpis.values())
    backwards = [IncidentRecord("INC-1", "P0", T, T - M, T + M)]  # detected before it started
    kpis = by_check(operational_kpis(backwards, [], KpiTargets(), uptime_pct=100.0))
    assert "detected no earlier than started" in kpis["kpi.mttd"].message


def _store_results(store: HistoryStore, statuses: list[Status], values: list[float]) -> None:
    for i, (status, value) in enumerate(zip(statuses, values, strict=True)):
        at = T + i * M
        store.record_run(
            run_id=f"r{i}",
            flow="daily-checklist",
            estate="t",
            started_at=at,
            finished_at=at,
            results=[
                CheckResult(
                    check="platform.health",
                    target="web",
                    component="platforms",
                    status=status,
                    value=value,
                    unit="ms",
                    threshold=1000.0,
                    started_at=at,
                )
            ],
        )


def test_uptime_and_alert_noise_from_the_history(tmp_path) -> None:
    store = HistoryStore(f"sqlite:///{tmp_path / 'h.db'}")
    # 40 results: steady 200 ms with four one-result blips past 1000 ms, and one real outage.
    values = [200.0 + (i % 7) * 10 for i in range(40)]
    statuses = [Status.OK] * 40
    for i in (5, 12, 19, 26):
        values[i], statuses[i] = 1100.0, Status.WARN
    for i in (33, 34, 35):
        values[i], statuses[i] = 2500.0, Status.FAIL
    _store_results(store, statuses, values)

    assert uptime_from_history(store, "platform.health", T, T + timedelta(days=1)) == pytest.approx(37 / 40 * 100)
    [result] = noise_from_history(
        store,
        "platform.health",
        T,
        [
            AlertRecord("platform.health|web", "platform.health", T + timedelta(hours=i), true_positive=i == 4)
            for i in range(5)
        ]
        + [AlertRecord("platform.health|api", "platform.health", T, true_positive=True)],
    )  # another target's
    assert result.value == 5.0  # five alert episodes
    assert result.details["flapping_pct"] == pytest.approx(80.0)
    assert result.details["false_positive_pct"] == pytest.approx(80.0)
    assert result.status is Status.WARN
    # Held for 2 results (it flaps), a threshold above normal noise alerts on the outage only.
    assert result.details["suggested_alerts"] == 1 and result.details["suggested_threshold"] < 1000
    assert "held for 2 results" in result.message
    store.dispose()


def test_a_quiet_check_is_not_noisy() -> None:
    frame = pd.DataFrame({"status": ["ok"] * 30, "value": [100.0] * 30, "threshold": [1000.0] * 30})
    result = noise_result(review_noise(frame, "platform.health", "api"))
    assert result.status is Status.OK and result.value == 0
