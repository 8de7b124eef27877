"""The history store: where every checklist run, result and metric sample is kept.

SQLite by default, PostgreSQL in production. Migrations are applied on first use, so a flow
never writes to a schema older than its code.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import ColumnElement, CursorResult, Engine, delete, func, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from opsbook.results import CheckResult, Status, count_by_status, verdict_of
from opsbook.secrets import redact
from opsbook.store.engine import make_engine, safe_url
from opsbook.store.incident_models import DeliveryRow
from opsbook.store.models import CheckResultRow, CheckRun, MetricSample
from opsbook.store.types import bounded_json

MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant works; it only has to be the same for every opsbook process.
_PG_MIGRATION_LOCK = 0x0B5B00C


_SAMPLE_KEY = ["source", "metric", "labels_key", "ts"]
_SAMPLE_COLUMNS = [*_SAMPLE_KEY, "labels", "value", "unit", "run_id"]


class StoreError(Exception):
    """The history store could not be reached or written; the message holds no password."""


@dataclass(frozen=True)
class Sample:
    """One metric value at one time, as analyses and sources exchange it."""

    metric: str
    value: float
    ts: datetime
    source: str = "opsbook"
    labels: dict[str, str] = field(default_factory=dict)
    unit: str | None = None

    @property
    def labels_key(self) -> str:
        return labels_key(self.labels)


def labels_key(labels: dict[str, str]) -> str:
    """A series' labels as one comparable string (sorted k=v pairs)."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


@dataclass(frozen=True)
class RunRecord:
    """A stored run with its results, as read back from the history."""

    id: str
    flow: str
    estate: str
    started_at: datetime
    finished_at: datetime | None
    verdict: str
    counts: dict[str, int]
    report_path: str | None
    notes: str | None
    results: list[CheckResult]


