"""Daily performance review: the last 24 hours of each series against its 7-day baseline.

Two signals, each with its evidence: a regression (the p95 of the day is N % above the
baseline's p95) and anomalies (5-minute buckets far above the baseline median, measured in
robust deviations, so one bad day in the baseline does not hide the next). Optimization
opportunities are the baseline's hot hours: where load concentrates and pre-scaling or moving
batch work pays off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from opsbook.checks import AlertType, declare
from opsbook.config import EstateConfig
from opsbook.config.analytics import PerformanceReviewConfig, SeriesRef
from opsbook.escalation import Severity
from opsbook.quality import GateResult
from opsbook.results import CheckResult, Status, judge, utcnow
from opsbook.store import open_store
from opsbook.tasks.analytics.series import SeriesRules, bucketed_series, check_series, series_unit

COMPONENT = "performance"

PERFORMANCE_REVIEW = declare(
    "performance.review",
    title="Performance review",
    component=COMPONENT,
    alert_type=AlertType.PERFORMANCE,
    severity=Severity.P2,
    unit="% p95 change",
    on_fail=(
        "p95 rose past the fail level against the 7-day baseline: check recent deploys and run a performance "
        "investigation."
    ),
    on_warn=(
        "A regression or anomaly against the 7-day baseline: read the evidence in the details and watch tomorrow's "
        "review."
    ),
    runbook_steps=(
        "Daily Performance Review / Analyzing resource utilization",
        "Daily Performance Review / Identifying optimization opportunities",
        "Monthly System Optimization / Reviewing performance optimization opportunities",
    ),
)
BUCKET = timedelta(minutes=5)
DAY, BASELINE = timedelta(hours=24), timedelta(days=7)
MAD_TO_SIGMA = 1.4826
HOT_HOUR_RATIO = 1.25  # an hour of day this much above the day's mean is worth a look


@dataclass(frozen=True)
class Anomaly:
    start: datetime
    end: datetime  # end of the last anomalous bucket
    peak: float
    peak_at: datetime
    deviations: float  # how many robust deviations above the baseline median the peak is


@dataclass
class Review:
    name: str
    unit: str | None
    gate: GateResult
    baseline_p50: float | None = None
    baseline_p95: float | None = None
    p50: float | None = None
    p95: float | None = None
    p95_change_pct: float | None = None
    anomalies: list[Anomaly] = field(default_factory=list)
    opportunities: list[str] = field(default_factory=list)

    @property
    def insufficient(self) -> bool:
        return not self.gate.passed


def anomalies(current: pd.DataFrame, median: float, spread: float, mads: float, bucket: timedelta) -> list[Anomaly]:
    """Runs of consecutive buckets above median + mads x spread, with their peak."""
    if spread <= 0:
        return []
    above = current[current["value"] > median + mads * spread]
    found: list[Anomaly] = []
    run: list[tuple[pd.Timestamp, float]] = []
    for ts, value in zip(above["ts"], above["value"], strict=True):
        if run and ts - run[-1][0] > bucket:
            found.append(_anomaly(run, median, spread, bucket))
            run = []
        run.append((ts, float(value)))
    if run:
        found.append(_anomaly(run, median, spread, bucket))
    return found


def _anomaly(run: list[tuple[pd.Timestamp, float]], median: float, spread: float, bucket: timedelta) -> Anomaly:
    peak_at, peak = max(run, key=lambda point: point[1])
    return Anomaly(
        run[0][0].to_pydatetime(),
        (run[-1][0] + bucket).to_pydatetime(),
        peak,
        peak_at.to_pydatetime(),
        (peak - median) / spread,
    )


def hot_hours(baseline: pd.DataFrame) -> list[str]:
    """Hours of day (UTC) whose baseline mean is well above the whole baseline's mean."""
    mean = float(baseline["value"].mean())
    if mean <= 0:
        return []
    by_hour = baseline.groupby(pd.to_datetime(baseline["ts"], utc=True).dt.hour)["value"].mean()
    hot = by_hour[by_hour >= mean * HOT_HOUR_RATIO].sort_values(ascending=False)
    return [
        f"hot hour {hour:02d}:00-{hour + 1:02d}:00 UTC: mean {value:.3g}, {value / mean:.2f}x the 7-day mean; "
        "pre-scale or move batch work out of it"
        for hour, value in hot.head(3).items()
    ]


