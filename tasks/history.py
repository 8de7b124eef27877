"""Keeping results: every run, result and figure goes to the history store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from opsbook.results import CheckResult
from opsbook.store import Sample, open_store


def samples_from_results(results: Sequence[CheckResult]) -> list[Sample]:
    """Every measured figure becomes a metric sample named after its check, for trends."""
    return [
        Sample(metric=r.check, value=r.value, ts=r.started_at, source="check", unit=r.unit,
               labels={"target": r.target, **r.labels})
        for r in results
        if r.value is not None
    ]


@task(name="store-results", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def store_results(history_url: str, *, run_id: str, flow: str, estate: str, started_at: datetime,
                  finished_at: datetime, results: list[CheckResult], report_path: str | None = None,
                  notes: str | None = None) -> None:
    """Write the run, its results and their figures. Re-running with the same run id is a no-op."""
    store = open_store(history_url)
    store.record_run(run_id=run_id, flow=flow, estate=estate, started_at=started_at, finished_at=finished_at,
                     results=results, report_path=report_path, notes=notes)
    store.add_samples(samples_from_results(results), run_id=run_id)


@task(name="annotate-run", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def annotate_run(history_url: str, run_id: str, report_path: str | None, notes: str | None) -> None:
    """Add the report path and the run's notes to a run already stored (its results stay as written)."""
    open_store(history_url).annotate_run(run_id, report_path=report_path, notes=notes)
