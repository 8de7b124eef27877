"""The runbook's security incident response, ad hoc, from the Prefect UI or the CLI.

Evidence first (the source IP's timeline from the logs), then the priority and escalation (a
data breach is P0 with executive escalation), then containment: for a brute force, the IP is
added to the configured nginx blocklist, only when not a dry run and, by default, only after a
human approves it in the Prefect UI. Every run is recorded in the history.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run
from prefect.states import Completed, State
from pydantic import BaseModel, Field, IPvAnyAddress, model_validator

from opsbook.config import config_path_field, load_config
from opsbook.escaping import markdown_code, markdown_text
from opsbook.flows.states import incomplete
from opsbook.results import describe_exception, utcnow
from opsbook.secrets import install_log_redaction, redact
from opsbook.tasks.security.incident import (
    SecurityIncidentRecord,
    apply_block,
    gather_ip_timeline,
    open_general_incident,
    plan_block,
    priority_of,
    record_security_incident,
)

FLOW_NAME = "security-incident-response"
ARTIFACT_KEY = "security-incident"


class IncidentType(enum.StrEnum):
    BRUTE_FORCE = "brute_force"
    INJECTION_ATTEMPT = "injection_attempt"
    SUSPICIOUS_ACTIVITY = "suspicious_activity"
    DATA_BREACH = "data_breach"
    OTHER = "other"


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class SecurityIncidentParams(BaseModel):
    """The Run form of the security incident runbook."""

    incident_type: IncidentType = Field(description="what happened")
    severity: Severity = Field(
        Severity.HIGH, description="critical=P0, high=P1, medium=P2, low=P3 (a data breach is always P0)"
    )
    source_ip: IPvAnyAddress | None = Field(
        None, description="the attacking address; required for brute force and injection"
    )
    lookback_hours: float = Field(24, gt=0, le=24 * 30, description="how far back the evidence timeline reaches")
    summary: str = Field("", max_length=2000, description="what the reporter saw, in a sentence or two")
    dry_run: bool = Field(True, description="describe the containment without changing anything")
    require_approval: bool = Field(True, description="pause for a human approval in the Prefect UI before blocking")
    approval_timeout_s: int = Field(3600, ge=10, le=86_400, description="how long to wait for the approval")
    config_path: str = config_path_field(min_length=1)

    @model_validator(mode="after")
    def _ip_when_needed(self) -> SecurityIncidentParams:
        needs_ip = (IncidentType.BRUTE_FORCE, IncidentType.INJECTION_ATTEMPT)
        if self.incident_type in needs_ip and self.source_ip is None:
            raise ValueError(f"source_ip is required for {self.incident_type.value}")
        return self


class BlockApproval(RunInput):
    """What the approver answers in the Prefect UI."""

    approve: bool = Field(False, description="add the IP to the blocklist")
    approver: str = Field("", max_length=200, description="who approved")


@dataclass
class SecurityIncidentOutcome:
    record: SecurityIncidentRecord
    notes: list[str]


def _reference(opened_at: Any) -> str:
    return f"SEC-{opened_at:%Y%m%d-%H%M%S}"


def _contain(params: SecurityIncidentParams, blocklist: Any, reason: str) -> tuple[dict[str, Any], bool]:
    """The brute-force containment: plan the block; apply it only when allowed and approved."""
    if blocklist is None:
        return {"block": "no security.blocklist configured: block the IP at the edge by hand"}, False
    plan = plan_block(blocklist, str(params.source_ip))
    if plan.already_blocked or params.dry_run:
        return {"block": plan.describe() + (" (dry run)" if params.dry_run and not plan.already_blocked else "")}, False
    if params.require_approval:
        answer = pause_flow_run(wait_for_input=BlockApproval, timeout=params.approval_timeout_s, key="block-approval")
        if not answer.approve:
            return {"block": f"not approved: {plan.describe()}", "approver": answer.approver}, False
        reason += f" (approved by {answer.approver or 'unnamed approver'})"
    apply_block(plan, reason)
    return {"block": plan.describe(), "reload": "reload nginx (`nginx -t && nginx -s reload`) to enforce"}, True


@task(name="record-security-incident", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def store_security_incident(history_url: str, record: SecurityIncidentRecord) -> None:
    record_security_incident(history_url, record)


def _markdown(record: SecurityIncidentRecord, notes: list[str]) -> str:
    """The incident's artifact; log lines, IPs and error text are the attacker's words, so all escaped."""

    def text(value: object) -> str:
        return markdown_text(redact(str(value)))  # redacted first: the escaped form would hide a secret

    lines = [
        f"# {text(record.reference)}: {text(record.incident_type)} ({text(record.severity)})",
        "",
        f"Source IP: {markdown_code(redact(record.source_ip or 'n/a'))} · escalation level {record.escalation_level}"
        + (" · **executive escalation**" if record.executive_escalation else ""),
        f"Evidence: {text(record.evidence.get('events', 0))} events"
        + (
            f" from {text(record.evidence['first'])} to {text(record.evidence['last'])}"
            if record.evidence.get("first")
            else ""
        ),
        "",
        "## Actions",
        "",
    ]
    lines += [f"- {text(key)}: {text(value)}" for key, value in record.actions.items()]
    if record.evidence.get("timeline"):
        lines += ["", "## Timeline (first events)", "", "| time | source | kind | detail |", "|---|---|---|---|"]
        lines += [f"| {' | '.join(text(cell) for cell in row)} |" for row in record.evidence["timeline"][:20]]
    lines += [f"- problem: {text(n)}" for n in notes]
    return redact("\n".join(lines))


@flow(name=FLOW_NAME, description="The runbook's security incident response (dry run by default).")
def security_incident_response(params: SecurityIncidentParams) -> State:
    logger = get_run_logger()
    config = load_config(params.config_path)
    install_log_redaction()
    opened_at = utcnow()
    run_id = flow_run.get_id() or str(uuid.uuid4())
    priority, level, executive = priority_of(params.incident_type.value, params.severity.value)
    ip = str(params.source_ip) if params.source_ip else None
    notes: list[str] = []

    evidence: dict[str, Any] = {"events": 0}
    if ip:
        evidence = gather_ip_timeline(config, ip, opened_at - timedelta(hours=params.lookback_hours), opened_at)
    actions: dict[str, Any] = {"escalate": f"level {level}" + (": notify executives now" if executive else "")}
    reason = f"{_reference(opened_at)} {params.incident_type.value} {params.summary}".strip()
    blocked = False
    if params.incident_type is IncidentType.BRUTE_FORCE:
        try:
            contained, blocked = _contain(params, config.security.blocklist, reason)
            actions |= contained
        except Exception as error:
            notes.append(f"blocklist not changed: {describe_exception(error)}")
            actions["block"] = notes[-1]
    elif params.incident_type is IncidentType.INJECTION_ATTEMPT:
        actions["review"] = "review the timeline's requests; patch or add a WAF rule for the targeted path"
    elif params.incident_type is IncidentType.DATA_BREACH:
        actions["breach"] = "preserve evidence, contain access, start the breach-notification clock"

    record = SecurityIncidentRecord(
        id=run_id,
        reference=_reference(opened_at),
        opened_at=opened_at,
        incident_type=params.incident_type.value,
        severity=priority,
        source_ip=ip,
        escalation_level=level,
        executive_escalation=executive,
        evidence=evidence,
        actions=actions,
        dry_run=params.dry_run,
        blocked=blocked,
        summary=params.summary,
    )
    try:
        record.incident_ref = open_general_incident(config.history.url, record)
    except Exception as error:
        notes.append(f"incident not opened: {describe_exception(error)}")
    try:
        store_security_incident(config.history.url, record)
    except Exception as error:
        notes.append(f"history store not written: {describe_exception(error)}")
    create_markdown_artifact(
        key=ARTIFACT_KEY,
        markdown=_markdown(record, notes),
        description=f"{record.reference} {record.incident_type} {priority}",
    )
    logger.info("%s %s %s: %s", record.reference, record.incident_type, priority, "; ".join(map(str, actions.values())))
    for note in notes:
        logger.error(note)
    outcome = SecurityIncidentOutcome(record, notes)
    if notes:
        return incomplete("; ".join(notes), outcome)
    return Completed(
        message=f"{record.reference} {priority}: {actions.get('block', actions['escalate'])}", data=outcome
    )
