"""The runbook's weekly database maintenance, in a maintenance window.

1. statistics update (ANALYZE of stale tables), 2. index maintenance (REINDEX CONCURRENTLY of
invalid or bloated indexes), 3. "query plan cache cleanup" (pg_stat_statements snapshot, then reset), then a
7-day database health report with tuning recommendations. Dry run unless `apply` is set.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State
from pydantic import BaseModel, ConfigDict, Field

from opsbook.flows.checklist import Step, final_state, finish_checklist, open_checklist, run_steps, trend_chart
from opsbook.tasks.database.checks import SIZE_CHECK
from opsbook.tasks.database.health import CONNECTION, check_database_health
from opsbook.tasks.database.maintenance import (
    ANALYZE,
    MAINTENANCE,
    PLAN_CACHE_NOTE,
    QUERY_STATS,
    REINDEX,
    Timeouts,
    analyze_stale_tables_task,
    reindex_indexes_task,
    snapshot_and_reset_statements_task,
)
from opsbook.tasks.database.weekly import recommendations_table, seven_day_summary, top_queries_table

FLOW_NAME = "database-maintenance"


class MaintenanceParameters(BaseModel):
    """What the Prefect UI's Run form asks. Without `apply`, nothing in any database changes."""

    model_config = ConfigDict(extra="forbid")

    apply: bool = Field(
        False,
        description="run ANALYZE, REINDEX CONCURRENTLY and the pg_stat_statements reset; "
        "false is a dry run that only reports what it would do",
    )
    databases: list[str] = Field(
        default_factory=list, max_length=100, description="names of configured databases to maintain; empty means all"
    )
    lock_timeout_s: float = Field(5, gt=0, le=60, description="give up on a table or index locked longer (PgHero 5 s)")
    analyze_timeout_s: float = Field(120, gt=0, le=3600, description="statement_timeout of each ANALYZE (PgHero 120 s)")
    reindex_timeout_s: float = Field(3600, gt=0, le=86400, description="statement_timeout of each REINDEX")


@flow(name=FLOW_NAME, description="Weekly database maintenance: statistics, indexes, query stats, 7-day report.")
def database_maintenance(
    config_path: str = "opsbook.yaml",
    params: MaintenanceParameters = MaintenanceParameters(),  # noqa: B008 - the Run form shows it; never mutated
) -> State:
    """`config_path` like every checklist; what to maintain and how in one validated model."""
    config, run_id, started_at = open_checklist(config_path)
    unknown = [name for name in params.databases if name not in {d.name for d in config.databases}]
    selected = [d for d in config.databases if not params.databases or d.name in params.databases]
    scoped = config.model_copy(update={"databases": selected})
    timeouts = Timeouts(params.lock_timeout_s, params.analyze_timeout_s, params.reindex_timeout_s)

    # Evidence first, before maintenance changes it; then one action at a time.
    (health,) = run_steps(
        [
            Step(
                "7-day database health and tuning recommendations",
                check_database_health,
                (scoped,),
                check=CONNECTION,
            )
        ]
    )
    (analyze,) = run_steps(
        [
            Step(
                "Statistics update (ANALYZE of stale tables)",
                analyze_stale_tables_task,
                (selected, params.apply, timeouts),
                check=ANALYZE,
            )
        ]
    )
    (reindex,) = run_steps(
        [
            Step(
                "Index maintenance (REINDEX CONCURRENTLY of invalid or bloated indexes)",
                reindex_indexes_task,
                (selected, params.apply, timeouts),
                check=REINDEX,
            )
        ]
    )
    (plans,) = run_steps(
        [
            Step(
                "Query plan cache cleanup (pg_stat_statements snapshot and reset)",
                snapshot_and_reset_statements_task,
                (selected, params.apply, timeouts, config.history.url),
                check=QUERY_STATS,
            )
        ]
    )

    analyze.results += [MAINTENANCE.error(name, f"no database named {name!r} in the config") for name in unknown]
    plans.intro = PLAN_CACHE_NOTE
    health.intro = "Checked at the start of the window, before any maintenance ran."
    health.charts.append(trend_chart(config, health.results, SIZE_CHECK.id, "Database size, 7 days", "MB", days=7))
    health.tables += [
        seven_day_summary(config.history.url, [d.name for d in selected]),
        top_queries_table(plans.results),
        recommendations_table(health.results),
    ]

    mode = "" if params.apply else " (dry run)"
    outcome = finish_checklist(
        config=config,
        flow=FLOW_NAME,
        title=f"Weekly database maintenance{mode}",
        kind="database_maintenance",
        artifact_key="database-maintenance-report",
        run_id=run_id,
        started_at=started_at,
        sections=[analyze, reindex, plans, health],
    )
    return final_state(outcome)
