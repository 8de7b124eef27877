"""Capacity planning (weekly, refreshed monthly): trends, projections and scaling advice.

Reads each configured resource's hourly series from the history, projects it 90 days ahead and
publishes the `capacity-trends` table artifact beside the HTML report.
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import State

from opsbook.escaping import markdown_cells
from opsbook.flows.checklist import final_state, finish_checklist, open_checklist
from opsbook.reports import Section, Table
from opsbook.results import CheckResult
from opsbook.secrets import redact
from opsbook.tasks.analytics.capacity import (
    CAPACITY_PROJECTION,
    capacity_chart,
    finding_result,
    plan_capacity,
    trend_row,
)

FLOW_NAME = "capacity-planning"
TREND_COLUMNS = [
    "resource",
    "level",
    "growth_pct_per_month",
    "model",
    "projected",
    "projected_low",
    "projected_high",
    "days_to_warn",
    "days_to_critical",
    "recommendation",
    "extra_monthly_cost",
]


@task(name="publish-capacity-trends", cache_policy=NO_CACHE, timeout_seconds=60)
def publish_capacity_trends(rows: list[dict[str, object]]) -> None:
    """The table capacity planners read in the Prefect UI; a stable key keeps its history."""
    create_table_artifact(
        key="capacity-trends",
        table=[markdown_cells(redact(row)) for row in rows],  # the UI renders string cells as markdown
        description="Growth per month, 90-day projection and days to thresholds",
    )


@flow(name=FLOW_NAME, description="Capacity planning: 30-day trends, 90-day projections, scaling and cost.")
def capacity_planning(config_path: str = "opsbook.yaml", now: datetime | None = None) -> State:
    config, run_id, started_at = open_checklist(config_path)
    settings = config.analytics.capacity
    findings = plan_capacity(config, now)
    results: list[CheckResult] = [finding_result(f, settings) for f in findings] or [
        CAPACITY_PROJECTION.skipped("no resources configured under analytics.capacity.resources")
    ]
    rows = [trend_row(f) for f in findings]
    section = Section(
        "Capacity planning",
        results,
        intro=(
            f"Trend over {settings.trend_days} days (Theil-Sen, robust to spikes and gaps), projected "
            f"{settings.horizon_days} days ahead with a 95 % interval; scaling keeps {settings.headroom_pct:g} % "
            f"headroom with {settings.lead_time_days} days of lead time."
        ),
        charts=[capacity_chart(f, settings.horizon_days) for f in findings if not f.insufficient],
        tables=[
            Table(
                "Capacity trends",
                TREND_COLUMNS + ["status"],
                [[row[c] for c in TREND_COLUMNS + ["status"]] for row in rows],
            )
        ]
        if rows
        else [],
    )
    publish_capacity_trends(rows)
    outcome = finish_checklist(
        config=config,
        flow=FLOW_NAME,
        title="Capacity planning",
        kind="capacity",
        artifact_key="capacity-report",
        run_id=run_id,
        started_at=started_at,
        sections=[section],
    )
    return final_state(outcome)
