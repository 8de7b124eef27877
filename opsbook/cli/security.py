"""`opsbook security check|incident`: the daily security check and security incidents.

`run_security` is also `opsbook run security`; opsbook.cli registers it under both names.
"""

from __future__ import annotations

from typing import Annotated

import typer

from opsbook.cli.common import EXIT_CONFIG, EXIT_OK, EXIT_PROBLEMS, ConfigOption, err, load_or_exit, out, run_checklist
from opsbook.secrets import redact

app = typer.Typer(help="Security operations: the daily security check and security incidents.", no_args_is_help=True)


@app.command("check")
def run_security(config: ConfigOption = None) -> None:
    """Run the security health check now (exit 0 ok/warn, 1 fail/error, 2 bad config)."""
    from opsbook.flows.security import security_health_check

    file, _ = load_or_exit(config)
    raise typer.Exit(run_checklist(security_health_check, file))


@app.command("incident")
def security_incident(
    incident_type: Annotated[
        str, typer.Option("--type", help="brute_force, injection_attempt, suspicious_activity, data_breach or other")
    ],
    ip: Annotated[str | None, typer.Option("--ip", help="the source IP")] = None,
    severity: Annotated[str, typer.Option(help="critical, high, medium or low")] = "high",
    summary: Annotated[str, typer.Option(help="what was seen")] = "",
    lookback_hours: Annotated[float, typer.Option(help="evidence window")] = 24,
    apply: Annotated[bool, typer.Option("--apply", help="really change the blocklist (default: dry run)")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask before changing the blocklist")] = False,
    config: ConfigOption = None,
) -> None:
    """Run the security incident response: evidence, priority, containment (dry run by default)."""
    from pydantic import ValidationError

    from opsbook.flows.security_incident import (
        SecurityIncidentOutcome,
        SecurityIncidentParams,
        security_incident_response,
    )
    from opsbook.flows.states import outcome_of

    file, _ = load_or_exit(config)
    try:
        params = SecurityIncidentParams(
            incident_type=incident_type,
            source_ip=ip,
            severity=severity,
            summary=summary,
            lookback_hours=lookback_hours,
            dry_run=not apply,
            require_approval=False,
            config_path=str(file),
        )
    except ValidationError as error:
        for problem in error.errors(include_url=False, include_input=False):
            err.print(
                f"{'.'.join(map(str, problem['loc'])) or 'parameters'}: {problem['msg']}", markup=False, highlight=False
            )
        raise typer.Exit(EXIT_CONFIG) from None
    if apply and not yes and not typer.confirm(f"Change the blocklist for {ip}?"):
        raise typer.Exit(EXIT_PROBLEMS)  # the terminal user is the approver here
    err.print(
        f"running security-incident-response ({'apply' if apply else 'dry run'}) ...", markup=False, highlight=False
    )
    state = security_incident_response(params=params, return_state=True)
    outcome = outcome_of(state)
    if not isinstance(outcome, SecurityIncidentOutcome):
        err.print(f"error: the flow did not finish: {redact(str(outcome))}", markup=False, highlight=False)
        raise typer.Exit(EXIT_PROBLEMS)
    record = outcome.record
    out.print(
        f"{record.reference} {record.incident_type} {record.severity} (escalation level {record.escalation_level}"
        f"{', executives' if record.executive_escalation else ''}); "
        f"evidence: {record.evidence.get('events', 0)} events",
        markup=False,
        highlight=False,
    )
    for key, value in record.actions.items():
        out.print(f"  {key}: {redact(str(value))}", markup=False, highlight=False)
    for note in outcome.notes:
        err.print(f"problem: {note}", markup=False, highlight=False)
    raise typer.Exit(EXIT_PROBLEMS if state.is_failed() else EXIT_OK)
