"""The checklist's verdict where Prefect users look: the run's name and tags, and one event.

A red or amber estate ends Completed (the runbook did its job), so the verdict has to be visible
without the state: tried on a real server, the runs list shows each run's name first and its tags
beside it, and the Tags filter selects on them; a custom state name (`Completed(name="Red")`)
shows as a green badge reading "Red", which contradicts itself, and the States filter does not
offer it. So the run is renamed `<flow>-<date>-<verdict>` once the verdict is known (a name
template at the start cannot know it) and tagged `verdict:<verdict>`; the state badge keeps
meaning what Prefect users expect.

The event `opsbook.checklist.<verdict>` (resource `opsbook.checklist.<flow>`, the estate and
verdict as labels) lets an automation or a deployment trigger act on a red day.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.events import emit_event
from prefect.runtime import flow_run

from opsbook.results import CheckResult, Verdict, count_by_status

VERDICT_TAG = "verdict:"


def run_name(flow: str, started_at: datetime, verdict: Verdict) -> str:
    """`daily-checklist-2025-01-05-red`: the flow, the UTC day it ran, the verdict."""
    return f"{flow}-{started_at:%Y-%m-%d}-{verdict.value}"


def label_run(flow: str, started_at: datetime, verdict: Verdict) -> None:
    """Rename and tag the current flow run; a failure is logged, never fails the run."""
    run_id = flow_run.get_id()
    if run_id is None:  # called outside a flow run: nothing to label
        return
    try:
        with get_client(sync_client=True) as client:
            tags = [t for t in client.read_flow_run(UUID(run_id)).tags if not t.startswith(VERDICT_TAG)]
            client.update_flow_run(
                UUID(run_id), name=run_name(flow, started_at, verdict), tags=[*tags, VERDICT_TAG + verdict.value]
            )
    except Exception as error:
        get_run_logger().warning("run not renamed with its verdict: %s", type(error).__name__)


def announce_verdict(
    *, flow: str, estate: str, verdict: Verdict, results: list[CheckResult], notes: list[str], run_id: str
) -> None:
    """Emit `opsbook.checklist.<verdict>` for this run (green too: a trigger may expect it)."""
    try:
        emit_event(
            event=f"opsbook.checklist.{verdict.value}",
            resource={
                "prefect.resource.id": f"opsbook.checklist.{flow}",
                "prefect.resource.name": flow,
                "opsbook.estate": estate,
                "opsbook.verdict": verdict.value,
            },
            payload={"run_id": run_id, "counts": count_by_status(results), "problems": len(notes)},
        )
    except Exception as error:
        get_run_logger().warning("verdict event not emitted: %s", type(error).__name__)
