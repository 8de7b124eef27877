"""The runbook's Disaster Recovery Activation, and the monthly DR drill.

Assess the scope, notify, restore the newest verified backup into the DR target, validate it,
switch over (each DNS/traffic action waits for a human approval in the Prefect UI), communicate,
and record the RTO and RPO achieved. `drill=True` (the default) restores into a scratch copy
beside the target and never runs a switch-over action: it is the monthly DR test, and its
record (kind `dr-drill`) feeds the monthly report.

Both communication phases (the runbook's "notify the DR team" and "communicate DR status")
are sent to the default notification channels (every channel when none is named) and recorded
as `dr.communicate` steps of the DR record and report: a failed delivery fails its step; with
no channel configured the step is recorded only (skipped).
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, Literal, ParamSpec, TypeVar, cast

from prefect import Task, flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.states import Running, State
from pydantic import BaseModel, Field

from opsbook.config import config_path_field
from opsbook.flows.checklist import final_state, finish_checklist, open_checklist
from opsbook.reports import Section
from opsbook.results import CheckResult, Status, judge, utcnow
from opsbook.tasks.disaster_recovery import (
    DR_RPO,
    DR_RTO,
    SWITCH_OVER,
    assess_components,
    communicate_dr,
    record_dr_run,
    restore_for_dr,
    rpo_seconds,
    run_switch_over,
)

FLOW_NAME = "disaster-recovery"
P = ParamSpec("P")
R = TypeVar("R")


class DisasterRecoveryParams(BaseModel):
    """The Prefect UI's Run form: validated, every field described."""

    config_path: str = config_path_field(min_length=1, max_length=500)
    scenario: Literal[
        "database-loss", "data-corruption", "region-outage", "platform-outage", "security-breach", "drill"
    ] = Field("drill", description="what happened (recorded, shown on the report)")
    target: str = Field(min_length=1, max_length=100, description="DR target name in backups.disaster_recovery")
    drill: bool = Field(True, description="restore into a scratch copy and run no switch-over action")
    estimated_downtime_minutes: int = Field(60, ge=0, le=10080, description="announced in communications")
    approval_timeout_s: int | None = Field(
        None, ge=10, le=86400, description="override disaster_recovery.approval_timeout_s"
    )


class Approval(RunInput):
    """What an approver enters in the Prefect UI before a switch-over action runs."""

    approve: bool = Field(False, description="run this action now")
    approver: str = Field("", max_length=100, description="who approves")
    note: str = Field("", max_length=500)


