"""The runbook's weekly database maintenance: statistics, index maintenance, "plan cache cleanup".

Each action is dry-run unless `apply` is given: a dry run reads the catalogs and says what it
would do, and changes nothing in the database. Actions run one at a time, each bounded by
`lock_timeout` (never queue behind the application's locks for long) and `statement_timeout`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from prefect import task
from prefect.cache_policies import NO_CACHE
from psycopg import sql
from psycopg.rows import dict_row

from opsbook.checks import AlertType, Check, declare
from opsbook.config.databases import Database
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, stopwatch, utcnow
from opsbook.store import Sample, open_store
from opsbook.tasks.database.checks import INVALID_INDEXES, Probe, statements_schema
from opsbook.tasks.database.connect import connect, describe_database_error

ANALYZE = declare(
    "database.maintenance.analyze",
    title="Statistics update",
    component="database",
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    runbook_steps=("Weekly Database Maintenance / Updating database statistics",),
)

REINDEX = declare(
    "database.maintenance.reindex",
    title="Index maintenance",
    component="database",
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    on_fail="An index could not be rebuilt: read the reason (often duplicate rows for a unique index), fix, re-run.",
    on_warn="Invalid indexes remain: re-run the maintenance with apply.",
    runbook_steps=("Weekly Database Maintenance / Performing index maintenance",),
)

QUERY_STATS = declare(
    "database.maintenance.query_stats",
    title="Query statistics snapshot and reset",
    component="database",
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    runbook_steps=("Weekly Database Maintenance / Cleaning query plan cache",),
)

# The weekly step, and a database named for maintenance that the config does not have.
MAINTENANCE = declare(
    "database.maintenance",
    title="Database maintenance",
    component="database",
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
)

PLAN_CACHE_NOTE = (
    "PostgreSQL has no server-wide query plan cache (DISCARD PLANS only clears the current "
    "session's plans), so the runbook's \"query plan cache cleanup\" is done as: snapshot "
    "pg_stat_statements into the history, then reset it, with fresh statistics from ANALYZE."
)


@dataclass(frozen=True)
class Timeouts:
    """Bounds of every maintenance statement (PgHero's ANALYZE: lock 5 s, statement 120 s)."""

    lock_s: float = 5
    analyze_s: float = 120
    reindex_s: float = 3600


def _rows(
    conn: psycopg.Connection[Any], query: str | sql.SQL | sql.Composed, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cursor:
        cursor.execute(query, params or {})
        return [dict(row) for row in cursor.fetchall()]


def _set_timeouts(conn: psycopg.Connection[Any], lock_s: float, statement_s: float) -> None:
    conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{int(lock_s * 1000)}ms")))
    conn.execute(sql.SQL("SET statement_timeout = {}").format(sql.Literal(f"{int(statement_s * 1000)}ms")))


def _maintain(
    check: Check,
    database: Database,
    apply: bool,
    timeouts: Timeouts,
    action: Callable[[psycopg.Connection[Any]], CheckResult],
) -> CheckResult:
    """Run one action over the maintenance connection (read-only in a dry run); failures are `error` results."""
    started = utcnow()
    url = database.maintenance_url or database.url
    with stopwatch() as timing:
        try:
            with connect(
                url,
                connect_timeout_s=database.connect_timeout_s,
                statement_timeout_ms=int(timeouts.analyze_s * 1000),
                read_only=not apply,
                lock_timeout_ms=int(timeouts.lock_s * 1000),
            ) as conn:
                result = action(conn)
        except psycopg.Error as error:
            result = check.error(database.name, describe_database_error(error))
    return result.model_copy(update={"started_at": started, "duration_ms": timing["ms"]})


def _result(check: Check, database: Database, status: Status, message: str, **details: Any) -> CheckResult:
    return check.result(database.name, status, message=message, details=details)


# -- statistics update ---------------------------------------------------------------------------------

# Tables whose planner statistics are stale: modified past autovacuum's own analyze trigger
# (50 rows + 10 %), or holding rows and never analyzed. ANALYZE of a table this role does not
# own is only a warning in PostgreSQL, so ownership is checked here rather than assumed.
STALE_TABLES = """
SELECT schemaname AS schema, relname AS name, format('%%I.%%I', schemaname, relname) AS table,
       n_live_tup AS live_rows, n_mod_since_analyze AS modified_rows,
       greatest(last_analyze, last_autoanalyze) AS last_analyzed,
       pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = relid), 'USAGE')
         OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS owned
FROM pg_stat_user_tables
WHERE n_mod_since_analyze > 50 + 0.1 * n_live_tup
   OR (greatest(last_analyze, last_autoanalyze) IS NULL AND n_live_tup > 0)
ORDER BY n_mod_since_analyze DESC, 3
"""


def analyze_stale_tables(database: Database, apply: bool, timeouts: Timeouts) -> CheckResult:
    """ANALYZE each stale table on its own, so one locked table does not hold up the rest."""
    check = ANALYZE

    def action(conn: psycopg.Connection[Any]) -> CheckResult:
        stale = _rows(conn, STALE_TABLES)
        names = [row["table"] for row in stale]
        listed = ", ".join(names[:10]) + (" ..." if len(names) > 10 else "")
        if not stale:
            return _result(check, database, Status.OK, "no table has stale statistics", tables=[])
        if not apply:
            return _result(
                check,
                database,
                Status.OK,
                f"dry run: would ANALYZE {len(stale)} table(s): {listed}",
                dry_run=True,
                tables=_plain_rows(stale),
            )
        _set_timeouts(conn, timeouts.lock_s, timeouts.analyze_s)
        skipped = [
            {"table": row["table"], "reason": "not owned by this role (set maintenance_url to the owner)"}
            for row in stale
            if not row["owned"]
        ]
        for row in (row for row in stale if row["owned"]):
            try:
                conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(row["schema"], row["name"])))
            except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled) as error:
                skipped.append({"table": row["table"], "reason": describe_database_error(error)})
        done = len(stale) - len(skipped)
        message = f"analyzed {done} of {len(stale)} stale table(s): {listed}"
        if skipped:
            message += "; skipped " + ", ".join(f"{s['table']} ({s['reason']})" for s in skipped)
        return _result(
            check,
            database,
            Status.WARN if skipped else Status.OK,
            message,
            dry_run=False,
            tables=_plain_rows(stale),
            skipped=skipped,
        )

    return _maintain(check, database, apply, timeouts, action)


