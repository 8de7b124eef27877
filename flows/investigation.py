"""The runbook's performance degradation response, ad hoc: current figures against the 7-day
baseline, recent deploys, external dependencies, and a report (linked from the incident)."""

from __future__ import annotations

from prefect import flow
from prefect.states import State
from prefect.utilities.asyncutils import run_coro_as_sync
from pydantic import BaseModel, Field

from opsbook.config import config_path_field
from opsbook.flows.checklist import Step, final_state, finish_checklist, open_checklist, run_steps
from opsbook.incidents import IncidentError, add_event
from opsbook.store import open_store
from opsbook.tasks.investigation import (
    DEPENDENCY_HEALTH,
    RECENT_DEPLOYS,
    baseline_comparison,
    external_dependencies,
    recent_deployments,
)
from opsbook.tasks.platforms import PLATFORM_HEALTH, check_platform_health

FLOW_NAME = "performance-investigation"


class InvestigationRequest(BaseModel):
    """What to investigate. Read-only: nothing is changed."""

    config_path: str = config_path_field(min_length=1)
    incident_id: str | None = Field(
        None, pattern=r"^INC-\d{8}-\d{6}$", description="record the report on this incident"
    )
    metrics: list[str] = Field(
        default_factory=lambda: [PLATFORM_HEALTH.id],
        min_length=1,
        max_length=20,
        description="metric names in the history to compare with their baseline",
    )


@flow(name=FLOW_NAME, description="The runbook's performance investigation: baseline, deploys, dependencies.")
def performance_investigation(request: InvestigationRequest) -> State:
    config, run_id, started_at = open_checklist(request.config_path)
    current = run_coro_as_sync(check_platform_health(config))
    sections = run_steps(
        [
            Step(
                "Recent deployments (24 h)",
                recent_deployments,
                (config,),
                check=RECENT_DEPLOYS,
            ),
            Step(
                "External dependencies",
                external_dependencies,
                (config,),
                check=DEPENDENCY_HEALTH,
            ),
        ]
    )
    from opsbook.reports import Section

    sections = [
        Section("Current performance", current),
        Section(
            f"Against the {config.incidents.baseline_days}-day baseline",
            baseline_comparison(config, request.metrics, current),
        ),
        *sections,
    ]
    outcome = finish_checklist(
        config=config,
        flow=FLOW_NAME,
        title="Performance investigation",
        kind="investigation",
        artifact_key="performance-investigation",
        run_id=run_id,
        started_at=started_at,
        sections=sections,
    )
    if request.incident_id:
        try:
            add_event(
                open_store(config.history.url),
                request.incident_id,
                f"performance investigation: {outcome.verdict.value}; report {outcome.report_path}",
                kind="investigation",
                actor=FLOW_NAME,
            )
        except IncidentError as error:
            outcome.notes.append(str(error))
    return final_state(outcome)