def _completed(task: Task[P, Coroutine[Any, Any, R]], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run an async task from this synchronous flow and wait for it: its awaited value (Prefect's
    types give `.result()` the coroutine's type)."""
    return cast(R, task.submit(*args, **kwargs).result())


def _running_again(run_id: str) -> None:
    """After a pause nobody answered, put the run back to Running.

    Prefect leaves it Paused with an expired timeout, and at the end the server would replace the
    flow's own final state with "never resumed", losing the outcome of everything that ran after.
    """
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(
            run_id, Running(message="approval timed out; continuing without the action"), force=True
        )


@flow(name=FLOW_NAME, description="Disaster Recovery Activation (drill=True: the monthly DR test).")
def disaster_recovery(params: DisasterRecoveryParams) -> State:
    config, run_id, started_at = open_checklist(params.config_path)
    logger = get_run_logger()
    dr = config.backups.disaster_recovery
    target = next((t for t in dr.targets if t.name == params.target), None)
    if target is None:
        known = ", ".join(t.name for t in dr.targets) or "none configured"
        raise ValueError(f"unknown DR target {params.target!r} (known: {known})")
    mode = "drill" if params.drill else "activation"
    logger.info("disaster recovery %s: scenario %s, target %s", mode, params.scenario, target.name)

    assessed = _completed(assess_components, config, target)
    notified = _completed(
        communicate_dr,
        config,
        dr.communication,
        "notify",
        params.scenario,
        params.drill,
        params.target,
        params.estimated_downtime_minutes,
    )
    restored, record = _completed(restore_for_dr, config, target, params.drill)
    restore_ok = not any(r.status.is_problem for r in restored)

    actions: list[CheckResult] = []
    for action in dr.switch_over:
        check = SWITCH_OVER.instance(action.name)
        if params.drill:
            actions.append(
                check.result(action.name, Status.SKIPPED, message="drill: not run (would wait for approval)")
            )
        elif not restore_ok:
            actions.append(check.result(action.name, Status.SKIPPED, message="not offered: the restore did not pass"))
        else:
            logger.info("waiting for approval of switch-over action %s", action.name)
            wait_s = params.approval_timeout_s or dr.approval_timeout_s
            try:
                approval = pause_flow_run(
                    wait_for_input=Approval, key=f"approve-{action.name}", timeout=wait_s, poll_interval=2
                )
            except Exception as error:
                actions.append(
                    check.result(
                        action.name,
                        Status.FAIL,
                        message=f"not run: no approval within {wait_s} s ({type(error).__name__})",
                    )
                )
                _running_again(run_id)
                continue
            if not approval.approve:
                actions.append(
                    check.result(
                        action.name,
                        Status.SKIPPED,
                        message=f"rejected by {approval.approver or 'unknown'}: {approval.note}".rstrip(": "),
                    )
                )
                continue
            payload = {"scenario": params.scenario, "target": target.name, "action": action.name, "run_id": run_id}
            actions.append(_completed(run_switch_over, config, action, payload, approval.approver))

    finished = utcnow()
    rto = (finished - started_at).total_seconds()
    rpo = rpo_seconds(started_at, record.get("newest"), record.get("taken_at"))
    status, threshold = judge(
        rto,
        config.backups.restore_server.rto_s.warn if config.backups.restore_server else None,
        config.backups.restore_server.rto_s.fail if config.backups.restore_server else None,
    )
    measured = [
        DR_RTO.result(
            target.name,
            status if restore_ok else Status.FAIL,
            message=f"{mode} took {rto / 60:.1f} min from activation to "
            + ("validated restore" if params.drill else "switch-over"),
            value=round(rto, 1),
            unit="s",
            threshold=threshold,
        )
    ]
    if rpo is None:
        measured.append(DR_RPO.result(target.name, Status.ERROR, message="no backup restored: RPO unknown"))
    else:
        repo = config.backups.repository(target.repository)
        status, threshold = judge(rpo, repo.rpo_s.warn, repo.rpo_s.fail)
        measured.append(
            DR_RPO.result(
                target.name,
                status,
                message=f"achieved RPO {rpo / 3600:.2f} h of data lost",
                value=round(rpo, 1),
                unit="s",
                threshold=threshold,
            )
        )
    closing = _completed(
        communicate_dr,
        config,
        dr.communication,
        "status",
        params.scenario,
        params.drill,
        params.target,
        params.estimated_downtime_minutes,
    )

    sections = [
        Section("Assessment", assessed),
        Section("Notify", notified),
        Section("Restore and validate", restored),
        Section(
            "Switch-over",
            actions or [SWITCH_OVER.result("(none)", Status.SKIPPED, message="no switch-over actions configured")],
        ),
        Section("RTO and RPO achieved", measured),
        Section("Communicate", closing),
    ]
    if problem := record_dr_run(
        config,
        drill=params.drill,
        run_id=run_id,
        target=target,
        record=record,
        results=restored,
        rpo=rpo,
        finished=finished,
    ):
        measured.append(problem)
    outcome = finish_checklist(
        config=config,
        flow=FLOW_NAME,
        kind="disaster_recovery",
        title=f"Disaster recovery {mode}: {params.scenario} -> {target.name}",
        artifact_key="disaster-recovery-report",
        run_id=run_id,
        started_at=started_at,
        sections=sections,
    )
    return final_state(outcome)