# -- index maintenance -----------------------------------------------------------------------------

# B-tree indexes whose leaf pages are mostly empty, by pgstattuple's pgstatindex(): under 50 %
# leaf density the index is at least twice the size it needs. Measured only when pgstattuple is
# installed (pg_monitor may call it) and only from a minimum size, since it reads each index whole.
PGSTATTUPLE_SCHEMA = "SELECT extnamespace::regnamespace::text AS schema FROM pg_extension WHERE extname = 'pgstattuple'"
BLOATED_INDEXES = """
SELECT i.indexrelid::regclass::text AS index, i.indrelid::regclass::text AS table,
       pg_relation_size(i.indexrelid) AS bytes, round(s.avg_leaf_density::numeric, 1)::float AS leaf_density_pct
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_am am ON am.oid = c.relam
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL {pgstatindex}(i.indexrelid::regclass) s
WHERE am.amname = 'btree' AND i.indisvalid AND c.relpersistence = 'p'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
  AND pg_relation_size(i.indexrelid) >= %(min_bytes)s
  AND s.avg_leaf_density < %(max_density)s
ORDER BY bytes DESC
"""
# A failed REINDEX CONCURRENTLY leaves its half-built copy behind as "<index>_ccnew"; drop it.
LEFTOVER_COPIES = """
SELECT format('%%I.%%I', n.nspname, c.relname) AS index
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid AND c.relname LIKE %(name)s || '_ccnew%%'
"""
AFTER = (
    "SELECT indisvalid AS valid, pg_relation_size(indexrelid) AS bytes FROM pg_index "
    "WHERE indexrelid = %(index)s::regclass"
)


