"""History tables for alerts, silences, notification deliveries and incidents with their timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from opsbook.store.models import Base
from opsbook.store.types import BoundedString, CleanText


class AlertRow(Base):
    """One alert per fingerprint (check, target): repeats update it, they never add rows."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(BoundedString(450), unique=True)
    check: Mapped[str] = mapped_column(BoundedString(100))
    target: Mapped[str] = mapped_column(BoundedString(300))
    component: Mapped[str] = mapped_column(BoundedString(100))
    alert_type: Mapped[str] = mapped_column(BoundedString(20))
    severity: Mapped[str] = mapped_column(BoundedString(2))
    state: Mapped[str] = mapped_column(BoundedString(10), index=True, doc="firing | resolved")
    status: Mapped[str] = mapped_column(BoundedString(10), doc="the last result's status")
    message: Mapped[str] = mapped_column(CleanText, default="")
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    maintenance: Mapped[bool] = mapped_column(Boolean, default=False, doc="last result was in a maintenance window")
    notified_at: Mapped[datetime | None] = mapped_column(doc="last firing notice sent")
    resolved_notified: Mapped[bool] = mapped_column(Boolean, default=False)


class AlertJudgementRow(Base):
    """A person's verdict on one firing episode of an alert: a real problem, or noise.

    The alert row is reused when its fingerprint fires again, so the episode (fingerprint and when
    it began firing) is kept here with the verdict; alert accuracy counts episodes, not rows.
    """

    __tablename__ = "alert_judgements"
    __table_args__ = (UniqueConstraint("fingerprint", "episode_started", name="uq_alert_judgements_episode"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(BoundedString(450), index=True)
    check: Mapped[str] = mapped_column(BoundedString(100))
    episode_started: Mapped[datetime] = mapped_column(doc="the alert's first_seen for this episode")
    episode_resolved: Mapped[datetime | None] = mapped_column(doc="resolved_at when judged, if it had resolved")
    true_positive: Mapped[bool] = mapped_column(Boolean)
    judged_by: Mapped[str] = mapped_column(BoundedString(100))
    judged_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(CleanText, default="")


class SilenceRow(Base):
    """Mutes alerts whose check and target match (shell-style patterns) until it expires."""

    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    check_pattern: Mapped[str] = mapped_column(BoundedString(200), default="*")
    target_pattern: Mapped[str] = mapped_column(BoundedString(300), default="*")
    reason: Mapped[str] = mapped_column(CleanText, default="")
    created_by: Mapped[str] = mapped_column(BoundedString(100), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class DeliveryRow(Base):
    """One message to one channel: sent or failed after its retries, never silently dropped."""

    __tablename__ = "notification_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(BoundedString(100), index=True)
    kind: Mapped[str] = mapped_column(BoundedString(20), doc="firing | resolved | incident | escalation | test")
    subject: Mapped[str] = mapped_column(CleanText, default="")
    ok: Mapped[bool] = mapped_column(Boolean)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    error: Mapped[str | None] = mapped_column(CleanText)
    refs: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="alert fingerprints or incident id")
    at: Mapped[datetime] = mapped_column(index=True)


class IncidentRow(Base):
    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(BoundedString(32), primary_key=True, doc="INC-YYYYMMDD-HHMMSS")
    severity: Mapped[str] = mapped_column(BoundedString(2))
    description: Mapped[str] = mapped_column(CleanText)
    component: Mapped[str] = mapped_column(BoundedString(100))
    alert_type: Mapped[str] = mapped_column(BoundedString(20), default="other", doc="routes like an alert of this type")
    impact: Mapped[str] = mapped_column(CleanText, default="")
    commander: Mapped[str] = mapped_column(BoundedString(200), default="")
    state: Mapped[str] = mapped_column(BoundedString(15), index=True, doc="open | acknowledged | resolved")
    started_at: Mapped[datetime] = mapped_column(doc="when the problem began (first alert or given)")
    opened_at: Mapped[datetime] = mapped_column(doc="when it was detected and the incident opened")
    acknowledged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(Integer, default=1)
    escalated_at: Mapped[datetime | None]
    root_cause: Mapped[str | None] = mapped_column(CleanText)
    resolution: Mapped[str | None] = mapped_column(CleanText)
    preventive_measures: Mapped[str | None] = mapped_column(CleanText)
    postmortem_on: Mapped[str | None] = mapped_column(BoundedString(10), doc="post-mortem date, YYYY-MM-DD")

    events: Mapped[list[IncidentEventRow]] = relationship(
        back_populates="incident", cascade="all, delete-orphan", order_by="IncidentEventRow.id"
    )


class IncidentEventRow(Base):
    """The incident's timeline: opened, acknowledged, updates, escalations, actions, resolved."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(BoundedString(20))
    message: Mapped[str] = mapped_column(CleanText, default="")
    actor: Mapped[str] = mapped_column(BoundedString(100), default="")

    incident: Mapped[IncidentRow] = relationship(back_populates="events")
