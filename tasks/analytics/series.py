"""Reading history for analyses: time buckets in SQL, then a quality gate on the frame.

A long history never loads row by row: `bucketed_series` groups samples by
floor(epoch seconds / bucket) in the database (SQLite and PostgreSQL alike) and returns one row
per bucket. `check_series` is the gate every analysis runs its input through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import great_expectations as gx
import pandas as pd
from sqlalchemy import Integer, and_, case, cast, func, select

from opsbook.quality import GateResult, gate
from opsbook.store import HistoryStore
from opsbook.store.history import labels_key
from opsbook.store.models import CheckResultRow, MetricSample

SERIES_COLUMNS = ["ts", "value", "min", "max", "count"]

# Plausible ranges per unit: a CPU at 140 % or a negative latency is bad data, not a trend.
UNIT_RANGES: dict[str, tuple[float | None, float | None]] = {
    "%": (0, 100),
    "pct": (0, 100),
    "percent": (0, 100),
    "ratio": (0, 1),
    "ms": (0, None),
    "s": (0, None),
    "bytes": (0, None),
    "count": (0, None),
    "req/s": (0, None),
    "users": (0, None),
}


def epoch_seconds(column, dialect: str):
    """Epoch seconds of a timestamp column, in the database's own SQL."""
    if dialect == "postgresql":
        return func.extract("epoch", column)
    return cast(func.strftime("%s", column), Integer)  # SQLite stores naive UTC text


def bucket_expression(column, dialect: str, bucket_s: int):
    """floor(epoch / bucket) * bucket, as an integer, on SQLite and PostgreSQL."""
    epoch = epoch_seconds(column, dialect)
    if dialect == "postgresql":
        return cast(func.floor(epoch / bucket_s) * bucket_s, Integer)
    return epoch.op("/")(bucket_s) * bucket_s  # SQLite's integer division floors (epochs are positive)


def bucketed_series(
    store: HistoryStore,
    metric: str,
    labels: dict[str, str] | None,
    since: datetime,
    bucket: timedelta,
    until: datetime | None = None,
    source: str | None = None,
) -> pd.DataFrame:
    """One row per time bucket (ts = bucket start, UTC): mean `value`, `min`, `max`, `count`.

    `labels=None` pools every series of the metric; a dict selects exactly one series.
    """
    bucket_s = max(1, int(bucket.total_seconds()))
    with store.session() as session:
        dialect = session.get_bind().dialect.name
        start = bucket_expression(MetricSample.ts, dialect, bucket_s).label("bucket")
        query = (
            select(
                start,
                func.avg(MetricSample.value),
                func.min(MetricSample.value),
                func.max(MetricSample.value),
                func.count(),
            )
            .where(MetricSample.metric == metric, MetricSample.ts >= since)
            .group_by(start)
            .order_by(start)
        )
        if until is not None:
            query = query.where(MetricSample.ts < until)
        if labels is not None:
            query = query.where(MetricSample.labels_key == labels_key(labels))
        if source is not None:
            query = query.where(MetricSample.source == source)
        rows = session.execute(query).all()
    frame = pd.DataFrame(rows, columns=SERIES_COLUMNS)
    frame["ts"] = pd.to_datetime(frame["ts"].astype("int64"), unit="s", utc=True)
    return frame.astype({"value": float, "min": float, "max": float, "count": int})


def series_unit(store: HistoryStore, metric: str) -> str | None:
    """The unit the metric was recorded in (the most recent sample's)."""
    with store.session() as session:
        query = select(MetricSample.unit).where(MetricSample.metric == metric).order_by(MetricSample.ts.desc()).limit(1)
        return session.scalar(query)


@dataclass(frozen=True)
class SeriesRules:
    """What an analysis needs from its input series."""

    unit: str | None = None
    min_points: int = 24
    max_gap: timedelta | None = None  # longest allowed hole between consecutive points
    fresh_within: timedelta | None = None  # the newest point must be at most this old at `now`
    now: datetime | None = None


