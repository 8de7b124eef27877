"""The daily checklist: the runbook's morning health check, 08:00 UTC.

Each step is a task named after the runbook's step, in the runbook's order: platform health,
database health, backup verification, security status, the application's figures (Core Web
Vitals, API performance, engagement, security dashboard, resources, real-user monitoring, the
24-hour error rate), resource utilisation, the performance review, SLOs and error budgets,
then the daily report. A step whose section the config leaves out is left out.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from opsbook.config import EstateConfig
from opsbook.flows.checklist import Step, Trend, final_state, finish_checklist, open_checklist, run_steps, when
from opsbook.reports.app_metrics import figures_tables
from opsbook.tasks.analytics.performance_review import PERFORMANCE_REVIEW, review_performance
from opsbook.tasks.analytics.slo import ERROR_BUDGET, evaluate_slos
from opsbook.tasks.app_metrics import (
    check_api_performance,
    check_app_resources,
    check_error_rate_24h,
    check_real_user_monitoring,
    check_security_dashboard,
    check_user_engagement,
    check_web_vitals,
)
from opsbook.tasks.backups.verify import VERIFY, verify_backups
from opsbook.tasks.database.checks import SIZE_CHECK
from opsbook.tasks.database.health import CONNECTION, check_database_health
from opsbook.tasks.json_api import (
    API_PERFORMANCE,
    APP_RESOURCES,
    ENGAGEMENT,
    ERROR_RATE,
    RUM,
    SECURITY_DASHBOARD,
    WEB_VITALS,
)
from opsbook.tasks.platforms import PLATFORM_HEALTH, check_platform_health
from opsbook.tasks.redis import REDIS_PING, check_redis_health
from opsbook.tasks.resources import DISK, UTILISATION, check_resource_utilisation
from opsbook.tasks.security.checks import SECURITY_STATUS, check_security_status

FLOW_NAME = "daily-checklist"


def daily_steps(config: EstateConfig, run_id: str) -> list[Step]:
    """The daily checklist's steps, in the runbook's order; the monthly audit re-runs them."""
    thresholds = config.thresholds
    app = config.metrics_sources  # the application's own JSON API: KPI review, resources, RUM
    return [
        Step(
            "Platform health",
            check_platform_health,
            (config,),
            check=PLATFORM_HEALTH,
            trends=[Trend(PLATFORM_HEALTH.id, "Health-check latency, 30 days", "ms", thresholds.http.latency_ms)],
        ),
        *when(
            config.databases,
            Step(
                "Database health",
                check_database_health,
                (config,),
                check=CONNECTION,
                trends=[Trend(SIZE_CHECK.id, "Database size, 30 days", "MB")],
            ),
        ),
        *when(
            config.redis,
            Step(
                "Redis health",
                check_redis_health,
                (config,),
                check=REDIS_PING,
                trends=[Trend(REDIS_PING.id, "Redis PING latency, 30 days", "ms")],
            ),
        ),
        *when(
            config.backups.repositories,
            Step("Backup verification", verify_backups, (config, run_id), check=VERIFY),
        ),
        *when(
            config.security.configured,
            Step("Security status", check_security_status, (config,), check=SECURITY_STATUS),
        ),
        *when(
            app,
            Step("Core Web Vitals", check_web_vitals, (config,), check=WEB_VITALS),
            Step(
                "API performance",
                check_api_performance,
                (config,),
                check=API_PERFORMANCE,
            ),
            Step("User engagement", check_user_engagement, (config,), check=ENGAGEMENT),
            Step("Security dashboard", check_security_dashboard, (config,), check=SECURITY_DASHBOARD),
            Step("Application resources", check_app_resources, (config,), check=APP_RESOURCES),
            Step("Real User Monitoring", check_real_user_monitoring, (config,), check=RUM),
            Step(
                "Error rate, last 24 h",
                check_error_rate_24h,
                (config,),
                check=ERROR_RATE,
            ),
        ),
        Step(
            "Resource utilisation",
            check_resource_utilisation,
            (config,),
            check=UTILISATION,
            trends=[Trend(DISK.id, "Disk usage, 30 days", "%", thresholds.resources.disk_pct)],
        ),
        *when(
            config.analytics.performance.series,
            Step("Performance review", review_performance, (config,), check=PERFORMANCE_REVIEW),
        ),
        *when(
            config.analytics.slos,
            Step("SLOs and error budgets", evaluate_slos, (config,), check=ERROR_BUDGET),
        ),
    ]


@flow(name=FLOW_NAME, description="The runbook's daily morning health check (08:00 UTC).")
def daily_checklist(config_path: str = "opsbook.yaml") -> State:
    config, run_id, started_at = open_checklist(config_path)
    sections = run_steps(daily_steps(config, run_id), config)
    for section in sections:
        section.tables.extend(figures_tables(section.results))

    outcome = finish_checklist(
        config=config,
        flow=FLOW_NAME,
        title="Daily health check",
        kind="daily",
        artifact_key="daily-report",
        run_id=run_id,
        started_at=started_at,
        sections=sections,
    )
    return final_state(outcome)
