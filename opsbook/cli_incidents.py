"""`opsbook incident|alerts|silence|notify`: the incident runbook's commands (wired into opsbook.cli)."""

from __future__ import annotations

import asyncio
import getpass
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from opsbook.cli import EXIT_PROBLEMS, ConfigOption, _load_or_exit, err, out
from opsbook.config import EstateConfig
from opsbook.secrets import redact

incident_app = typer.Typer(help="Open, acknowledge, update, resolve and list incidents.", no_args_is_help=True)
alerts_app = typer.Typer(help="List alerts; judge them real or noise (feeds alert accuracy).", no_args_is_help=True)
silence_app = typer.Typer(help="Mute alerts for a while (they are still recorded).", no_args_is_help=True)
notify_app = typer.Typer(help="Notification channels.", no_args_is_help=True)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")


def parse_duration(text: str) -> timedelta:
    """`90s`, `30m`, `2h`, `1d`."""
    match = _DURATION.match(text)
    if not match:
        raise typer.BadParameter(f"{text!r}: use a number and s, m, h or d (e.g. 2h)")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: float(match.group(1))})


def _say(text: str) -> None:
    out.print(redact(text), markup=False, highlight=False)


def _store(config: EstateConfig):
    from opsbook.store import open_store

    return open_store(config.history.url)


def _after_change(config: EstateConfig, incident, template: str, **context: Any) -> None:
    """Tell the channels and regenerate the status page; problems are reported, not fatal."""
    from opsbook.tasks.incidents import announce, refresh_status_page

    deliveries = asyncio.run(announce(config, incident, template, **context))
    for d in deliveries:
        if not d.ok:
            err.print(f"notification to {d.channel} failed: {d.error}", markup=False, highlight=False)
    _say(f"status page: {refresh_status_page(config)}")


@incident_app.command("open")
def incident_open(
    severity: Annotated[str, typer.Option("--severity", "-s", help="P0-P3 or critical/high/medium/low")],
    description: Annotated[str, typer.Option("--description", "-d", help="what is wrong")],
    component: Annotated[str, typer.Option("--component", help="the affected component")] = "application",
    impact: Annotated[str, typer.Option(help="who or what is affected")] = "",
    alert_type: Annotated[str, typer.Option("--type", help="routes like an alert of this type")] = "other",
    minutes_ago: Annotated[float, typer.Option(help="the problem began this long before now (for MTTD)")] = 0,
    config: ConfigOption = None,
) -> None:
    """Open an incident (id INC-YYYYMMDD-HHMMSS), notify the channels, update the status page."""
    from opsbook.incidents import open_incident
    from opsbook.results import utcnow

    _, estate = _load_or_exit(config)
    now = utcnow()
    try:
        incident = open_incident(
            _store(estate),
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
    _say(
        f"{incident.id} opened: {incident.severity_words}, escalation level {incident.escalation_level} "
        f"({estate.escalation.levels[incident.escalation_level].name})"
    )
    _after_change(estate, incident, "initial")


def _change(action, config: Path | None, template: str | None, **context: object) -> None:
    from opsbook.incidents import IncidentError

    _, estate = _load_or_exit(config)
    try:
        incident = action(_store(estate))
    except IncidentError as error:
        err.print(f"error: {error}", markup=False, highlight=False)
        raise typer.Exit(EXIT_PROBLEMS) from None
    _say(f"{incident.id}: {incident.state}")
    if template:
        _after_change(estate, incident, template, **context)
    else:
        from opsbook.tasks.incidents import refresh_status_page

        _say(f"status page: {refresh_status_page(estate)}")


@incident_app.command("ack")
def incident_ack(incident_id: str, config: ConfigOption = None) -> None:
    """Acknowledge an incident (stops its escalation)."""
    from opsbook.incidents import acknowledge

    _change(lambda store: acknowledge(store, incident_id, actor=getpass.getuser()), config, None)


@incident_app.command("update")
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


@incident_app.command("resolve")
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


def _minutes(value) -> str:
    return "–" if value is None else f"{value.total_seconds() / 60:.1f}"


@incident_app.command("list")
def incident_list(
    all_: Annotated[bool, typer.Option("--all", help="include resolved incidents")] = False,
    config: ConfigOption = None,
) -> None:
    """Incidents with their state, MTTD and MTTR (minutes), and the averages."""
    from opsbook.incidents import list_incidents, mean

    _, estate = _load_or_exit(config)
    incidents = list_incidents(_store(estate), open_only=not all_)
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
            redact(i.description).replace("[", r"\["),
            _minutes(i.mttd),
            _minutes(i.mttr),
        )
    out.print(table)
    mttr = mean([i.mttr for i in incidents if i.mttr is not None])
    _say(
        f"{len(incidents)} incident(s); mean MTTD {_minutes(mean([i.mttd for i in incidents]))} min "
        f"(target {estate.thresholds.kpis.mttd_minutes:g}), mean MTTR {_minutes(mttr)} min "
        f"(target {estate.thresholds.kpis.mttr_minutes:g})"
    )


