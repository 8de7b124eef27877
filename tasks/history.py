"""Keeping results: every run, result and figure goes to the history store, and what is
older than `history.retention_days` is pruned (the weekly routine, with `apply`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from prefect import task
from prefect.cache_policies import NO_CACHE

from opsbook.checks import AlertType, declare
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, utcnow
from opsbook.store import Sample, open_store


def samples_from_results(results: Sequence[CheckResult]) -> list[Sample]:
    """Every measured figure becomes a metric sample named after its check, for trends."""
    return [
        Sample(
            metric=r.check,
            value=r.value,
            ts=r.started_at,
            source="check",
            unit=r.unit,
            labels={"target": r.target, **r.labels},
        )
        for r in results
        if r.value is not None
    ]


@task(name="store-results", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def store_results(
    history_url: str,
    *,
    run_id: str,
    flow: str,
    estate: str,
    started_at: datetime,
    finished_at: datetime,
    results: list[CheckResult],
    report_path: str | None = None,
    notes: str | None = None,
) -> None:
    """Write the run, its results and their figures. Re-running with the same run id is a no-op."""
    store = open_store(history_url)
    store.record_run(
        run_id=run_id,
        flow=flow,
        estate=estate,
        started_at=started_at,
        finished_at=finished_at,
        results=results,
        report_path=report_path,
        notes=notes,
    )
    store.add_samples(samples_from_results(results), run_id=run_id)


@task(name="annotate-run", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def annotate_run(history_url: str, run_id: str, report_path: str | None, notes: str | None) -> None:
    """Add the report path and the run's notes to a run already stored (its results stay as written)."""
    open_store(history_url).annotate_run(run_id, report_path=report_path, notes=notes)


RETENTION = declare(
    "history.retention",
    title="History retention",
    component="monitoring",
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P3,
    unit="rows",
)


def _describe_pruning(counts: dict[str, int], before: datetime, apply: bool) -> str:
    """`deleted 3 run(s) (40 results), 1,200 sample(s), 2 delivery(ies) older than 2025-10-23`."""
    done = "deleted" if apply else "would delete (dry run)"
    return (
        f"{done} {counts['check_runs']:,} run(s) ({counts['check_results']:,} results), "
        f"{counts['metric_samples']:,} sample(s), {counts['notification_deliveries']:,} delivery(ies) "
        f"older than {before:%Y-%m-%d}"
    )


@task(name="prune-history", cache_policy=NO_CACHE, timeout_seconds=3600)
def prune_history(history_url: str, retention_days: int | None, apply: bool = False) -> list[CheckResult]:
    """The history's own log rotation: what is older than `history.retention_days`, dry run by default."""
    if retention_days is None:
        return [RETENTION.skipped("history.retention_days is null: everything is kept", target="history")]
    before = utcnow() - timedelta(days=retention_days)
    counts = open_store(history_url).prune(before, apply=apply)
    return [
        RETENTION.result(
            "history",
            Status.OK,
            value=float(sum(counts.values())),
            message=_describe_pruning(counts, before, apply),
            details={"before": before.isoformat(), "apply": apply, **counts},
        )
    ]
