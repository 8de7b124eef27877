"""The daily checklist: the runbook's morning health check, 08:00 UTC.

Each step is a task named after the runbook's step. Later runbooks add their steps here in the
runbook's order: platform health, database health, security status, performance metrics,
error rate, and the daily report.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from flows.checklist import Step, Trend, final_state, finish_checklist, open_checklist, run_steps, when
from tasks.database.health import check_database_health
from tasks.platforms import check_platform_health
from tasks.resources import check_resource_utilisation
from tasks.security.checks import check_security_status

FLOW_NAME = "daily-checklist"


@flow(name=FLOW_NAME, description="The runbook's daily morning health check (08:00 UTC).")
def daily_checklist(config_path: str = "opsbook.yaml") -> State:
    config, run_id, started_at = open_checklist(config_path)
    thresholds = config.thresholds

    sections = run_steps([
        Step("Platform health", check_platform_health, (config,), check="platform.health", component="platforms",
             trends=[Trend("platform.health", "Health-check latency, 30 days", "ms", thresholds.http.latency_ms)]),
        *when(config.databases, Step("Database health", check_database_health, (config,), check="database.connection",
                                     component="database",
                                     trends=[Trend("database.size", "Database size, 30 days", "MB")])),
        *when(config.security.configured, Step("Security status", check_security_status, (config,),
                                               check="security.status", component="security")),
        Step("Resource utilisation", check_resource_utilisation, (config,), check="resource.utilisation",
             component="resources",
             trends=[Trend("resource.disk", "Disk usage, 30 days", "%", thresholds.resources.disk_pct)]),
    ], config)

    outcome = finish_checklist(config=config, flow=FLOW_NAME, title="Daily health check", kind="daily",
                               artifact_key="daily-report", run_id=run_id, started_at=started_at,
                               sections=sections)
    return final_state(outcome)
