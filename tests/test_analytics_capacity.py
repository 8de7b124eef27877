"""Capacity planning on the history store: SQL buckets, the quality gate, growth and projection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from opsbook.config import Limit
from opsbook.config.analytics import CapacityConfig, CapacityResource
from opsbook.results import Status
from opsbook.store import HistoryStore
from opsbook.tasks.analytics.capacity import analyse_capacity, capacity_chart, finding_result
from opsbook.tasks.analytics.series import SeriesRules, bucketed_series, check_series
from tests.analytics_data import growing, load, nab_frame, truth

NOW = datetime(2026, 3, 1, tzinfo=UTC)
CPU = CapacityResource(name="web cpu", metric="host.cpu_pct", unit="%", monthly_cost=1000)
CPU_LIMIT = Limit(warn=80, fail=95)


def test_sql_buckets_match_pandas_on_both_backends(history_url: str) -> None:
    store = HistoryStore(history_url)
    frame = growing(NOW, days=3, every=timedelta(minutes=7))
    load(store, frame, "host.cpu_pct", labels={"host": "a"})
    load(store, frame.assign(value=frame["value"] * 2), "host.cpu_pct", labels={"host": "b"})

    got = bucketed_series(store, "host.cpu_pct", {"host": "a"}, NOW - timedelta(days=3), timedelta(hours=1))
    expected = frame.set_index("ts")["value"].resample("1h").agg(["mean", "min", "max", "count"])
    assert list(got["ts"]) == list(expected.index)
    assert got["value"].to_numpy() == pytest.approx(expected["mean"].to_numpy())
    assert got["max"].to_numpy() == pytest.approx(expected["max"].to_numpy())
    assert list(got["count"]) == list(expected["count"])

    pooled = bucketed_series(store, "host.cpu_pct", None, NOW - timedelta(days=3), timedelta(days=1))
    assert pooled["count"].sum() == 2 * len(frame)
    store.dispose()


def test_ten_percent_monthly_growth_is_projected_within_two_percent(history_url: str) -> None:
    store = HistoryStore(history_url)
    frame = growing(NOW, days=30)
    load(store, frame, CPU.metric)
    hourly = bucketed_series(store, CPU.metric, None, NOW - timedelta(days=30), timedelta(hours=1))

    finding = analyse_capacity(hourly, CPU, CPU_LIMIT, CapacityConfig(), NOW)

    assert finding.gate.passed, finding.gate.findings
    assert finding.model == "log-linear"
    assert finding.growth_pct_per_month == pytest.approx(10, abs=1)
    real = truth(NOW, frame, 90)
    assert abs(finding.projected / real - 1) < 0.02
    assert finding.projected_low < real < finding.projected_high
    # 40 % growing 10 %/month reaches 80 % after log(2)/log(1.1) = 7.3 months.
    assert finding.days_to_warn == pytest.approx(7.27 * 30.44 - 30, rel=0.1)
    store.dispose()


def test_scaling_recommendation_keeps_headroom_and_prices_it() -> None:
    frame = growing(NOW, days=30, start=60, pct_per_month=10)
    finding = analyse_capacity(frame, CPU, CPU_LIMIT, CapacityConfig(headroom_pct=20, lead_time_days=14), NOW)
    # 60 % now, ~80 % in 90 days: more than the 80 % usable under a 20 % headroom.
    assert finding.scale_factor is not None and finding.scale_factor > 1
    assert finding.recommendation.startswith("add ")
    assert finding.extra_monthly_cost == pytest.approx(1000 * (finding.scale_factor - 1))
    result = finding_result(finding, CapacityConfig())
    assert result.status is Status.WARN and "warning level in" in result.message
    assert "projection" in str(capacity_chart(finding, 90))


def test_a_long_gap_trips_the_gate_and_no_number_is_given() -> None:
    frame = growing(NOW, days=30, every=timedelta(hours=1))
    holed = frame[(frame["ts"] < NOW - timedelta(days=20)) | (frame["ts"] > NOW - timedelta(days=15))]
    finding = analyse_capacity(holed, CPU, CPU_LIMIT, CapacityConfig(), NOW)
    assert finding.insufficient and finding.projected is None
    assert any("no gap longer than" in f for f in finding.gate.findings)
    result = finding_result(finding, CapacityConfig())
    assert result.status is Status.ERROR and result.message.startswith("insufficient data")
    assert result.value is None


def test_duplicates_out_of_range_and_stale_data_trip_the_gate() -> None:
    frame = growing(NOW, days=3, every=timedelta(hours=1))
    doubled = pd.concat([frame, frame.iloc[[5]]]).sort_values("ts", kind="stable")
    gate = check_series(doubled, SeriesRules(unit="%", min_points=10))
    assert not gate.passed and any("no duplicate timestamps" in f for f in gate.findings)

    wild = frame.assign(value=frame["value"].where(frame.index != 3, 140.0))
    assert any("values within 0..100" in f for f in check_series(wild, SeriesRules(unit="%")).findings)

    stale = check_series(frame, SeriesRules(unit="%", fresh_within=timedelta(hours=6), now=NOW + timedelta(days=1)))
    assert any("newest point" in f for f in stale.findings)

    assert check_series(frame, SeriesRules(unit="%", min_points=10)).passed
    few = check_series(frame.head(5), SeriesRules(unit="%", min_points=10))
    assert any("at least 10 points" in f for f in few.findings)


def test_capacity_runs_on_the_real_nab_series(tmp_path) -> None:
    store = HistoryStore(f"sqlite:///{tmp_path / 'h.db'}")
    nab = nab_frame()
    load(store, nab, "ec2.cpu_pct")
    end = nab["ts"].max().to_pydatetime() + timedelta(minutes=5)
    hourly = bucketed_series(store, "ec2.cpu_pct", None, end - timedelta(days=30), timedelta(hours=1))
    finding = analyse_capacity(
        hourly, CapacityResource(name="ec2", metric="ec2.cpu_pct", unit="%"), CPU_LIMIT, CapacityConfig(), end
    )
    assert finding.gate.passed, finding.gate.findings
    # 4032 five-minute samples (14:30 to 14:25, 14 days later) became 337 hourly buckets in SQL.
    assert len(hourly) == 14 * 24 + 1 and hourly["count"].sum() == len(nab) == 4032
    # Flat ~1.8 % CPU: tiny growth, far from the 80 % warning, no scaling.
    assert abs(finding.growth_pct_per_month) < 20
    assert finding.days_to_warn is None or finding.days_to_warn > 365
    assert finding.recommendation.startswith("no scaling needed")
    store.dispose()
