"""The tables of the weekly database report, read from the history and this run's results."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from opsbook.reports import Table
from opsbook.results import CheckResult, describe_exception, utcnow
from opsbook.secrets import redact
from opsbook.store import open_store
from opsbook.tasks.database.checks import CHECKS
from opsbook.tasks.database.recommendations import recommend


def seven_day_summary(history_url: str, targets: list[str], days: int = 7) -> Table:
    """How each daily check ended over the last week, per database: counts by status and the latest.

    A history that cannot be read gives a one-row note: the report still goes out.
    """
    try:
        return _summary(history_url, targets, days)
    except Exception as error:
        return Table(
            f"Daily checks over the last {days} days",
            ["note"],
            [[redact(f"history not available: {describe_exception(error)}")]],
        )


def _summary(history_url: str, targets: list[str], days: int) -> Table:
    store = open_store(history_url)
    since = utcnow() - timedelta(days=days)
    rows: list[list[object]] = []
    for target in targets:
        for check_id, _ in CHECKS:
            history = store.result_history(check_id, target=target, since=since)
            if not history:
                continue
            counts = Counter(r.status.value for r in history)
            latest = history[-1]
            rows.append(
                [
                    target,
                    check_id.removeprefix("database."),
                    len(history),
                    counts["ok"],
                    counts["warn"],
                    counts["fail"] + counts["error"],
                    f"{latest.status.value}: {latest.message}",
                ]
            )
    if not rows:
        rows.append(["–", f"no daily database check ran in the last {days} days", None, None, None, None, None])
    return Table(
        f"Daily checks over the last {days} days",
        ["database", "check", "runs", "ok", "warn", "fail/error", "latest"],
        rows,
    )


def top_queries_table(results: list[CheckResult]) -> Table:
    """Top queries by total time, from the snapshot the plan-cache step took."""
    rows: list[list[object]] = []
    for result in results:
        for row in result.details.get("top_queries", []):
            rows.append([result.target, row["query"], row["calls"], row["mean_ms"], row["total_ms"]])
    return Table(
        "Top queries by total time (pg_stat_statements snapshot)",
        ["database", "query", "calls", "mean ms", "total ms"],
        rows,
    )


def recommendations_table(results: list[CheckResult]) -> Table:
    """Tuning recommendations, each beside the evidence that triggered it."""
    rows: list[list[object]] = [[r.database, r.advice, r.evidence] for r in recommend(results)]
    return Table("Tuning recommendations", ["database", "recommendation", "evidence"], rows)
