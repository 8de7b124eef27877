"""Alerts: every failing result (and a warning where the runbook alerts on it) raises or updates
one alert per (check, target).

Like Alertmanager: a repeat updates count and last-seen, an ok result resolves the alert, a
silence or a maintenance window mutes it, and notices are batched per group. Everything takes
`now` explicitly, so the clock is the caller's (tests pass a controlled one).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from opsbook.checks import declared
from opsbook.config.notifications import NotificationsConfig, Route
from opsbook.escalation import Severity
from opsbook.incidents import Incident
from opsbook.results import CheckResult, Status, utcnow
from opsbook.secrets import redact
from opsbook.store import HistoryStore
from opsbook.store.incident_models import AlertJudgementRow, AlertRow, SilenceRow

# An id no task declares (a custom or retired check) is typed by its component, severity P3.
COMPONENT_TYPES = {
    "platforms": "infrastructure",
    "hosts": "infrastructure",
    "resources": "infrastructure",
    "database": "infrastructure",
    "monitoring": "infrastructure",
    "backups": "infrastructure",
    "security": "security",
    "certificates": "security",
    "performance": "performance",
    "web": "performance",
    "application": "application",
}


def classify(result: CheckResult) -> tuple[str, Severity]:
    """Alert type and severity of a failing result, from its check's declaration.

    An `error` (could not measure) is one step less severe than a `fail` of the same check; a
    `warn` of a check that alerts on warnings has its declared `warn_severity`; labels
    `alert_type`/`severity` override them all.
    """
    if check := declared(result.check):
        alert_type, severity = check.alert_type.value, check.severity
        if result.status is Status.WARN and check.warn_severity is not None:
            severity = check.warn_severity
    else:
        alert_type, severity = COMPONENT_TYPES.get(result.component, "other"), Severity.P3
    if result.status is Status.ERROR:
        severity = severity.lower()
    if "severity" in result.labels:
        severity = Severity.parse(result.labels["severity"])
    return result.labels.get("alert_type", alert_type), severity


def raises_alert(result: CheckResult) -> bool:
    """A fail or an error always alerts; a warn only where its declaration says the runbook alerts on it."""
    check = declared(result.check)
    return check.alerts_on(result.status) if check else result.status.is_problem


def fingerprint(check: str, target: str) -> str:
    return f"{check}|{target}"


@dataclass(frozen=True)
class Alert:
    fingerprint: str
    check: str
    target: str
    component: str
    alert_type: str
    severity: str
    state: str
    status: str
    message: str
    labels: dict[str, str]
    count: int
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    maintenance: bool
    notified_at: datetime | None
    resolved_notified: bool

    @classmethod
    def of(cls, row: AlertRow) -> Alert:
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Silence:
    id: int
    check_pattern: str
    target_pattern: str
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime

    def matches(self, alert: Alert) -> bool:
        return fnmatch.fnmatchcase(alert.check, self.check_pattern) and fnmatch.fnmatchcase(
            alert.target, self.target_pattern
        )

    def active(self, now: datetime) -> bool:
        return now < self.expires_at

    @classmethod
    def of(cls, row: SilenceRow) -> Silence:
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})


def record_results(store: HistoryStore, results: Iterable[CheckResult], now: datetime | None = None) -> list[Alert]:
    """Raise, update or resolve the alert of each result; return the alerts that changed."""
    now = now or utcnow()
    changed: list[Alert] = []
    with store.session() as session, session.begin():
        for result in results:
            key = fingerprint(result.check, redact(result.target))
            row = session.scalars(select(AlertRow).where(AlertRow.fingerprint == key)).one_or_none()
            if raises_alert(result):
                alert_type, severity = classify(result)
                if row is None or row.state == "resolved":
                    row = row or AlertRow(fingerprint=key, check=result.check, target=redact(result.target))
                    row.state, row.count, row.first_seen = "firing", 1, now
                    row.resolved_at, row.notified_at, row.resolved_notified = None, None, False
                else:
                    row.count += 1
                row.component, row.alert_type, row.severity = result.component, alert_type, severity.value
                row.status, row.message = result.status.value, redact(result.message)
                row.labels, row.last_seen = redact(dict(result.labels)), now
                row.maintenance = bool(result.details.get("silenced_by_maintenance"))
                session.add(row)
            elif result.status is Status.OK and row is not None and row.state == "firing":
                row.state, row.status, row.resolved_at, row.last_seen = "resolved", "ok", now, now
                row.maintenance = bool(result.details.get("silenced_by_maintenance"))
            else:
                continue
            session.flush()
            changed.append(Alert.of(row))
    return changed


def list_alerts(store: HistoryStore, state: str | None = None) -> list[Alert]:
    with store.session() as session:
        query = select(AlertRow).order_by(AlertRow.first_seen)
        if state:
            query = query.where(AlertRow.state == state)
        return [Alert.of(row) for row in session.scalars(query)]


# -- judgements: was it a real problem? ----------------------------------------------------------


class UnknownAlert(LookupError):
    """No alert has that fingerprint."""


@dataclass(frozen=True)
class Episode:
    """One firing of one alert, from first seen to resolved, with a person's verdict if given."""

    fingerprint: str
    check: str
    started: datetime
    resolved: datetime | None
    true_positive: bool | None  # None: nobody has judged it


