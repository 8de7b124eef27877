"""The daily checklist: the runbook's morning health check, 08:00 UTC.

Each step is a task named after the runbook's step. Later runbooks add their steps here in the
runbook's order: platform health, database health, security status, performance metrics,
error rate, and the daily report.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from flows.checklist import Step, final_state, finish_checklist, open_checklist, run_steps, trend_chart
from tasks.backups.verify import verify_backups
from tasks.platforms import check_platform_health

FLOW_NAME = "daily-checklist"


@flow(name=FLOW_NAME, description="The runbook's daily morning health check (08:00 UTC).")
def daily_checklist(config_path: str = "opsbook.yaml") -> State:
    config, run_id, started_at = open_checklist(config_path)

    platforms, *_ = sections = run_steps([
        Step("Platform health", check_platform_health, (config,), check="platform.health", component="platforms"),
        # Runbook database step 6; shown only when backup repositories are configured.
        *([Step("Backup verification", verify_backups, (config, run_id), check="backup.verify",
                component="backups")] if config.backups.repositories else []),
    ])
    platforms.charts.append(trend_chart(config, platforms.results, "platform.health", "Health-check latency, 30 days",
                                        "ms", config.thresholds.http.latency_ms))

    outcome = finish_checklist(config=config, flow=FLOW_NAME, title="Daily health check", kind="daily",
                               artifact_key="daily-report", run_id=run_id, started_at=started_at,
                               sections=sections)
    return final_state(outcome)
