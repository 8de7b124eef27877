"""`opsbook incident open|ack|update|resolve|list`: the incident runbook from a terminal."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from opsbook.cli.common import (
    EXIT_PROBLEMS,
    ConfigOption,
    err,
    failure_line,
    finite_minutes,
    load_or_exit,
    open_history,
    out,
    say,
)
from opsbook.config import EstateConfig
from opsbook.secrets import redact

if TYPE_CHECKING:
    from opsbook.incidents import Incident
    from opsbook.store import HistoryStore

app = typer.Typer(help="Open, acknowledge, update, resolve and list incidents.", no_args_is_help=True)


def _refresh_status_page(config: EstateConfig, incident: Incident) -> None:
    """Rewrite the status page; when it cannot be written, say so in one line and exit 1.

    The incident is already stored (and announced) by then: the message says so, so nobody
    opens it a second time.
    """
    from opsbook.tasks.incidents import refresh_status_page

    try:
        say(f"status page: {refresh_status_page(config)}")
    except OSError as error:
        err.print(
            redact(
                f"error: status page not written ({failure_line(error)}); {incident.id} is stored and {incident.state}"
            )
        )
        raise typer.Exit(EXIT_PROBLEMS) from None


def _after_change(config: EstateConfig, incident: Incident, template: str, **context: Any) -> None:
    """Tell the channels and regenerate the status page; problems are reported, not fatal."""
    from opsbook.tasks.incidents import announce

    deliveries = asyncio.run(announce(config, incident, template, **context))
    for d in deliveries:
        if not d.ok:
            err.print(f"notification to {d.channel} failed: {d.error}", markup=False, highlight=False)
    _refresh_status_page(config, incident)


@app.command("open")
def incident_open(
    severity: Annotated[str, typer.Option("--severity", "-s", help="P0-P3 or critical/high/medium/low")],
    description: Annotated[str, typer.Option("--description", "-d", help="what is wrong")],
    component: Annotated[str, typer.Option("--component", help="the affected component")] = "application",
    impact: Annotated[str, typer.Option(help="who or what is affected")] = "",
    alert_type: Annotated[str, typer.Option("--type", help="routes like an alert of this type")] = "other",
    minutes_ago: Annotated[
        float, typer.Option(help="the problem began this long before now (for MTTD)", callback=finite_minutes)
    ] = 0,
    config: ConfigOption = None,
) -> None:
    """Open an incident (id INC-YYYYMMDD-HHMMSS), notify the channels, update the status page."""
    from opsbook.incidents import open_incident
    from opsbook.results import utcnow

    _, estate = load_or_exit(config)
    now = utcnow()
    try:
        incident = open_incident(
            open_history(estate),
            severity=severity,
            description=description,
            component=component,
            impact=impact,
            alert_type=alert_type,
            commander=estate.escalation.commander,
            started_at=now - timedelta(minutes=minutes_ago),
            business_impact=estate.incidents.business_impact,
            actor=getpass.getuser(),
            now=now,
        )
    except ValueError as error:
        err.print(f"error: {error}", markup=False, highlight=False)
        raise typer.Exit(EXIT_PROBLEMS) from None
    say(
        f"{incident.id} opened: {incident.severity_words}, escalation level {incident.escalation_level} "
        f"({estate.escalation.levels[incident.escalation_level].name})"
    )
    _after_change(estate, incident, "initial")


def _change(
    action: Callable[[HistoryStore], Incident], config: Path | None, template: str | None, **context: Any
) -> None:
    from opsbook.incidents import IncidentError

    _, estate = load_or_exit(config)
    try:
        incident = action(open_history(estate))
    except IncidentError as error:
        err.print(f"error: {error}", markup=False, highlight=False)
        raise typer.Exit(EXIT_PROBLEMS) from None
    say(f"{incident.id}: {incident.state}")
    if template:
        _after_change(estate, incident, template, **context)
    else:
        _refresh_status_page(estate, incident)


@app.command("ack")
def incident_ack(incident_id: str, config: ConfigOption = None) -> None:
    """Acknowledge an incident (stops its escalation)."""
    from opsbook.incidents import acknowledge

    _change(lambda store: acknowledge(store, incident_id, actor=getpass.getuser()), config, None)


@app.command("update")
def incident_update(
    incident_id: str,
    progress: Annotated[str, typer.Option("--message", "-m", help="what happened since the last update")],
    done: Annotated[list[str] | None, typer.Option("--done", help="an action completed (repeatable)")] = None,
    next_step: Annotated[list[str] | None, typer.Option("--next", help="a next step (repeatable)")] = None,
    eta: Annotated[str, typer.Option(help="expected time to resolution")] = "unknown",
    config: ConfigOption = None,
) -> None:
    """Add a status update to the timeline and send the runbook's status update."""
    from opsbook.incidents import add_event

    _change(
        lambda store: add_event(store, incident_id, progress, actor=getpass.getuser()),
        config,
        "update",
        progress=progress,
        completed_actions=done or [],
        next_steps=next_step or [],
        eta=eta,
    )


@app.command("resolve")
def incident_resolve(
    incident_id: str,
    root_cause: Annotated[str, typer.Option(help="why it happened")],
    resolution: Annotated[str, typer.Option(help="what fixed it")] = "",
    preventive: Annotated[str, typer.Option(help="what will stop it happening again")] = "",
    postmortem: Annotated[str | None, typer.Option(help="post-mortem date, YYYY-MM-DD")] = None,
    config: ConfigOption = None,
) -> None:
    """Resolve with root cause, preventive measures and the post-mortem date; send the resolution."""
    from opsbook.incidents import resolve

    if postmortem:
        try:
            date.fromisoformat(postmortem)
        except ValueError:
            raise typer.BadParameter(f"{postmortem!r} is not a YYYY-MM-DD date", param_hint="--postmortem") from None
    _change(
        lambda store: resolve(
            store,
            incident_id,
            root_cause=root_cause,
            resolution=resolution,
            preventive_measures=preventive,
            postmortem_on=postmortem,
            actor=getpass.getuser(),
        ),
        config,
        "resolution",
    )


def _minutes(value: timedelta | None) -> str:
    return "–" if value is None else f"{value.total_seconds() / 60:.1f}"


@app.command("list")
def incident_list(
    all_: Annotated[bool, typer.Option("--all", help="include resolved incidents")] = False,
    config: ConfigOption = None,
) -> None:
    """Incidents with their state, MTTD and MTTR (minutes), and the averages."""
    from opsbook.incidents import list_incidents, mean

    _, estate = load_or_exit(config)
    incidents = list_incidents(open_history(estate), open_only=not all_)
    table = Table(title="incidents", title_justify="left")
    for column in ("id", "severity", "state", "level", "component", "description", "MTTD min", "MTTR min"):
        table.add_column(column, overflow="fold")
    for i in incidents:
        table.add_row(
            i.id,
            i.severity,
            i.state,
            str(i.escalation_level),
            i.component,
            redact(i.description),
            _minutes(i.mttd),
            _minutes(i.mttr),
        )
    out.print(table)
    mttr = mean([i.mttr for i in incidents if i.mttr is not None])
    say(
        f"{len(incidents)} incident(s); mean MTTD {_minutes(mean([i.mttd for i in incidents]))} min "
        f"(target {estate.thresholds.kpis.mttd_minutes:g}), mean MTTR {_minutes(mttr)} min "
        f"(target {estate.thresholds.kpis.mttr_minutes:g})"
    )