def indexes_to_rebuild(conn: psycopg.Connection[Any], database: Database) -> tuple[list[dict[str, Any]], str]:
    """Invalid indexes, then bloated ones (when pgstattuple is installed), each with its reason."""
    found = [{**row, "reason": "invalid"} for row in _rows(conn, INVALID_INDEXES)]
    schema = _rows(conn, PGSTATTUPLE_SCHEMA)
    if not schema:
        return found, "bloat not measured: pgstattuple is not installed (CREATE EXTENSION pgstattuple)"
    limits = database.thresholds
    query = sql.SQL(BLOATED_INDEXES).format(pgstatindex=sql.Identifier(schema[0]["schema"], "pgstatindex"))
    bloated = _rows(
        conn,
        query,
        {"min_bytes": limits.bloated_index_min_bytes, "max_density": limits.bloated_index_max_leaf_density_pct},
    )
    found += [{**row, "reason": f"bloated: leaf density {row['leaf_density_pct']:g} %"} for row in bloated]
    return found, ""


def reindex_indexes(database: Database, apply: bool, timeouts: Timeouts) -> CheckResult:
    """REINDEX CONCURRENTLY every invalid or bloated index (only with apply), then check the result."""
    check = REINDEX

    def action(conn: psycopg.Connection[Any]) -> CheckResult:
        todo, note = indexes_to_rebuild(conn, database)
        listed = ", ".join(f"{row['index']} ({row['reason']})" for row in todo)
        suffix = f"; {note}" if note else ""
        if not todo:
            return _result(check, database, Status.OK, f"no invalid or bloated index to rebuild{suffix}", indexes=[])
        if not apply:
            return _result(
                check,
                database,
                Status.WARN,
                f"dry run: would REINDEX CONCURRENTLY {len(todo)} index(es): {listed} "
                f"(run with apply to rebuild){suffix}",
                dry_run=True,
                indexes=_plain_rows(todo),
            )
        _set_timeouts(conn, timeouts.lock_s, timeouts.reindex_s)
        failed = []
        for row in todo:
            try:
                conn.execute(sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(sql.SQL(row["index"])))
            except psycopg.Error as error:
                failed.append({"index": row["index"], "reason": describe_database_error(error)})
                for leftover in _rows(conn, LEFTOVER_COPIES, {"name": row["index"].rsplit(".", 1)[-1].strip('"')}):
                    conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.SQL(leftover["index"])))
                continue
            after = _rows(conn, AFTER, {"index": row["index"]})[0]
            row["bytes_after"] = after["bytes"]
            if not after["valid"]:
                failed.append({"index": row["index"], "reason": "still invalid after REINDEX"})
        if failed:
            return _result(
                check,
                database,
                Status.FAIL,
                f"{len(failed)} of {len(todo)} index(es) could not be rebuilt: "
                + "; ".join(f"{f['index']}: {f['reason']}" for f in failed),
                dry_run=False,
                indexes=_plain_rows(todo),
                failed=failed,
            )
        return _result(
            check,
            database,
            Status.OK,
            f"rebuilt {len(todo)} index(es), now valid: {listed}{suffix}",
            dry_run=False,
            indexes=_plain_rows(todo),
        )

    return _maintain(check, database, apply, timeouts, action)


# -- "query plan cache cleanup" ----------------------------------------------------------------------

# This database's statements, heaviest first by total time: what the history keeps before the reset.
TOP_STATEMENTS = """
SELECT queryid::text AS queryid, left(query, 300) AS query, calls,
       round(mean_exec_time::numeric, 1)::float AS mean_ms, round(total_exec_time::numeric, 1)::float AS total_ms, rows
FROM {statements}
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY total_exec_time DESC
LIMIT %(top)s
"""
# Forget this database's statements only (userid 0 and queryid 0 mean "all").
RESET = "SELECT {reset}(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)"
SNAPSHOT_SIZE = 100


