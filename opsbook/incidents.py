"""Incidents: a record per incident with its timeline, as the runbook's incident workflow keeps it.

Ids are `INC-YYYYMMDD-HHMMSS` (UTC). Times come from the timeline: MTTD is from when the problem
began (`started_at`, the first alert or what the responder says) to when the incident was opened;
MTTR is from opening to resolution. Every function takes `now` so the clock is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from opsbook.escalation import Severity, escalation_level
from opsbook.results import utcnow
from opsbook.secrets import redact
from opsbook.store import HistoryStore
from opsbook.store.incident_models import IncidentEventRow, IncidentRow


class IncidentError(ValueError):
    """No such incident, or the change does not fit its state."""


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str
    message: str
    actor: str


@dataclass(frozen=True)
class Incident:
    id: str
    severity: str
    description: str
    component: str
    alert_type: str
    impact: str
    commander: str
    state: str
    started_at: datetime
    opened_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    escalation_level: int
    escalated_at: datetime | None
    root_cause: str | None
    resolution: str | None
    preventive_measures: str | None
    postmortem_on: str | None
    events: list[Event] = field(default_factory=list)

    # for routing, like an alert
    @property
    def labels(self) -> dict[str, str]:
        return {"incident": self.id}

    @property
    def severity_words(self) -> str:
        return f"{Severity(self.severity).word.capitalize()} ({self.severity})"

    @property
    def status_words(self) -> str:
        return {"open": "Investigating", "acknowledged": "Identified, being worked on", "resolved": "Resolved"}[
            self.state
        ]

    @property
    def mttd(self) -> timedelta:
        """Time to detect: from the start of the problem to the incident being opened."""
        return self.opened_at - self.started_at

    @property
    def mttr(self) -> timedelta | None:
        """Time to resolve: from opening to resolution (None while open)."""
        return self.resolved_at - self.opened_at if self.resolved_at else None

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        return self.acknowledged_at - self.opened_at if self.acknowledged_at else None

    def duration(self, now: datetime) -> timedelta:
        return (self.resolved_at or now) - self.started_at

    @classmethod
    def of(cls, row: IncidentRow) -> Incident:
        names = [n for n in cls.__dataclass_fields__ if n != "events"]
        return cls(
            **{n: getattr(row, n) for n in names}, events=[Event(e.at, e.kind, e.message, e.actor) for e in row.events]
        )


def incident_id(at: datetime) -> str:
    return at.strftime("INC-%Y%m%d-%H%M%S")


def _get(session, incident_id_: str) -> IncidentRow:
    row = session.get(IncidentRow, incident_id_)
    if row is None:
        raise IncidentError(f"no incident {incident_id_}")
    return row


def _event(row: IncidentRow, at: datetime, kind: str, message: str, actor: str) -> None:
    row.events.append(IncidentEventRow(at=at, kind=kind, message=redact(message), actor=actor))


def open_incident(
    store: HistoryStore,
    *,
    severity: Severity | str,
    description: str,
    component: str,
    impact: str = "",
    commander: str = "",
    alert_type: str = "other",
    started_at: datetime | None = None,
    business_impact: str = "normal",
    actor: str = "opsbook",
    now: datetime | None = None,
) -> Incident:
    """Create the record; the id is the opening second (the next free one if it is taken)."""
    now = now or utcnow()
    severity = Severity.parse(severity) if isinstance(severity, str) else severity
    started = started_at or now
    with store.session() as session, session.begin():
        at = now
        while session.get(IncidentRow, incident_id(at)) is not None:
            at += timedelta(seconds=1)
        row = IncidentRow(
            id=incident_id(at),
            severity=severity.value,
            description=redact(description),
            component=component,
            alert_type=alert_type,
            impact=redact(impact),
            commander=commander,
            state="open",
            started_at=started,
            opened_at=now,
            escalation_level=escalation_level(severity, now - started, business_impact),
        )
        _event(row, now, "opened", f"{severity.value} incident opened: {description}", actor)
        session.add(row)
        session.flush()
        return Incident.of(row)


def acknowledge(store: HistoryStore, incident: str, *, actor: str = "", now: datetime | None = None) -> Incident:
    now = now or utcnow()
    with store.session() as session, session.begin():
        row = _get(session, incident)
        if row.state != "open":
            raise IncidentError(f"{incident} is {row.state}, not open")
        row.state, row.acknowledged_at = "acknowledged", now
        _event(row, now, "acknowledged", f"acknowledged by {actor or 'someone'}", actor)
        session.flush()
        return Incident.of(row)


def add_event(
    store: HistoryStore,
    incident: str,
    message: str,
    *,
    kind: str = "update",
    actor: str = "",
    now: datetime | None = None,
) -> Incident:
    """An update, an action taken, a check's finding: one line on the timeline."""
    now = now or utcnow()
    with store.session() as session, session.begin():
        row = _get(session, incident)
        _event(row, now, kind, message, actor)
        session.flush()
        return Incident.of(row)


def escalate(store: HistoryStore, incident: str, level: int, *, reason: str, now: datetime | None = None) -> Incident:
    now = now or utcnow()
    with store.session() as session, session.begin():
        row = _get(session, incident)
        row.escalation_level, row.escalated_at = level, now
        _event(row, now, "escalated", f"escalated to level {level}: {reason}", "opsbook")
        session.flush()
        return Incident.of(row)


def resolve(
    store: HistoryStore,
    incident: str,
    *,
    root_cause: str,
    resolution: str = "",
    preventive_measures: str = "",
    postmortem_on: str | None = None,
    actor: str = "",
    now: datetime | None = None,
) -> Incident:
    """Close the incident with what the runbook's resolution notice needs."""
    now = now or utcnow()
    with store.session() as session, session.begin():
        row = _get(session, incident)
        if row.state == "resolved":
            raise IncidentError(f"{incident} is already resolved")
        row.state, row.resolved_at = "resolved", now
        row.acknowledged_at = row.acknowledged_at or now
        row.root_cause, row.resolution = redact(root_cause), redact(resolution)
        row.preventive_measures, row.postmortem_on = redact(preventive_measures), postmortem_on
        _event(row, now, "resolved", f"resolved: {root_cause}", actor)
        session.flush()
        return Incident.of(row)


def get_incident(store: HistoryStore, incident: str) -> Incident:
    with store.session() as session:
        return Incident.of(_get(session, incident))


def list_incidents(store: HistoryStore, *, open_only: bool = False, limit: int = 50) -> list[Incident]:
    with store.session() as session:
        query = select(IncidentRow).order_by(IncidentRow.opened_at.desc()).limit(limit)
        if open_only:
            query = query.where(IncidentRow.state != "resolved")
        return [Incident.of(row) for row in session.scalars(query)]


def mean(values: list[timedelta]) -> timedelta | None:
    return sum(values, timedelta()) / len(values) if values else None
