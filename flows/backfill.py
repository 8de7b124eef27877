"""Ad-hoc: copy Prometheus' resource history into the history store (capacity planning's 30 days).

Run from the Prefect UI or with `opsbook backfill`. Repeating it stores nothing twice.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, State
from pydantic import BaseModel, Field

from opsbook.config import EstateConfig, config_path_field, load_config
from opsbook.flows.states import incomplete
from opsbook.secrets import install_log_redaction
from opsbook.tasks.resource_history import BackfillOutcome, backfill_resources

FLOW_NAME = "backfill-resource-history"


class BackfillParameters(BaseModel):
    """What the Prefect UI's Run form asks for; each field defaults to the config's value."""

    config_path: str = config_path_field(min_length=1)
    days: float | None = Field(
        None, gt=0, le=3650, description="how far back; resources.prometheus.backfill_days when empty"
    )
    step_s: float | None = Field(
        None, ge=1, le=86_400, description="seconds between samples; resources.prometheus.step_s when empty"
    )


@task(name="backfill-prometheus-ranges", timeout_seconds=3600, cache_policy=NO_CACHE)
async def backfill_prometheus_ranges(config: EstateConfig, days: float | None, step_s: float | None) -> BackfillOutcome:
    """Range queries window by window into `HistoryStore.add_samples` (idempotent per series+time)."""
    logger = get_run_logger()

    def progress(metric: str, done: int, total: int) -> None:
        if done == total or done % 10 == 0:
            logger.info("%s: %d of %d range queries done", metric, done, total)

    return await backfill_resources(config, days=days, step_s=step_s, on_progress=progress)


@flow(name=FLOW_NAME, description="Copy Prometheus' CPU, memory, disk and network history into the history store.")
async def backfill_resource_history(parameters: BackfillParameters | None = None) -> State:
    parameters = parameters or BackfillParameters()  # made now: its config_path is read when the run starts
    config = load_config(parameters.config_path)
    install_log_redaction()
    outcome = await backfill_prometheus_ranges(config, parameters.days, parameters.step_s)
    summary = (
        f"{outcome.windows} range queries, {outcome.points} points, {outcome.inserted} new, "
        f"{outcome.not_a_number} NaN skipped"
    )
    if outcome.errors:
        return incomplete(f"{len(outcome.errors)} window(s) failed, first: {outcome.errors[0]}; {summary}", outcome)
    return Completed(message=summary, data=outcome)