@alerts_app.command("list")
def alerts_list(
    state: Annotated[str | None, typer.Option(help="firing or resolved (default: both)")] = None,
    config: ConfigOption = None,
) -> None:
    """Alerts with their fingerprint (check|target), state, severity and how often they fired."""
    from opsbook.alerts import list_alerts

    if state not in (None, "firing", "resolved"):
        raise typer.BadParameter(f"{state!r}: use firing or resolved", param_hint="--state")
    _, estate = _load_or_exit(config)
    table = Table(title="alerts", title_justify="left")
    for column in ("fingerprint", "state", "severity", "count", "first seen", "message"):
        table.add_column(column, overflow="fold")
    for a in list_alerts(_store(estate), state):
        table.add_row(
            redact(a.fingerprint).replace("[", r"\["),
            a.state,
            a.severity,
            str(a.count),
            f"{a.first_seen:%Y-%m-%d %H:%M UTC}",
            redact(a.message).replace("[", r"\["),
        )
    out.print(table)


@alerts_app.command("judge")
def alerts_judge(
    fingerprint: Annotated[str, typer.Argument(help="check|target, as `opsbook alerts list` shows it")],
    real: Annotated[
        bool,
        typer.Option("--true-positive/--false-positive", help="a real problem, or noise that should not have alerted"),
    ],
    note: Annotated[str, typer.Option(help="why, for the alert noise review")] = "",
    config: ConfigOption = None,
) -> None:
    """Judge the alert's current (or last) firing: real or noise. Judging again replaces the verdict."""
    from opsbook.alerts import UnknownAlert, judge_alert

    _, estate = _load_or_exit(config)
    try:
        episode = judge_alert(_store(estate), fingerprint, true_positive=real, judged_by=getpass.getuser(), note=note)
    except UnknownAlert as error:
        err.print(f"error: {redact(str(error))}", markup=False, highlight=False)
        raise typer.Exit(EXIT_PROBLEMS) from None
    _say(
        f"{fingerprint}: firing since {episode.started:%Y-%m-%d %H:%M UTC} judged "
        f"{'a true positive' if real else 'a false positive'}"
    )


@silence_app.command("add")
def silence_add(
    duration: Annotated[str, typer.Option("--for", help="how long, e.g. 30m, 2h, 1d")],
    check: Annotated[str, typer.Option(help="check id pattern (shell style)")] = "*",
    target: Annotated[str, typer.Option(help="target pattern (shell style)")] = "*",
    reason: Annotated[str, typer.Option(help="why")] = "",
    config: ConfigOption = None,
) -> None:
    """Silence alerts whose check and target match, until the silence expires."""
    from opsbook.alerts import add_silence

    _, estate = _load_or_exit(config)
    silence = add_silence(
        _store(estate),
        check=check,
        target=target,
        duration=parse_duration(duration),
        reason=reason,
        created_by=getpass.getuser(),
    )
    _say(f"silence {silence.id}: {check} on {target} until {silence.expires_at:%Y-%m-%d %H:%M UTC}")


@silence_app.command("list")
def silence_list(
    all_: Annotated[bool, typer.Option("--all", help="include expired silences")] = False,
    config: ConfigOption = None,
) -> None:
    """Active silences (or all of them)."""
    from opsbook.alerts import list_silences

    _, estate = _load_or_exit(config)
    table = Table(title="silences", title_justify="left")
    for column in ("id", "check", "target", "expires", "by", "reason"):
        table.add_column(column, overflow="fold")
    for s in list_silences(_store(estate), include_expired=all_):
        table.add_row(
            str(s.id),
            s.check_pattern,
            s.target_pattern,
            f"{s.expires_at:%Y-%m-%d %H:%M UTC}",
            s.created_by,
            redact(s.reason).replace("[", r"\["),
        )
    out.print(table)


@silence_app.command("expire")
def silence_expire(silence_id: int, config: ConfigOption = None) -> None:
    """End a silence now."""
    from opsbook.alerts import expire_silence

    _, estate = _load_or_exit(config)
    if not expire_silence(_store(estate), silence_id):
        err.print(f"error: no active silence {silence_id}", markup=False, highlight=False)
        raise typer.Exit(EXIT_PROBLEMS)
    _say(f"silence {silence_id} expired")


@notify_app.command("test")
def notify_test(config: ConfigOption = None) -> None:
    """Send a test message to every channel; exit 1 if any delivery failed."""
    from opsbook.tasks.notify import send_test_messages

    _, estate = _load_or_exit(config)
    channels = [c.name for c in estate.notifications.channels]
    if not channels:
        err.print("no channels configured (notifications.channels)", markup=False, highlight=False)
        raise typer.Exit(EXIT_PROBLEMS)
    err.print(f"sending a test message to {len(channels)} channel(s) ...", markup=False, highlight=False)
    deliveries = asyncio.run(send_test_messages(estate))
    for d in deliveries:
        _say(
            f"{d.channel}: {'sent' if d.ok else 'FAILED'} after {d.attempts} attempt(s)"
            + (f": {d.error}" if d.error else "")
        )
    if any(not d.ok for d in deliveries):
        raise typer.Exit(EXIT_PROBLEMS)
