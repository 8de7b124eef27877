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
from opsbook.tasks.analytics.performance_review import review_performance
from opsbook.tasks.analytics.slo import evaluate_slos
from opsbook.tasks.app_metrics import (
    check_api_performance,
    check_app_resources,
    check_error_rate_24h,
    check_real_user_monitoring,
    check_security_dashboard,
    check_user_engagement,
    check_web_vitals,
)
from opsbook.tasks.backups.verify import verify_backups
from opsbook.tasks.database.health import check_database_health
from opsbook.tasks.platforms import check_platform_health
from opsbook.tasks.resources import check_resource_utilisation
from opsbook.tasks.security.checks import check_security_status

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
            check="platform.health",
            component="platforms",
            trends=[Trend("platform.health", "Health-check latency, 30 days", "ms", thresholds.http.latency_ms)],
        ),
        *when(
            config.databases,
            Step(
                "Database health",
                check_database_health,
                (config,),
                check="database.connection",
                component="database",
                trends=[Trend("database.size", "Database size, 30 days", "MB")],
            ),
        ),
        *when(
            config.backups.repositories,
            Step("Backup verification", verify_backups, (config, run_id), check="backup.verify", component="backups"),
        ),
        *when(
            config.security.configured,
            Step("Security status", check_security_status, (config,), check="security.status", component="security"),
        ),
        *when(
            app,
            Step("Core Web Vitals", check_web_vitals, (config,), check="app.web_vitals", component="application"),
            Step(
                "API performance",
                check_api_performance,
                (config,),
                check="app.api_performance",
                component="application",
            ),
            Step("User engagement", check_user_engagement, (config,), check="app.engagement", component="application"),
            Step(
                "Security dashboard", check_security_dashboard, (config,), check="app.security", component="application"
            ),
            Step(
                "Application resources", check_app_resources, (config,), check="app.resources", component="application"
            ),
            Step(
                "Real User Monitoring", check_real_user_monitoring, (config,), check="app.rum", component="application"
            ),
            Step(
                "Error rate, last 24 h",
                check_error_rate_24h,
                (config,),
                check="app.error_rate",
                component="application",
            ),
        ),
        Step(
            "Resource utilisation",
            check_resource_utilisation,
            (config,),
            check="resource.utilisation",
            component="resources",
            trends=[Trend("resource.disk", "Disk usage, 30 days", "%", thresholds.resources.disk_pct)],
        ),
        *when(
            config.analytics.performance.series,
            Step(
                "Performance review", review_performance, (config,), check="performance.review", component="performance"
            ),
        ),
        *when(
            config.analytics.slos,
            Step("SLOs and error budgets", evaluate_slos, (config,), check="slo.error_budget", component="slo"),
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
