"""SLO burn-rate alerts on a synthetic incident, and SLIs counted in SQL from stored check results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from opsbook.config.analytics import SloConfig
from opsbook.results import CheckResult, Status
from opsbook.store import HistoryStore
from opsbook.tasks.analytics.series import bucketed_outcomes
from opsbook.tasks.analytics.slo import alert_windows, slo_result, slo_status

T0 = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # the outage starts; 3 healthy days before it
MIN = timedelta(minutes=1)


def incident(outage_minutes: int = 20, after: timedelta = timedelta(hours=8)) -> pd.DataFrame:
    """One probe per minute, all good except a total outage of `outage_minutes` from T0."""
    ts = pd.date_range(T0 - timedelta(days=3), T0 + after, freq="1min", inclusive="left", tz=UTC)
    down = (ts >= T0) & (ts < T0 + outage_minutes * MIN)
    return pd.DataFrame({"ts": ts, "good": (~down).astype(int), "total": 1})


def test_a_twenty_minute_outage_fires_each_rule_in_its_expected_window() -> None:
    windows = {w.rule.name: (w.start, w.end) for w in alert_windows(incident(), 99.9)}
    # 1h&5m at 14.4x: the first bad minute is 1/60 = 1.7 % > 1.44 %; it stops 5 min after recovery.
    assert windows["1h&5m at 14.4x"] == (T0, T0 + 24 * MIN)
    # 6h&30m at 6x: needs 3 bad minutes in 6 h (> 0.6 % of 360); stops 30 min after recovery.
    assert windows["6h&30m at 6x"] == (T0 + 2 * MIN, T0 + 49 * MIN)
    # 3d&6h at 1x (ticket): needs 5 bad minutes in 3 days (> 0.1 % of 4320); stops 6 h after recovery.
    assert windows["3d&6h at 1x"] == (T0 + 4 * MIN, T0 + (19 + 360) * MIN)
    assert len(windows) == 3


def test_a_short_blip_pages_nobody_but_a_long_one_does() -> None:
    assert alert_windows(incident(outage_minutes=0), 99.9) == []
    two_minutes = {w.rule.name for w in alert_windows(incident(outage_minutes=2), 99.9)}
    assert two_minutes == {"1h&5m at 14.4x"}


def test_status_at_a_moment_says_which_rules_fire_and_the_budget_left() -> None:
    slo = SloConfig(name="web availability")
    during = incident(after=timedelta(minutes=10))
    status = slo_status(during, slo, T0 + 10 * MIN)
    assert {r.name for r in status.firing} == {"1h&5m at 14.4x", "6h&30m at 6x", "3d&6h at 1x"}
    result = slo_result(status)
    assert result.status is Status.FAIL
    # 10 bad of 4330 with 0.1 % allowed (4.33): the budget is overspent by 131 %.
    assert result.value == pytest.approx((1 - 10 / 4.33) * 100, abs=0.2)

    later = incident(outage_minutes=2, after=timedelta(hours=12))
    calm = slo_result(slo_status(later, slo, T0 + timedelta(hours=12)))
    assert calm.details["firing"] == [] and calm.status is Status.OK
    assert calm.value == pytest.approx((1 - 2 / (4320 + 720) / 0.001) * 100, abs=0.1)


def test_bad_counts_and_empty_history_say_insufficient_data() -> None:
    slo = SloConfig(name="web availability")
    broken = incident(after=timedelta(minutes=10)).assign(good=2)
    result = slo_result(slo_status(broken, slo, T0))
    assert result.status is Status.ERROR and "good never above total" in result.message
    empty = slo_result(slo_status(incident().iloc[0:0], slo, T0))
    assert empty.status is Status.SKIPPED and empty.message.startswith("insufficient data")


def test_sli_counts_come_from_stored_check_results(history_url: str) -> None:
    store = HistoryStore(history_url)
    start = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    for minute in range(10):
        at = start + minute * MIN
        status = Status.FAIL if minute in (3, 4) else (Status.WARN if minute == 5 else Status.OK)
        results = [
            CheckResult(
                check="platform.health",
                target="web",
                component="platforms",
                status=status,
                value=100.0 + minute * 100,
                unit="ms",
                started_at=at,
            ),
            CheckResult(
                check="platform.health",
                target="api",
                component="platforms",
                status=Status.OK,
                value=50.0,
                unit="ms",
                started_at=at,
            ),
        ]
        store.record_run(
            run_id=f"run-{minute}",
            flow="daily-checklist",
            estate="test",
            started_at=at,
            finished_at=at,
            results=results,
        )

    web = bucketed_outcomes(store, "platform.health", "web", start, MIN)
    assert list(web["total"]) == [1] * 10 and web["good"].sum() == 8
    pooled = bucketed_outcomes(store, "platform.health", None, start, timedelta(minutes=5))
    assert list(pooled["total"]) == [10, 10] and list(pooled["good"]) == [8, 10]
    fast = bucketed_outcomes(store, "platform.health", "web", start, MIN, latency_ms=500)
    assert fast["good"].sum() == 3  # 100..400 ms answered at minutes 0-2; 3 and 4 were down
    store.dispose()
