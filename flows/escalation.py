"""The escalation sweep, every 5 minutes: send alert groups whose window has passed, and escalate
every unacknowledged P0/P1 incident whose response time has passed."""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.asyncutils import run_coro_as_sync

from opsbook.config import EstateConfig, load_config
from opsbook.incidents import Incident
from opsbook.secrets import install_log_redaction
from opsbook.tasks.alerts import notify_alerts
from opsbook.tasks.incidents import refresh_status_page, sweep_escalations

FLOW_NAME = "escalation-sweep"


@task(name="send-due-alert-groups", cache_policy=NO_CACHE, timeout_seconds=300)
def send_due_alert_groups(config: EstateConfig) -> int:
    return len(run_coro_as_sync(notify_alerts(config)))


@task(name="escalate-unacknowledged-incidents", cache_policy=NO_CACHE, timeout_seconds=300)
def escalate_unacknowledged(config: EstateConfig) -> list[str]:
    escalated: list[Incident] = run_coro_as_sync(sweep_escalations(config))
    return [f"{i.id} -> level {i.escalation_level}" for i in escalated]


@flow(name=FLOW_NAME, description="Every 5 minutes: due alert notices, and escalation of unacknowledged P0/P1.")
def escalation_sweep(config_path: str = "opsbook.yaml") -> list[str]:
    config = load_config(config_path)
    install_log_redaction()
    logger = get_run_logger()
    sent = send_due_alert_groups(config)
    escalated = escalate_unacknowledged(config)
    if escalated:
        refresh_status_page(config)
    logger.info("%s alert message(s) sent; escalated: %s", sent, ", ".join(escalated) or "none")
    return escalated
