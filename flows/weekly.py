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
from opsbook.tasks.alert_rules import ALERT_RULES, validate_alert_rules
from opsbook.tasks.analytics.alert_noise import ALERT_NOISE, review_alert_noise
from opsbook.tasks.caches import CACHE_ACTIONS, optimize_caches
from opsbook.tasks.database.maintenance import MAINTENANCE, maintain_databases
from opsbook.tasks.dependencies import DEPENDENCIES, review_dependency_updates
from opsbook.tasks.history import RETENTION, prune_history
from opsbook.tasks.logs import LOG_CLEANUP, rotate_and_clean_logs
from opsbook.tasks.monitoring import PREFECT_SERVER, check_monitoring_system
from opsbook.tasks.notify import ALERT_DELIVERY, deliver_test_alerts
from opsbook.tasks.patches import PATCHES, review_system_updates
from opsbook.tasks.security.certificates import CERTIFICATE
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
                check=PATCHES,
            ),
            Step(
                "Dependency updates",
                review_dependency_updates,
                (maintenance.dependency_reports,),
                check=DEPENDENCIES,
            ),
            Step(
                "Log rotation and cleanup",
                rotate_and_clean_logs,
                (maintenance.log_directories, config.thresholds.logs.retention_days, apply),
                check=LOG_CLEANUP,
            ),
            *when(
                config.databases,
                Step(
                    "Database maintenance",
                    maintain_databases,
                    (config.databases, apply, config.history.url),
                    check=MAINTENANCE,
                ),
            ),
            Step(
                "Cache optimisation",
                optimize_caches,
                (maintenance.cache_actions, config.http, apply),
                check=CACHE_ACTIONS,
            ),
            Step(
                "History retention",
                prune_history,
                (config.history.url, config.history.retention_days, apply),
                check=RETENTION,
            ),
            *when(
                config.security.certificates,
                Step(
                    "SSL certificates",
                    check_tls_certificates,
                    (config,),
                    check=CERTIFICATE,
                ),
            ),
            Step(
                "Monitoring system",
                check_monitoring_system,
                (config.history.url, PREFECT_YAML, maintenance.deadman_hours, config.http),
                check=PREFECT_SERVER,
            ),
            Step(
                "Alert rules",
                validate_alert_rules,
                (config.notifications,),
                check=ALERT_RULES,
            ),
            *when(
                config.notifications.channels,
                Step(
                    "Test alert to every channel",
                    deliver_test_alerts,
                    (config,),
                    check=ALERT_DELIVERY,
                ),
            ),
            Step(
                "Alert noise and thresholds, last 7 days",
                review_alert_noise,
                (config.history.url,),
                check=ALERT_NOISE,
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