def judge_alert(
    store: HistoryStore,
    fingerprint_: str,
    *,
    true_positive: bool,
    judged_by: str,
    note: str = "",
    now: datetime | None = None,
) -> Episode:
    """Mark the alert's current (or last) episode a real problem or noise; judging again replaces it.

    The verdict feeds the alert-accuracy KPI and the alert noise review.
    """
    now = now or utcnow()
    with store.session() as session, session.begin():
        alert = session.scalars(select(AlertRow).where(AlertRow.fingerprint == fingerprint_)).one_or_none()
        if alert is None:
            raise UnknownAlert(f"no alert {fingerprint_!r} (fingerprints are check|target; `opsbook alerts list`)")
        row = session.scalars(
            select(AlertJudgementRow).where(
                AlertJudgementRow.fingerprint == fingerprint_, AlertJudgementRow.episode_started == alert.first_seen
            )
        ).one_or_none()
        row = row or AlertJudgementRow(fingerprint=fingerprint_, check=alert.check, episode_started=alert.first_seen)
        row.episode_resolved, row.true_positive = alert.resolved_at, true_positive
        row.judged_by, row.judged_at, row.note = judged_by, now, redact(note)
        session.add(row)
        return Episode(fingerprint_, alert.check, alert.first_seen, alert.resolved_at, true_positive)


def episodes_since(store: HistoryStore, since: datetime) -> list[Episode]:
    """Every episode seen since `since`: each alert's current one, and earlier ones that were judged."""
    with store.session() as session:
        verdicts = {
            (j.fingerprint, j.episode_started): j
            for j in session.scalars(select(AlertJudgementRow).where(AlertJudgementRow.episode_started >= since))
        }
        episodes = []
        for alert in session.scalars(select(AlertRow).where(AlertRow.last_seen >= since)):
            verdict = verdicts.pop((alert.fingerprint, alert.first_seen), None)
            episodes.append(
                Episode(
                    alert.fingerprint,
                    alert.check,
                    alert.first_seen,
                    alert.resolved_at,
                    verdict.true_positive if verdict else None,
                )
            )
        episodes += [
            Episode(j.fingerprint, j.check, j.episode_started, j.episode_resolved, j.true_positive)
            for j in verdicts.values()
        ]  # the alert has fired again since; its judged past stays
    return sorted(episodes, key=lambda e: e.started)


# -- silences ----------------------------------------------------------------------------------


def add_silence(
    store: HistoryStore,
    *,
    check: str = "*",
    target: str = "*",
    duration: timedelta,
    reason: str = "",
    created_by: str = "",
    now: datetime | None = None,
) -> Silence:
    now = now or utcnow()
    with store.session() as session, session.begin():
        row = SilenceRow(
            check_pattern=check,
            target_pattern=target,
            reason=redact(reason),
            created_by=created_by,
            created_at=now,
            expires_at=now + duration,
        )
        session.add(row)
        session.flush()
        return Silence.of(row)


