"""Incident communication and upkeep: the runbook's messages, the status page, the escalation sweep."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from opsbook.alerts import channels_for
from opsbook.config import EstateConfig
from opsbook.escalation import Severity, escalation_level
from opsbook.incidents import Incident, escalate, list_incidents
from opsbook.reports.messages import duration_words, render_message
from opsbook.reports.status_page import write_status_page
from opsbook.results import utcnow
from opsbook.store import open_store
from opsbook.tasks.notify import Delivery, deliver
from opsbook.tasks.report_data import status_page_data


def status_page_path(config: EstateConfig) -> Path:
    return config.incidents.status_page or config.reports.directory / "status.html"


def refresh_status_page(config: EstateConfig, now: datetime | None = None) -> Path:
    """Rewrite the status page from the history as it is now."""
    now = now or utcnow()
    return write_status_page(status_page_data(config.history.url, now), config.estate, status_page_path(config), now)


def _payload(incident: Incident) -> dict[str, Any]:
    return {
        "incident": {
            "id": incident.id,
            "severity": incident.severity,
            "state": incident.state,
            "component": incident.component,
            "description": incident.description,
            "escalation_level": incident.escalation_level,
            "started_at": incident.started_at.isoformat(),
            "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        }
    }


async def announce(
    config: EstateConfig, incident: Incident, template: str, now: datetime | None = None, **context: Any
) -> list[Delivery]:
    """Render one of the runbook's messages (initial, update, resolution, escalation) and send it to the
    incident's channels; with `escalation.email_contacts`, email also goes to the contacts of its
    current escalation level."""
    now = now or utcnow()
    if not incident.commander:
        incident = Incident(**{**incident.__dict__, "commander": config.escalation.commander})
    base = {
        "incident": incident,
        "estate": config.estate,
        "levels": config.escalation.levels,
        "duration": duration_words(incident.duration(now).total_seconds()),
        "next_update": "in 15 minutes" if incident.severity in ("P0", "P1") else "in 1 hour",
        "current_actions": "system health assessment in progress",
    }
    message = render_message(
        template, template, {**base, **context}, config.notifications.templates_dir, _payload(incident)
    )
    if config.escalation.email_contacts:  # whoever the incident has reached on the matrix hears by email too
        contacts = config.escalation.levels[incident.escalation_level].contacts
        message = replace(message, also_to=tuple(c.email for c in contacts if c.email))
    return await deliver(
        config,
        channels_for(incident, config.notifications),
        message,
        refs={"incident": incident.id},
        now=now,
    )


async def sweep_escalations(config: EstateConfig, now: datetime | None = None) -> list[Incident]:
    """Escalate every unacknowledged P0/P1 whose response time has passed since it was opened or
    last escalated: to the decision tree's level, and at least one level up (at most 4)."""
    now = now or utcnow()
    store = open_store(config.history.url)
    escalated = []
    for incident in list_incidents(store, open_only=True, limit=500):
        if incident.state != "open" or incident.severity not in ("P0", "P1"):
            continue
        respond = timedelta(minutes=config.escalation.severities[incident.severity].respond_minutes)
        since = incident.escalated_at or incident.opened_at
        if now - since <= respond or incident.escalation_level >= 4:
            continue
        tree = escalation_level(Severity(incident.severity), incident.duration(now), config.incidents.business_impact)
        level = min(4, max(tree, incident.escalation_level + 1))
        name = config.escalation.levels[level].name
        updated = escalate(
            store,
            incident.id,
            level,
            now=now,
            reason=f"not acknowledged within {respond.total_seconds() / 60:g} min; now {name}",
        )
        await announce(config, updated, "escalation", now, level=level, respond_minutes=respond.total_seconds() / 60)
        escalated.append(updated)
    return escalated
