"""Benchmark (not a test): the history at scale, on SQLite and PostgreSQL.

Builds N days of 1-minute samples for M metrics, then measures the insert rate (beside pandas'
to_sql of one metric's rows, the obvious alternative, in the same run), the capacity
analysis over every metric (30-day hourly buckets aggregated in SQL, gate, Theil-Sen fits) and,
beside it, a plain pandas read of the same 30 days of raw rows (read_sql + resample in pandas).
Each phase is timed untraced, then run again under tracemalloc for its peak traced allocation
(Python objects and numpy arrays; the database's own memory is not included).

    python bench/history_at_scale.py                      # 90 days x 50 metrics (slow)
    python bench/history_at_scale.py --days 30 --metrics 10

Prints a table and writes JSON to bench/results/. PostgreSQL gets a unique temporary database
on 127.0.0.1:5432, dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opsbook.config.analytics import CapacityConfig, CapacityResource
from opsbook.config.thresholds import Limit
from opsbook.store import HistoryStore, Sample
from opsbook.tasks.analytics.capacity import BUCKET, analyse_capacity
from opsbook.tasks.analytics.series import bucketed_series

RESULTS = Path(__file__).with_name("results")
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
NOW = datetime(2026, 3, 1, tzinfo=UTC)
TREND_DAYS = 30


def samples(metric: int, days: int) -> Iterator[Sample]:
    """A daily cycle plus growth plus noise, one point a minute."""
    rng = np.random.default_rng(metric)
    minutes = days * 1440
    t = np.arange(minutes)
    values = np.clip(
        30 + metric % 20 + 10 * np.sin(2 * np.pi * t / 1440) + t / 1440 * 0.2 + rng.normal(0, 2, minutes), 0, 100
    )
    start = NOW - timedelta(days=days)
    for minute, value in zip(t.tolist(), values.tolist(), strict=True):
        yield Sample(
            metric=f"bench.metric_{metric:03d}",
            value=value,
            ts=start + timedelta(minutes=minute),
            source="bench",
            unit="%",
        )


def timed_and_traced(into: dict[str, Any], name: str, phase: Callable[[], Any]) -> Any:
    """Time the phase untraced (tracemalloc slows Python code), then run it again traced for peak memory."""
    start = time.perf_counter()
    outcome = phase()
    into[f"{name}_s"] = round(time.perf_counter() - start, 3)
    tracemalloc.start()
    phase()
    into[f"{name}_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    tracemalloc.stop()
    return outcome


def baseline_insert_rate(store: HistoryStore, days: int) -> int:
    """The obvious alternative, measured in the same run: one metric's rows through pandas.to_sql
    (multi-row INSERTs) into a scratch table of the same columns, without the de-duplicating key."""
    frame = pd.DataFrame(
        [
            {
                "source": s.source,
                "metric": s.metric,
                "labels_key": "",
                "labels": "{}",
                "ts": s.ts,
                "value": s.value,
                "unit": s.unit,
            }
            for s in samples(0, days)
        ]
    )
    start = time.perf_counter()
    frame.to_sql("bench_to_sql_samples", store.engine, if_exists="replace", index=False, chunksize=5000, method="multi")
    rate = round(len(frame) / (time.perf_counter() - start))
    with store.engine.begin() as connection:
        connection.execute(text("DROP TABLE bench_to_sql_samples"))
    return rate


def run(url: str, backend: str, days: int, metrics: int, progress: Callable[[str], None]) -> dict[str, Any]:
    store = HistoryStore(url)
    store.upgrade()
    names = [f"bench.metric_{metric:03d}" for metric in range(metrics)]
    row: dict[str, Any] = {"backend": backend, "days": days, "metrics": metrics, "rows": days * 1440 * metrics}
    start = time.perf_counter()
    for metric in range(metrics):
        store.add_samples(samples(metric, days))
        progress(f"{backend}: inserted metric {metric + 1}/{metrics}")
    row["insert_s"] = round(time.perf_counter() - start, 1)
    row["insert_rows_per_s"] = round(row["rows"] / row["insert_s"])
    row["to_sql_rows_per_s"] = baseline_insert_rate(store, days)
    row["insert_vs_to_sql"] = round(row["insert_rows_per_s"] / row["to_sql_rows_per_s"], 2)
    progress(
        f"{backend}: add_samples {row['insert_rows_per_s']} rows/s, pandas to_sql {row['to_sql_rows_per_s']} rows/s"
    )

    since = NOW - timedelta(days=min(days, TREND_DAYS))
    settings, limit = CapacityConfig(), Limit(warn=80, fail=95)
    analyse_capacity(
        pd.DataFrame({"ts": [NOW], "value": [1.0]}), CapacityResource(name="warm", metric="warm"), limit, settings, NOW
    )  # build the GE context once, outside the measurements

    def sql_buckets() -> list[pd.DataFrame]:
        return [bucketed_series(store, name, None, since, BUCKET, until=NOW) for name in names]

    def capacity() -> list[Any]:
        return [
            analyse_capacity(frame, CapacityResource(name=name, metric=name, unit="%"), limit, settings, NOW)
            for name, frame in zip(names, sql_buckets(), strict=True)
        ]

    def pandas_read() -> int:
        rows = 0
        for name in names:
            raw = pd.read_sql(
                text("SELECT ts, value FROM metric_samples WHERE metric = :m AND ts >= :since ORDER BY ts"),
                store.engine,
                params={"m": name, "since": since.replace(tzinfo=None) if backend == "sqlite" else since},
            )
            raw["ts"] = pd.to_datetime(raw["ts"], utc=True)
            raw.set_index("ts")["value"].resample("1h").mean()
            rows += len(raw)
        return rows

    frames = timed_and_traced(row, "sql_buckets", sql_buckets)
    row["sql_rows_returned"] = sum(len(frame) for frame in frames)
    progress(f"{backend}: SQL buckets {row['sql_buckets_s']} s")
    findings = timed_and_traced(row, "capacity", capacity)
    row["capacity_ok"] = sum(not f.insufficient for f in findings)
    progress(f"{backend}: capacity analysis {row['capacity_s']} s")
    row["pandas_rows_read"] = timed_and_traced(row, "pandas_read", pandas_read)
    progress(f"{backend}: plain pandas read {row['pandas_read_s']} s")
    store.dispose()
    return row


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"opsbook_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    parser.add_argument("--days", type=int, default=90, help="days of 1-minute samples per metric (default 90)")
    parser.add_argument("--metrics", type=int, default=50, help="number of metrics (default 50)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    args = parser.parse_args()

    def progress(message: str) -> None:
        print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)

    rows = []
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(prefix="opsbook-bench-") as folder:
                rows.append(run(f"sqlite:///{folder}/history.db", backend, args.days, args.metrics, progress))
        elif backend == "postgresql":
            with postgres_database() as url:
                rows.append(run(url, backend, args.days, args.metrics, progress))
        else:
            parser.error(f"unknown backend {backend!r}")

    columns = [
        "backend",
        "rows",
        "insert_rows_per_s",
        "to_sql_rows_per_s",
        "insert_vs_to_sql",
        "sql_buckets_s",
        "sql_buckets_peak_mb",
        "sql_rows_returned",
        "capacity_s",
        "capacity_peak_mb",
        "capacity_ok",
        "pandas_read_s",
        "pandas_read_peak_mb",
        "pandas_rows_read",
    ]
    print(pd.DataFrame(rows)[columns].to_string(index=False))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"history_at_scale-{args.days}d-{args.metrics}m-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(
        json.dumps({"python": platform.python_version(), "machine": platform.machine(), "results": rows}, indent=2)
    )
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