def list_silences(store: HistoryStore, now: datetime | None = None, include_expired: bool = False) -> list[Silence]:
    now = now or utcnow()
    with store.session() as session:
        query = select(SilenceRow).order_by(SilenceRow.id)
        if not include_expired:
            query = query.where(SilenceRow.expires_at > now)
        return [Silence.of(row) for row in session.scalars(query)]


def expire_silence(store: HistoryStore, silence_id: int, now: datetime | None = None) -> bool:
    """End a silence now; False when there is no such active silence."""
    now = now or utcnow()
    with store.session() as session, session.begin():
        row = session.get(SilenceRow, silence_id)
        if row is None or row.expires_at <= now:
            return False
        row.expires_at = now
        return True


# -- what to notify, and when ------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """One alert to mention in a message: firing (new or repeated) or resolved."""

    kind: str  # firing | resolved
    alert: Alert
    due_since: datetime
    repeat: bool = False


@dataclass
class Group:
    key: tuple[str, ...]
    notices: list[Notice]

    def due(self, window: timedelta, now: datetime) -> bool:
        return min(n.due_since for n in self.notices) + window <= now


def pending_notices(
    alerts: Sequence[Alert], silences: Sequence[Silence], config: NotificationsConfig, now: datetime
) -> list[Notice]:
    """What should be said about each alert now, ignoring silenced and maintenance ones."""
    repeat = timedelta(seconds=config.repeat_interval_s)
    notices = []
    for alert in alerts:
        muted = alert.maintenance or any(s.active(now) and s.matches(alert) for s in silences)
        if alert.state == "firing" and not muted:
            if alert.notified_at is None:
                notices.append(Notice("firing", alert, alert.first_seen))
            elif alert.notified_at + repeat <= now:
                notices.append(Notice("firing", alert, alert.notified_at + repeat, repeat=True))
        elif (
            alert.state == "resolved"
            and alert.notified_at is not None
            and not alert.resolved_notified
            and not alert.maintenance
        ):
            notices.append(Notice("resolved", alert, alert.resolved_at or now))
    return notices


def group_notices(notices: Iterable[Notice], group_by: Sequence[str]) -> list[Group]:
    fields = {"type": "alert_type", "severity": "severity", "component": "component", "check": "check"}
    groups: dict[tuple[str, ...], Group] = {}
    for notice in notices:
        key = tuple(str(getattr(notice.alert, fields[name])) for name in group_by)
        groups.setdefault(key, Group(key, [])).notices.append(notice)
    return [groups[k] for k in sorted(groups)]


def _matches(route: Route, alert: Alert | Incident) -> bool:
    match = route.match
    return (
        (not match.types or alert.alert_type in match.types)
        and (not match.severities or alert.severity in match.severities)
        and (not match.components or alert.component in match.components)
        and all(alert.labels.get(k) == v for k, v in match.labels.items())
    )


def channels_for(alert: Alert | Incident, config: NotificationsConfig) -> list[str]:
    """The routing tree: first matching route wins unless it says `continue`; else the defaults."""
    chosen: list[str] = []
    for route in config.routes:
        if _matches(route, alert):
            chosen += [c for c in route.channels if c not in chosen]
            if not route.continue_:
                break
    if not chosen:
        chosen = list(
            config.default_channels if config.default_channels is not None else [c.name for c in config.channels]
        )
    return chosen


def mark_notified(store: HistoryStore, notices: Iterable[Notice], now: datetime) -> None:
    """Remember what was said, so a repeat waits for the interval and a resolve is said once."""
    with store.session() as session, session.begin():
        for notice in notices:
            row = session.scalars(select(AlertRow).where(AlertRow.fingerprint == notice.alert.fingerprint)).one()
            if notice.kind == "firing":
                row.notified_at = now
            else:
                row.resolved_notified = True
