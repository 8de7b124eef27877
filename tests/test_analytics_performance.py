"""The daily performance review on the real NAB CloudWatch series and on a synthetic regression."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from opsbook.config.analytics import PerformanceReviewConfig, SeriesRef
from opsbook.results import Status
from opsbook.tasks.analytics.performance_review import review_performance, review_result, review_series
from tests.analytics_data import load, nab_frame, nab_windows
from tests.helpers import estate

REF = SeriesRef(name="ec2 cpu", metric="ec2.cpu_pct", unit="%")
SETTINGS = PerformanceReviewConfig()


def test_the_labelled_nab_anomaly_window_is_flagged(tmp_path) -> None:
    nab = nab_frame()
    (start, end), _ = nab_windows()
    config = estate(tmp_path, analytics={"performance": {"series": [REF.model_dump(exclude_none=True)]}})
    from opsbook.store import open_store

    load(open_store(config.history.url), nab, REF.metric)

    [result] = review_performance.fn(config, now=end)  # the review run at the end of the window

    assert result.status is Status.WARN
    [anomaly] = result.details["anomalies"]
    peak_at = datetime.fromisoformat(anomaly["peak_at"])
    assert start <= peak_at <= end
    assert anomaly["peak"] == pytest.approx(nab["value"].max()) == pytest.approx(2.656)
    assert "anomaly 2014-02-19" in result.message or "anomaly 2014-02-20" in result.message


def test_a_quiet_nab_day_is_not_flagged(tmp_path) -> None:
    nab = nab_frame()
    config = estate(tmp_path, analytics={"performance": {"series": [REF.model_dump(exclude_none=True)]}})
    from opsbook.store import open_store

    load(open_store(config.history.url), nab, REF.metric)
    quiet = datetime(2014, 2, 27, tzinfo=UTC)  # no labelled window in the 24 h before
    assert all(not (quiet - timedelta(days=1) <= b and a <= quiet) for a, b in nab_windows())

    [result] = review_performance.fn(config, now=quiet)

    assert result.status is Status.OK, result.message
    assert result.details["anomalies"] == []


def _steady(now: datetime, days: int = 8, level: float = 100.0) -> pd.DataFrame:
    ts = pd.date_range(now - timedelta(days=days), now, freq="5min", inclusive="left", tz=UTC)
    wobble = [level * (1 + 0.05 * ((i * 7919) % 13 - 6) / 6) for i in range(len(ts))]
    return pd.DataFrame({"ts": ts, "value": wobble})


def test_a_p95_regression_is_sized_and_fails_past_the_fail_level() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    frame = _steady(now)
    last_day = frame["ts"] >= now - timedelta(days=1)
    frame.loc[last_day, "value"] *= 1.6
    review = review_series(frame, SeriesRef(name="api p95", metric="api.latency_ms", unit="ms"), SETTINGS, now)
    result = review_result(review, SETTINGS)
    assert result.status is Status.FAIL
    assert result.value == pytest.approx(60, abs=1)
    assert result.message.startswith("regression: p95")


def test_too_little_baseline_says_insufficient_data() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    frame = _steady(now, days=1)  # no baseline at all
    result = review_result(review_series(frame, REF, SETTINGS, now), SETTINGS)
    assert result.status is Status.ERROR and result.message.startswith("insufficient data")
    assert "7-day baseline" in result.message and result.value is None
