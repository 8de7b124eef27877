"""The monthly audit, the 1st of the month at 03:00 UTC, in the runbook's order.

1. comprehensive health audit (every daily check re-run), 2. performance review, 3. security
review, 4. capacity planning update, 5. disaster recovery test (a drill: scratch restore, no
switch-over), 6. documentation (runbook coverage), 7. cost review, then the Operational
Excellence KPIs against the runbook's targets and the monthly report.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from opsbook.flows.checklist import Step, final_state, finish_checklist, open_checklist, run_steps, when
from opsbook.flows.daily import daily_steps
from opsbook.reports import Section, Table
from opsbook.tasks.analytics.capacity import CAPACITY_PROJECTION, update_capacity_plan
from opsbook.tasks.analytics.kpis import UPTIME, review_operational_kpis
from opsbook.tasks.analytics.performance_review import PERFORMANCE_REVIEW, review_performance
from opsbook.tasks.cost.review import MONTH_TOTAL, review_costs
from opsbook.tasks.coverage import RUNBOOK_COVERAGE, check_runbook_coverage
from opsbook.tasks.disaster_recovery import DR_RESTORE, drill_disaster_recovery
from opsbook.tasks.security.checks import SECURITY_STATUS, check_security_status

FLOW_NAME = "monthly-audit"
REVIEWS = (review_performance, check_security_status)  # their own monthly steps, not part of the audit


@flow(name=FLOW_NAME, description="The runbook's monthly maintenance: audit, reviews, DR drill, coverage, KPIs.")
def monthly_audit(config_path: str = "opsbook.yaml") -> State:
    config, run_id, started_at = open_checklist(config_path)
    audit = [step for step in daily_steps(config, run_id) if step.task not in REVIEWS]

    sections = run_steps(
        [
            *audit,
            *when(
                config.analytics.performance.series,
                Step(
                    "Performance review",
                    review_performance,
                    (config,),
                    check=PERFORMANCE_REVIEW,
                ),
            ),
            *when(
                config.security.configured,
                Step("Security review", check_security_status, (config,), check=SECURITY_STATUS),
            ),
            *when(
                config.analytics.capacity.resources,
                Step(
                    "Capacity planning update",
                    update_capacity_plan,
                    (config,),
                    check=CAPACITY_PROJECTION,
                ),
            ),
            *when(
                config.backups.disaster_recovery.targets,
                Step(
                    "Disaster recovery test (drill)",
                    drill_disaster_recovery,
                    (config, run_id),
                    check=DR_RESTORE,
                ),
            ),
            Step(
                "Runbook coverage",
                check_runbook_coverage,
                (config.maintenance.runbook_path,),
                check=RUNBOOK_COVERAGE,
            ),
            *when(
                config.costs.exports,
                Step(
                    "Cost review",
                    review_costs,
                    (config.costs, config.history.url),
                    check=MONTH_TOTAL,
                ),
            ),
            Step(
                "Operational KPIs, last 30 days",
                review_operational_kpis,
                (config.history.url, config.thresholds.kpis),
                check=UPTIME,
            ),
        ],
        config,
    )
    _list_coverage_gaps(sections)

    outcome = finish_checklist(
        config=config,
        flow=FLOW_NAME,
        title="Monthly audit",
        kind="monthly",
        artifact_key="monthly-report",
        run_id=run_id,
        started_at=started_at,
        sections=sections,
    )
    return final_state(outcome)


def _list_coverage_gaps(sections: list[Section]) -> None:
    """Under the runbook coverage step, the steps served only in part and those not served, each
    with its reason (from the result's details), so the report names what is left to people."""
    for section in sections:
        for result in section.results:
            if result.check != RUNBOOK_COVERAGE.id:
                continue
            rows: list[list[object]] = [
                [*reason.split(": ", 1), level]
                for level in ("partial", "uncovered")
                for reason in result.details.get(level, [])
            ]
            if rows:
                section.tables.append(
                    Table("Runbook steps not fully automated", ["step", "what is missing", "level"], rows)
                )
