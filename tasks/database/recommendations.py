"""Tuning recommendations for the weekly report, each with the evidence that triggered it.

Read from the health results' details only: a recommendation never runs a query of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from opsbook.results import CheckResult, Status

MB = 1024 * 1024


@dataclass(frozen=True)
class Recommendation:
    database: str
    advice: str
    evidence: str


def _mb(value: Any) -> str:
    return f"{float(value or 0) / MB:,.1f} MB"


def _unused(row: dict[str, Any], details: dict[str, Any]) -> tuple[str, str]:
    since = details.get("stats_since") or "the statistics began"
    return (
        f"Drop index {row['qualified']} if no rare job needs it (DROP INDEX CONCURRENTLY)",
        f"0 scans since {since}; {_mb(row['bytes'])} kept up to date on every write",
    )


def _duplicate(row: dict[str, Any], _details: dict[str, Any]) -> tuple[str, str]:
    return (
        f"Drop index {row['index']}: {row['covered_by']} already covers it",
        f"its columns are a leading prefix of {row['covered_by']} on {row['table']}; {_mb(row['bytes'])}",
    )


def _invalid(row: dict[str, Any], _details: dict[str, Any]) -> tuple[str, str]:
    return (
        f"Rebuild {row['index']} (weekly maintenance with apply: REINDEX CONCURRENTLY) or drop it",
        f"invalid since a failed build: {row.get('definition', '')}",
    )


def _missing(row: dict[str, Any], _details: dict[str, Any]) -> tuple[str, str]:
    return (
        f"Index the columns that queries on {row['qualified']} filter by (check them with EXPLAIN)",
        f"{row['seq_scan']} sequential scans read {int(row['seq_tup_read']):,} rows; only "
        f"{row['index_use_pct'] or 0:g} % of scans used an index; {int(row['rows']):,} rows",
    )


def _slow(row: dict[str, Any], _details: dict[str, Any]) -> tuple[str, str]:
    if "calls" in row:
        return (
            f"EXPLAIN (ANALYZE, BUFFERS) and index or rewrite: {row['query']}",
            f"mean {row['mean_ms']:,.0f} ms over {row['calls']:,} calls ({row['total_ms']:,.0f} ms in total)",
        )
    return (f"EXPLAIN and index or rewrite: {row['query']}", f"running for {row['running_ms']:,.0f} ms when checked")


def _slot(row: dict[str, Any], _details: dict[str, Any]) -> tuple[str, str]:
    return (
        f"Drop replication slot {row['slot']} if its consumer is gone (pg_drop_replication_slot)",
        f"inactive, holding {_mb(row.get('retained_bytes'))} of WAL",
    )


_PER_ROW: dict[str, Callable[[dict[str, Any], dict[str, Any]], tuple[str, str]]] = {
    "database.unused_indexes": _unused,
    "database.duplicate_indexes": _duplicate,
    "database.invalid_indexes": _invalid,
    "database.missing_indexes": _missing,
    "database.slow_queries": _slow,
    "database.replication_slots": _slot,
}

# Checks whose whole result is the evidence: advice when it is past its warning level.
_WHOLE: dict[str, str] = {
    "database.connections": "Put a pooler (PgBouncer) in front of the application or raise max_connections",
    "database.idle_in_transaction": (
        "Fix the client that leaves transactions open; set idle_in_transaction_session_timeout"
    ),
    "database.blocked_queries": "Find the blocking session (pid in the details) and shorten its transactions",
    "database.long_running_queries": "Review the long statements; set a statement_timeout for the application role",
    "database.cache_hit_rate": "Give the working set more memory (shared_buffers, then the host's RAM)",
    "database.vacuum_analyze": "Tune autovacuum for these tables (lower autovacuum_vacuum/analyze_scale_factor)",
    "database.xid_wraparound": "Run VACUUM (FREEZE) on the oldest tables before autovacuum is forced to",
    "database.sequences": "Move the column and its sequence to bigint before the range runs out",
    "database.replication_lag": "Check the standby's network, disk and replay conflicts",
    "database.size": "Plan storage: the database grows faster than its usual rate",
}


def recommend(results: Iterable[CheckResult]) -> list[Recommendation]:
    """Recommendations for every health result past its warning level, in check order."""
    found = []
    for result in results:
        if result.status not in (Status.WARN, Status.FAIL):
            continue
        per_row = _PER_ROW.get(result.check)
        rows = result.details.get("rows") or []
        if per_row and rows:
            for row in rows:
                advice, evidence = per_row(row, result.details)
                found.append(Recommendation(result.target, advice, evidence))
        elif result.check in _WHOLE:
            found.append(Recommendation(result.target, _WHOLE[result.check], result.message))
    return found