def review_series(frame: pd.DataFrame, ref: SeriesRef, settings: PerformanceReviewConfig, now: datetime) -> Review:
    """Compare the 24 h before `now` with the 7 days before that; the frame holds 5-minute buckets."""
    ts = pd.to_datetime(frame["ts"], utc=True) if not frame.empty else pd.Series(dtype="datetime64[ns, UTC]")
    current = frame[ts >= pd.Timestamp(now - DAY)]
    baseline = frame[ts < pd.Timestamp(now - DAY)]
    day_gate = check_series(
        current,
        SeriesRules(unit=ref.unit, min_points=12, max_gap=timedelta(hours=6), fresh_within=timedelta(hours=2), now=now),
    )
    base_gate = check_series(baseline, SeriesRules(unit=ref.unit, min_points=288, max_gap=timedelta(hours=12)))
    gate = GateResult(
        day_gate.passed and base_gate.passed,
        [f"last 24 h: {f}" for f in day_gate.findings] + [f"7-day baseline: {f}" for f in base_gate.findings],
    )
    review = Review(ref.name, ref.unit, gate)
    if not gate.passed:
        return review
    base, day = baseline["value"].to_numpy(float), current["value"].to_numpy(float)
    review.baseline_p50, review.baseline_p95 = float(np.median(base)), float(np.quantile(base, 0.95))
    review.p50, review.p95 = float(np.median(day)), float(np.quantile(day, 0.95))
    if review.baseline_p95:
        review.p95_change_pct = (review.p95 / review.baseline_p95 - 1) * 100
    spread = float(np.median(np.abs(base - review.baseline_p50))) * MAD_TO_SIGMA
    review.anomalies = anomalies(current, review.baseline_p50, spread, settings.anomaly_mads, BUCKET)
    review.opportunities = hot_hours(baseline)
    return review


def review_result(review: Review, settings: PerformanceReviewConfig) -> CheckResult:
    """Regression size decides warn/fail; an anomaly alone warns. Evidence goes in the details."""
    if review.insufficient:
        return PERFORMANCE_REVIEW.result(
            review.name,
            Status.ERROR,
            message=f"insufficient data: {review.gate.reason()}",
            details={"gate_findings": review.gate.findings},
        )
    change = review.p95_change_pct or 0.0
    status, threshold = judge(change, settings.regression_warn_pct, settings.regression_fail_pct)
    unit = f" {review.unit}" if review.unit else ""
    parts = [f"p95 {review.p95:.3g}{unit} vs 7-day {review.baseline_p95:.3g}{unit} ({change:+.0f} %)"]
    if status is not Status.OK:
        parts[0] = "regression: " + parts[0]
    for found in review.anomalies[:3]:
        parts.append(
            f"anomaly {found.start:%Y-%m-%d %H:%M}-{found.end:%H:%M} UTC, peak {found.peak:.3g}{unit} "
            f"at {found.peak_at:%H:%M} ({found.deviations:.0f} deviations above the baseline median)"
        )
    if review.opportunities:
        parts.append(
            f"{len(review.opportunities)} optimization opportunit{'y' if len(review.opportunities) == 1 else 'ies'}"
            f" (first: {review.opportunities[0]})"
        )
    if review.anomalies and status is Status.OK:
        status = Status.WARN
    details = {
        "baseline_p50": review.baseline_p50,
        "baseline_p95": review.baseline_p95,
        "p50": review.p50,
        "p95": review.p95,
        "p95_change_pct": change,
        "anomalies": [
            {
                "start": a.start.isoformat(),
                "end": a.end.isoformat(),
                "peak": a.peak,
                "peak_at": a.peak_at.isoformat(),
                "deviations": round(a.deviations, 1),
            }
            for a in review.anomalies
        ],
        "opportunities": review.opportunities,
    }
    return PERFORMANCE_REVIEW.result(
        review.name,
        status,
        value=round(change, 1),
        unit="% p95 change",
        threshold=threshold,
        message="; ".join(parts),
        details=details,
    )


def review_from_store(config: EstateConfig, ref: SeriesRef, now: datetime) -> Review:
    """Read 8 days of 5-minute buckets (aggregated in SQL) and review them."""
    store = open_store(config.history.url)
    frame = bucketed_series(store, ref.metric, ref.labels, now - DAY - BASELINE, BUCKET, until=now)
    if ref.unit is None:
        ref = ref.model_copy(update={"unit": series_unit(store, ref.metric)})
    return review_series(frame, ref, config.analytics.performance, now)


@task(name="review-performance", cache_policy=NO_CACHE, timeout_seconds=300)
def review_performance(config: EstateConfig, now: datetime | None = None) -> list[CheckResult]:
    """The daily performance review of every configured series, one result each."""
    now = now or utcnow()
    settings = config.analytics.performance
    results = []
    for ref in settings.series:
        try:
            results.append(review_result(review_from_store(config, ref, now), settings))
        except Exception as error:
            results.append(PERFORMANCE_REVIEW.error(ref.name, error))
    if not results:
        results.append(
            PERFORMANCE_REVIEW.result(
                "(none)", Status.SKIPPED, message="no series configured under analytics.performance.series"
            )
        )
    return results
