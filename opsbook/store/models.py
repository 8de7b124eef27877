"""History tables: what every checklist run found, and the metric samples trends are made of.

Changing a table means a new Alembic revision in `migrations/versions/`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from opsbook.store.types import BoundedString, CleanJSON, CleanText


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the history store; use UTC-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: CleanJSON, datetime: UtcDateTime}


class CheckRun(Base):
    """One run of a checklist flow. `id` is the Prefect flow-run id, so writes are idempotent."""

    __tablename__ = "check_runs"

    id: Mapped[str] = mapped_column(BoundedString(64), primary_key=True)
    flow: Mapped[str] = mapped_column(BoundedString(100), index=True)
    estate: Mapped[str] = mapped_column(BoundedString(200))
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None]
    verdict: Mapped[str] = mapped_column(BoundedString(10))
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    report_path: Mapped[str | None] = mapped_column(CleanText)
    notes: Mapped[str | None] = mapped_column(CleanText, doc="problems of the run itself, e.g. report not written")

    results: Mapped[list[CheckResultRow]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="CheckResultRow.id"
    )


class CheckResultRow(Base):
    __tablename__ = "check_results"
    __table_args__ = (
        UniqueConstraint("run_id", "check", "target", name="uq_check_results_run_check_target"),
        Index("ix_check_results_check_target_started", "check", "target", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("check_runs.id", ondelete="CASCADE"), index=True)
    check: Mapped[str] = mapped_column(BoundedString(100))
    target: Mapped[str] = mapped_column(BoundedString(300))
    component: Mapped[str] = mapped_column(BoundedString(100))
    status: Mapped[str] = mapped_column(BoundedString(10), index=True)
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(BoundedString(30))
    threshold: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str] = mapped_column(CleanText, default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[datetime]
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=1)

    run: Mapped[CheckRun] = relationship(back_populates="results")


class MetricSample(Base):
    """One value of one metric at one time. The unique key makes re-ingesting a no-op."""

    __tablename__ = "metric_samples"
    __table_args__ = (
        UniqueConstraint("source", "metric", "labels_key", "ts", name="uq_metric_samples_series_ts"),
        Index("ix_metric_samples_metric_ts", "metric", "ts"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(BoundedString(100))
    metric: Mapped[str] = mapped_column(BoundedString(200))
    labels_key: Mapped[str] = mapped_column(BoundedString(500), default="", doc="labels as sorted k=v pairs")
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ts: Mapped[datetime]
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(BoundedString(30))
    run_id: Mapped[str | None] = mapped_column(BoundedString(64), index=True)