def alembic_config(engine: Engine | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


class HistoryStore:
    """Reads and writes the history. One instance per process and URL is enough."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._upgraded = False
        self._upgrade_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HistoryStore({safe_url(self.url)!r})"

    # -- schema -------------------------------------------------------------------------------

    def upgrade(self) -> str:
        """Apply every pending migration; return the revision now current. Safe to repeat."""
        with self._upgrade_lock:
            try:
                with self.engine.begin() as connection:
                    if connection.dialect.name == "postgresql":
                        # Two processes starting at once must not both create the tables.
                        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
                    config = alembic_config()
                    config.attributes["connection"] = connection
                    command.upgrade(config, "heads")
                    revision = ",".join(MigrationContext.configure(connection).get_current_heads())
            except Exception as error:
                raise StoreError(self._describe(error)) from None
            self._upgraded = True
            return revision

    def ensure_schema(self) -> None:
        """Upgrade once per process before the first read or write."""
        if not self._upgraded:
            self.upgrade()

    def head_revisions(self) -> set[str]:
        return set(ScriptDirectory.from_config(alembic_config()).get_heads())

    def session(self) -> Session:
        self.ensure_schema()
        return self._sessions()

    def _describe(self, error: BaseException) -> str:
        cause = str(getattr(error, "orig", None) or error).strip().splitlines()
        first = cause[0] if cause else type(error).__name__
        return redact(f"history store {safe_url(self.url)}: {first}")

    # -- runs and results ----------------------------------------------------------------------

    def record_run(
        self,
        *,
        run_id: str,
        flow: str,
        estate: str,
        started_at: datetime,
        finished_at: datetime | None,
        results: Sequence[CheckResult],
        report_path: str | None = None,
        notes: str | None = None,
    ) -> None:
        """Write a run and its results. Writing the same run id again replaces it (idempotent)."""
        try:
            with self.session() as session, session.begin():
                session.execute(delete(CheckResultRow).where(CheckResultRow.run_id == run_id))
                run = session.get(CheckRun, run_id) or CheckRun(id=run_id)
                run.flow, run.estate = flow, estate
                run.started_at, run.finished_at = started_at, finished_at
                run.verdict = verdict_of(results).value
                run.counts = count_by_status(results)
                run.report_path, run.notes = report_path, redact(notes)
                session.add(run)
                session.flush()
                session.add_all(_row(run_id, r) for r in _unique(results))
        except StoreError:
            raise
        except Exception as error:
            raise StoreError(self._describe(error)) from None

    def annotate_run(self, run_id: str, *, report_path: str | None, notes: str | None) -> None:
        """Record a stored run's report path and notes, known only after its results were written."""
        try:
            with self.session() as session, session.begin():
                run = session.get(CheckRun, run_id)
                if run is None:
                    raise StoreError(f"history store {safe_url(self.url)}: no run {run_id}")
                run.report_path, run.notes = report_path, redact(notes)
        except StoreError:
            raise
        except Exception as error:
            raise StoreError(self._describe(error)) from None

    def get_run(self, run_id: str) -> RunRecord | None:
        with self.session() as session:
            run = session.get(CheckRun, run_id)
            return _record(run) if run else None

    def latest_runs(self, flow: str | None = None, limit: int = 20) -> list[RunRecord]:
        with self.session() as session:
            query = select(CheckRun).order_by(CheckRun.started_at.desc()).limit(limit)
            if flow:
                query = query.where(CheckRun.flow == flow)
            return [_record(run) for run in session.scalars(query)]

    def result_history(self, check: str, target: str | None = None, since: datetime | None = None) -> list[CheckResult]:
        """Results of one check over time, oldest first."""
        with self.session() as session:
            query = select(CheckResultRow).where(CheckResultRow.check == check).order_by(CheckResultRow.started_at)
            if target is not None:
                query = query.where(CheckResultRow.target == target)
            if since is not None:
                query = query.where(CheckResultRow.started_at >= since)
            return [_result(row) for row in session.scalars(query)]

    # -- metric samples ------------------------------------------------------------------------

    def add_samples(self, samples: Iterable[Sample], run_id: str | None = None) -> int:
        """Insert samples, ignoring any already stored for the same series and time.

        Returns how many rows were new.
        """
        rows = [
            {
                "source": s.source,
                "metric": s.metric,
                "labels_key": redact(s.labels_key),
                "labels": redact(dict(s.labels)),
                "ts": s.ts,
                "value": float(s.value),
                "unit": s.unit,
                "run_id": run_id,
            }
            for s in samples
        ]
        if not rows:
            return 0
        self.ensure_schema()
        try:
            if self.engine.dialect.name == "postgresql":
                return self._copy_samples(rows)
            # One cached statement executed with many parameter sets: SQLAlchemy batches it into
            # multi-row INSERTs ("insertmanyvalues") without recompiling a huge VALUES clause.
            statement = (
                sqlite_insert(MetricSample)
                .on_conflict_do_nothing(index_elements=_SAMPLE_KEY)
                .returning(MetricSample.id)
            )  # rowcount is not reliable for multi-row inserts
            with self.engine.begin() as connection:
                return len(connection.execute(statement, rows).all())
        except Exception as error:
            raise StoreError(self._describe(error)) from None

    def _copy_samples(self, rows: list[dict[str, object]]) -> int:
        """PostgreSQL: COPY into a temporary table, then one INSERT ... ON CONFLICT DO NOTHING.

        A multi-row INSERT spends most of its time in the driver rewriting placeholders; COPY
        streams rows as they are (about 8x faster, bench/history_at_scale.py).
        """
        columns = ", ".join(_SAMPLE_COLUMNS)
        dialect = self.engine.dialect
        table = MetricSample.__table__.c
        # COPY skips SQLAlchemy's types: clean and convert each value as the column type would.
        cleaners: dict[str, TypeDecorator[Any]] = {
            c: t for c in _SAMPLE_COLUMNS if isinstance(t := table[c].type, TypeDecorator)
        }

        def bound(column: str, value: object) -> object:
            if column in cleaners:
                value = cleaners[column].process_bind_param(value, dialect)
            return json.dumps(value) if column == "labels" else value

        with self.engine.begin() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None  # set while the connection is open
            cursor = driver.cursor()
            cursor.execute(
                f"CREATE TEMPORARY TABLE incoming_samples ON COMMIT DROP AS "
                f"SELECT {columns} FROM metric_samples WITH NO DATA"
            )
            with cursor.copy(f"COPY incoming_samples ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([bound(c, row[c]) for c in _SAMPLE_COLUMNS])
            cursor.execute(
                f"INSERT INTO metric_samples ({columns}) SELECT {columns} FROM incoming_samples "
                f"ON CONFLICT ({', '.join(_SAMPLE_KEY)}) DO NOTHING"
            )
            return max(cursor.rowcount, 0)

    def samples(
        self,
        metric: str,
        since: datetime | None = None,
        source: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> list[Sample]:
        """Samples of one metric, oldest first (for small reads; aggregate in SQL for long ones)."""
        with self.session() as session:
            query = select(MetricSample).where(MetricSample.metric == metric).order_by(MetricSample.ts)
            if since is not None:
                query = query.where(MetricSample.ts >= since)
            if source is not None:
                query = query.where(MetricSample.source == source)
            if labels is not None:
                query = query.where(MetricSample.labels_key == labels_key(labels))
            return [
                Sample(
                    metric=row.metric,
                    value=row.value,
                    ts=row.ts,
                    source=row.source,
                    labels=dict(row.labels or {}),
                    unit=row.unit,
                )
                for row in session.scalars(query)
            ]

    def prune(self, before: datetime, *, apply: bool = False, batch: int = 20_000) -> dict[str, int]:
        """Rows older than `before`: counted, and deleted only with `apply` (in batches, so a year of
        samples never holds one long lock). Alerts, incidents and backup records are kept: they are
        few and they are the audit trail."""
        old_runs = select(CheckRun.id).where(CheckRun.started_at < before)
        targets: list[tuple[str, type[CheckResultRow | CheckRun | MetricSample | DeliveryRow], ColumnElement[bool]]] = [
            ("check_results", CheckResultRow, CheckResultRow.run_id.in_(old_runs)),
            ("check_runs", CheckRun, CheckRun.started_at < before),
            ("metric_samples", MetricSample, MetricSample.ts < before),
            ("notification_deliveries", DeliveryRow, DeliveryRow.at < before),
        ]
        counts: dict[str, int] = {}
        try:
            with self.session() as session:
                for name, model, condition in targets:
                    if not apply:
                        counts[name] = session.scalar(select(func.count()).select_from(model).where(condition)) or 0
                        continue
                    counts[name] = 0
                    while True:
                        chunk = select(model.id).where(condition).limit(batch).scalar_subquery()
                        with session.begin():
                            result = cast(CursorResult[Any], session.execute(delete(model).where(model.id.in_(chunk))))
                            deleted = result.rowcount or 0
                        counts[name] += deleted
                        if deleted < batch:
                            break
        except Exception as error:
            raise StoreError(self._describe(error)) from None
        return counts

    def dispose(self) -> None:
        self.engine.dispose()


def _unique(results: Sequence[CheckResult]) -> list[CheckResult]:
    """Keep the last result per (check, target): a retried task must not store twice."""
    return list({r.key: r for r in results}.values())


def _row(run_id: str, result: CheckResult) -> CheckResultRow:
    return CheckResultRow(
        run_id=run_id,
        check=result.check,
        target=redact(result.target),
        component=result.component,
        status=result.status.value,
        value=result.value,
        unit=result.unit,
        threshold=result.threshold,
        message=redact(result.message),
        details=redact(bounded_json(result.details)),  # bounded first: redact recurses
        labels=redact(dict(result.labels)),
        started_at=result.started_at,
        duration_ms=result.duration_ms,
        attempts=result.attempts,
    )


def _result(row: CheckResultRow) -> CheckResult:
    return CheckResult(
        check=row.check,
        target=row.target,
        component=row.component,
        status=Status(row.status),
        value=row.value,
        unit=row.unit,
        threshold=row.threshold,
        message=row.message,
        details=row.details or {},
        labels=row.labels or {},
        started_at=row.started_at,
        duration_ms=row.duration_ms,
        attempts=row.attempts,
    )


def _record(run: CheckRun) -> RunRecord:
    return RunRecord(
        id=run.id,
        flow=run.flow,
        estate=run.estate,
        started_at=run.started_at,
        finished_at=run.finished_at,
        verdict=run.verdict,
        counts=dict(run.counts or {}),
        report_path=run.report_path,
        notes=run.notes,
        results=[_result(row) for row in run.results],
    )


_stores: dict[str, HistoryStore] = {}
_stores_lock = threading.Lock()


def open_store(url: str) -> HistoryStore:
    """The process-wide store for a URL (engines and pools are shared, not rebuilt per task)."""
    with _stores_lock:
        if url not in _stores:
            _stores[url] = HistoryStore(url)
        return _stores[url]