def snapshot_and_reset_statements(database: Database, apply: bool, timeouts: Timeouts, history_url: str) -> CheckResult:
    """Keep pg_stat_statements' figures in the history, then (with apply) reset them."""
    check = QUERY_STATS

    def action(conn: psycopg.Connection[Any]) -> CheckResult:
        schema, missing = statements_schema(Probe(conn, database, database.slow_query_limit(1000)))
        if schema is None:
            return _result(
                check, database, Status.WARN, f"{missing}; nothing to snapshot or reset", note=PLAN_CACHE_NOTE
            )
        statements = sql.Identifier(schema, "pg_stat_statements")
        rows = _rows(conn, sql.SQL(TOP_STATEMENTS).format(statements=statements), {"top": SNAPSHOT_SIZE})
        now = utcnow()
        samples = [
            Sample(
                metric=f"database.query.{figure}",
                value=float(row[key]),
                ts=now,
                source="pg_stat_statements",
                labels={"target": database.name, "queryid": row["queryid"]},
                unit=unit,
            )
            for row in rows
            for figure, key, unit in (
                ("total_ms", "total_ms", "ms"),
                ("mean_ms", "mean_ms", "ms"),
                ("calls", "calls", None),
            )
        ]
        open_store(history_url).add_samples(samples)
        top = _plain_rows(rows[: database.top_queries])
        if not apply:
            return _result(
                check,
                database,
                Status.OK,
                f"kept a snapshot of {len(rows)} statement(s) in the history; dry run: would reset "
                "pg_stat_statements for this database",
                dry_run=True,
                top_queries=top,
                note=PLAN_CACHE_NOTE,
            )
        _set_timeouts(conn, timeouts.lock_s, timeouts.analyze_s)
        conn.execute(sql.SQL(RESET).format(reset=sql.Identifier(schema, "pg_stat_statements_reset")))
        return _result(
            check,
            database,
            Status.OK,
            f"kept a snapshot of {len(rows)} statement(s) in the history, then reset pg_stat_statements "
            "for this database (PostgreSQL has no server-wide plan cache to flush)",
            dry_run=False,
            top_queries=top,
            note=PLAN_CACHE_NOTE,
        )

    return _maintain(check, database, apply, timeouts, action)


def _plain_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()} for row in rows]


@task(name="analyze-stale-tables", timeout_seconds=3600, cache_policy=NO_CACHE)
def analyze_stale_tables_task(databases: list[Database], apply: bool, timeouts: Timeouts) -> list[CheckResult]:
    return [analyze_stale_tables(database, apply, timeouts) for database in databases]


@task(name="reindex-invalid-or-bloated-indexes", timeout_seconds=4 * 3600, cache_policy=NO_CACHE)
def reindex_indexes_task(databases: list[Database], apply: bool, timeouts: Timeouts) -> list[CheckResult]:
    return [reindex_indexes(database, apply, timeouts) for database in databases]


@task(name="snapshot-and-reset-query-stats", timeout_seconds=900, cache_policy=NO_CACHE)
def snapshot_and_reset_statements_task(
    databases: list[Database], apply: bool, timeouts: Timeouts, history_url: str
) -> list[CheckResult]:
    return [snapshot_and_reset_statements(database, apply, timeouts, history_url) for database in databases]


@task(name="run-weekly-database-maintenance", timeout_seconds=6 * 3600, cache_policy=NO_CACHE)
def maintain_databases(
    databases: list[Database], apply: bool, history_url: str, timeouts: Timeouts = Timeouts()
) -> list[CheckResult]:
    """The weekly checklist's database step: ANALYZE, REINDEX, query-stats snapshot, one after another
    (run side by side they would wait on each other's locks)."""
    return [
        result
        for database in databases
        for result in (
            analyze_stale_tables(database, apply, timeouts),
            reindex_indexes(database, apply, timeouts),
            snapshot_and_reset_statements(database, apply, timeouts, history_url),
        )
    ]
