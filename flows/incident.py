"""The runbook's incident response, ad hoc: open the record, then the severity's steps.

P0 (critical): assess with the platform health checks, evaluate the rollback rule and run the
rollback action only after a human approves it (the run pauses and waits for input in the
Prefect UI), check the disaster-recovery trigger, update the status page, notify stakeholders.
P1: assess and notify the technical team. P2 and P3: record and notify per the routes.
"""

from __future__ import annotations

from typing import Literal

from prefect import flow, get_run_logger
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.states import Completed, State
from prefect.utilities.asyncutils import run_coro_as_sync
from pydantic import BaseModel, Field

from opsbook.config import config_path_field, load_config
from opsbook.incidents import add_event, get_incident, open_incident
from opsbook.results import CheckResult
from opsbook.secrets import install_log_redaction
from opsbook.store import open_store
from opsbook.tasks.incidents import announce, refresh_status_page
from opsbook.tasks.notify import Delivery
from opsbook.tasks.platforms import check_platform_health
from opsbook.tasks.response import disaster_recovery_needed, evaluate_rollback, run_rollback

FLOW_NAME = "incident-response"


class IncidentRequest(BaseModel):
    """What the on-call engineer knows when opening an incident."""

    severity: Literal["P0", "P1", "P2", "P3"] = Field(
        description="P0 outage/data loss, P1 major degradation, P2 minor issues, P3 cosmetic"
    )
    description: str = Field(min_length=3, max_length=500, description="what is wrong, in one line")
    component: str = Field("application", min_length=1, max_length=100, description="the affected component")
    impact: str = Field("", max_length=500, description="who or what is affected")
    minutes_ago: float = Field(0, ge=0, le=10080, description="the problem began this long ago (for MTTD)")
    config_path: str = config_path_field(min_length=1)
    dry_run: bool = Field(True, description="print the rollback action instead of running it")


class RollbackApproval(RunInput):
    """The human decision the paused run waits for."""

    approve: bool = Field(False, description="run the rollback action now")
    approver: str = Field("", max_length=100, description="who decided")
    note: str = Field("", max_length=500)


@flow(name=FLOW_NAME, description="The runbook's incident response: record, assess, approve rollback, notify.")
def incident_response(request: IncidentRequest) -> State:
    from datetime import timedelta

    from opsbook.results import utcnow

    logger = get_run_logger()
    config = load_config(request.config_path)
    install_log_redaction()
    store = open_store(config.history.url)
    now = utcnow()
    incident = open_incident(
        store,
        severity=request.severity,
        description=request.description,
        component=request.component,
        impact=request.impact,
        commander=config.escalation.commander,
        started_at=now - timedelta(minutes=request.minutes_ago),
        business_impact=config.incidents.business_impact,
        actor="incident-response",
        now=now,
    )
    logger.info("%s opened (%s), escalation level %s", incident.id, incident.severity, incident.escalation_level)

    def note(message: str, kind: str = "action") -> None:
        add_event(store, incident.id, message, kind=kind, actor="incident-response")
        logger.info("%s: %s", incident.id, message)

    actions: list[str] = []
    if request.severity in ("P0", "P1"):
        results: list[CheckResult] = run_coro_as_sync(check_platform_health(config))
        down = [r.target for r in results if r.status.is_problem]
        note(
            f"platform health: {len(results) - len(down)} of {len(results)} up"
            + (f"; down: {', '.join(down)}" if down else "")
        )
        actions.append("system health assessment")
        if request.severity == "P0":
            actions += _critical_steps(config, incident.id, request.dry_run, results, note)
    refresh_status_page(config)
    current = get_incident(store, incident.id)
    deliveries: list[Delivery] = run_coro_as_sync(
        announce(config, current, "initial", current_actions=", ".join(actions) or "standard response")
    )
    failed = [d.channel for d in deliveries if not d.ok]
    note(
        f"stakeholders notified on {len(deliveries) - len(failed)} channel(s)"
        + (f"; failed: {', '.join(failed)}" if failed else ""),
        kind="notified",
    )
    return Completed(message=f"{incident.id} opened ({request.severity})", data=incident.id)


def _critical_steps(config, incident_id: str, dry_run: bool, platforms, note) -> list[str]:
    """Rollback (with approval) and the disaster-recovery trigger, each recorded on the timeline."""
    actions = []
    decision = evaluate_rollback(config)
    note(f"rollback evaluation: {decision.reason}")
    actions.append("rollback evaluation")
    if decision.recommended:
        note("waiting for approval of the rollback in the Prefect UI", kind="approval")
        try:
            answer = pause_flow_run(
                wait_for_input=RollbackApproval,
                timeout=config.incidents.approval_timeout_s,
                poll_interval=config.incidents.approval_poll_s,
            )
        except Exception as error:
            answer = RollbackApproval(approve=False, note=f"no answer: {type(error).__name__}")
        who = answer.approver or "someone"
        if answer.approve:
            note(f"rollback approved by {who}" + (f" ({answer.note})" if answer.note else ""), kind="approval")
            note(run_rollback(config, dry_run))
            actions.append("rollback")
        else:
            note(
                f"rollback rejected by {who}" + (f" ({answer.note})" if answer.note else "") + "; nothing run",
                kind="approval",
            )
    dr = disaster_recovery_needed(platforms)
    note(f"disaster recovery check: {dr.reason}")
    return actions