def check_series(frame: pd.DataFrame, rules: SeriesRules) -> GateResult:
    """The GE gate: plausible values for the unit, strictly increasing unique timestamps,
    no hole longer than `max_gap`, fresh enough, and enough points."""
    if frame.empty:
        return GateResult(False, ["no samples in the period"])
    ts = pd.to_datetime(frame["ts"], utc=True)
    checked = pd.DataFrame(
        {
            "ts": ts,
            "value": frame["value"].astype(float),
            "gap_s": ts.diff().dt.total_seconds().fillna(0.0),
            "age_s": ((pd.Timestamp(rules.now) if rules.now else ts.max()) - ts).dt.total_seconds(),
        }
    )
    E = gx.expectations
    expectations = [
        E.ExpectTableRowCountToBeBetween(min_value=rules.min_points, description=f"at least {rules.min_points} points"),
        E.ExpectColumnValuesToNotBeNull(column="value", description="no missing values"),
        E.ExpectColumnValuesToBeUnique(column="ts", description="no duplicate timestamps"),
        E.ExpectColumnValuesToBeIncreasing(column="ts", strictly=True, description="timestamps increasing"),
    ]
    low, high = UNIT_RANGES.get((rules.unit or "").lower(), (None, None))
    if low is not None or high is not None:
        expectations.append(
            E.ExpectColumnValuesToBeBetween(
                column="value",
                min_value=low,
                max_value=high,
                description=f"values within {low}..{'' if high is None else high} {rules.unit}",
            )
        )
    if rules.max_gap is not None:
        expectations.append(
            E.ExpectColumnValuesToBeBetween(
                column="gap_s",
                max_value=rules.max_gap.total_seconds(),
                description=f"no gap longer than {rules.max_gap}",
            )
        )
    if rules.fresh_within is not None and rules.now is not None:
        expectations.append(
            E.ExpectColumnMinToBeBetween(
                column="age_s",
                max_value=rules.fresh_within.total_seconds(),
                description=f"newest point at most {rules.fresh_within} old",
            )
        )
    return gate(checked, expectations)


def bucketed_outcomes(
    store: HistoryStore,
    check: str,
    target: str | None,
    since: datetime,
    bucket: timedelta,
    until: datetime | None = None,
    latency_ms: float | None = None,
) -> pd.DataFrame:
    """Good and total check results per time bucket, counted in SQL: the SLI of an SLO.

    A result is good when its status is ok or warn (the target answered correctly) and, for a
    latency SLO, when its value is at most `latency_ms`.
    """
    bucket_s = max(1, int(bucket.total_seconds()))
    answered = CheckResultRow.status.in_(("ok", "warn"))
    good_when = answered if latency_ms is None else and_(answered, CheckResultRow.value <= latency_ms)
    with store.session() as session:
        dialect = session.get_bind().dialect.name
        start = bucket_expression(CheckResultRow.started_at, dialect, bucket_s).label("bucket")
        query = (
            select(start, func.sum(case((good_when, 1), else_=0)), func.count())
            .where(
                CheckResultRow.check == check, CheckResultRow.started_at >= since, CheckResultRow.status != "skipped"
            )
            .group_by(start)
            .order_by(start)
        )
        if until is not None:
            query = query.where(CheckResultRow.started_at < until)
        if target is not None:
            query = query.where(CheckResultRow.target == target)
        rows = session.execute(query).all()
    frame = pd.DataFrame(rows, columns=["ts", "good", "total"])
    frame["ts"] = pd.to_datetime(frame["ts"].astype("int64"), unit="s", utc=True)
    return frame.astype({"good": int, "total": int})


def check_outcomes(frame: pd.DataFrame, min_buckets: int = 1) -> GateResult:
    """The gate for SLI counts: unique increasing buckets, 0 <= good <= total, something measured."""
    if frame.empty:
        return GateResult(False, ["no results in the period"])
    E = gx.expectations
    return gate(
        frame,
        [
            E.ExpectTableRowCountToBeBetween(min_value=min_buckets, description=f"at least {min_buckets} buckets"),
            E.ExpectColumnValuesToBeUnique(column="ts", description="no duplicate buckets"),
            E.ExpectColumnValuesToBeIncreasing(column="ts", strictly=True, description="buckets increasing"),
            E.ExpectColumnValuesToBeBetween(column="good", min_value=0, description="good counts not negative"),
            E.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="total", column_B="good", or_equal=True, description="good never above total"
            ),
            E.ExpectColumnSumToBeBetween(column="total", min_value=1, description="at least one result"),
        ],
    )
