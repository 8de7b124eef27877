"""The weekly maintenance checklist, run in the maintenance window (default Sunday 02:00 UTC).

In the runbook's order: system updates and security patches, dependency updates, log rotation
and cleanup, database maintenance, cache actions, the history's retention, SSL certificates,
then the monitoring-system check (the Prefect server, the schedules prefect.yaml declares and
the dead-man's switch; alert rules, a test alert to every channel, alert noise and thresholds)
and the weekly report. Steps that change things (logs, databases, caches, the history) only
report what they would do unless `apply` is set.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from opsbook.flows.checklist import Step, final_state, finish_checklist, open_checklist, run_steps, when
from opsbook.starter import PREFECT_YAML
from opsbook.tasks.alert_rules import validate_alert_rules
from opsbook.tasks.analytics.alert_noise import review_alert_noise
from opsbook.tasks.caches import optimize_caches
from opsbook.tasks.database.maintenance import maintain_databases
from opsbook.tasks.dependencies import review_dependency_updates
from opsbook.tasks.history import prune_history
from opsbook.tasks.logs import rotate_and_clean_logs
from opsbook.tasks.monitoring import check_monitoring_system
from opsbook.tasks.notify import deliver_test_alerts
from opsbook.tasks.patches import review_system_updates
from opsbook.tasks.security.checks import check_tls_certificates

FLOW_NAME = "weekly-maintenance"


@flow(name=FLOW_NAME, description="The runbook's weekly maintenance routine, in the maintenance window.")
def weekly_maintenance(config_path: str = "opsbook.yaml", apply: bool = False) -> State:
    config, run_id, started_at = open_checklist(config_path)
    maintenance = config.maintenance

    sections = run_steps(
        [
            Step(
                "System updates and security patches",
                review_system_updates,
                (maintenance.patch_reports, maintenance.check_local_patches),
                check="maintenance.patches",
            ),
            Step(
                "Dependency updates",
                review_dependency_updates,
                (maintenance.dependency_reports,),
                check="maintenance.dependencies",
            ),
            Step(
                "Log rotation and cleanup",
                rotate_and_clean_logs,
                (maintenance.log_directories, config.thresholds.logs.retention_days, apply),
                check="maintenance.logs",
            ),
            *when(
                config.databases,
                Step(
                    "Database maintenance",
                    maintain_databases,
                    (config.databases, apply, config.history.url),
                    check="database.maintenance",
                    component="database",
                ),
            ),
            Step(
                "Cache optimisation",
                optimize_caches,
                (maintenance.cache_actions, config.http, apply),
                check="maintenance.cache",
            ),
            Step(
                "History retention",
                prune_history,
                (config.history.url, config.history.retention_days, apply),
                check="history.retention",
                component="monitoring",
            ),
            *when(
                config.security.certificates,
                Step(
                    "SSL certificates",
                    check_tls_certificates,
                    (config,),
                    check="security.certificate",
                    component="security",
                ),
            ),
            Step(
                "Monitoring system",
                check_monitoring_system,
                (config.history.url, PREFECT_YAML, maintenance.deadman_hours, config.http),
                check="monitoring",
                component="monitoring",
            ),
            Step(
                "Alert rules",
                validate_alert_rules,
                (config.notifications,),
                check="alerts.rules",
                component="monitoring",
            ),
            *when(
                config.notifications.channels,
                Step(
                    "Test alert to every channel",
                    deliver_test_alerts,
                    (config,),
                    check="alerts.delivery",
                    component="monitoring",
                ),
            ),
            Step(
                "Alert noise and thresholds, last 7 days",
                review_alert_noise,
                (config.history.url,),
                check="alerts.noise",
                component="monitoring",
            ),
        ]
    )

    outcome = finish_checklist(
        config=config,
        flow=FLOW_NAME,
        title="Weekly maintenance",
        kind="weekly",
        artifact_key="weekly-report",
        run_id=run_id,
        started_at=started_at,
        sections=sections,
    )
    return final_state(outcome)
