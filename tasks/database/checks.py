"""The database health checks, PgHero style: each one named, commented SQL query with its threshold.

Every query reads only statistics views and catalogs that a role holding `pg_monitor` can see,
and runs in a READ ONLY transaction under the connection's `statement_timeout`. A check turns its
rows into one `CheckResult`; the runner (tasks/database/health.py) times it and turns a failed
query into an `error` result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from opsbook.checks import AlertType, Check, declare
from opsbook.config.databases import Database, DatabaseLimits
from opsbook.config.thresholds import Limit
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, judge, utcnow
from opsbook.store import Sample

COMPONENT = "database"

CONNECTIONS_CHECK = declare(
    "database.connections",
    title="Connections",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    unit="%",
    on_fail="Connections are nearly exhausted: find the client holding them (details: by state) and add a pooler.",
    on_warn="Connection use is high: check for leaks (idle sessions) before raising max_connections.",
    runbook_steps=("Daily Database Health Check / Checking connection pool status",),
)

IDLE_IN_TRANSACTION_CHECK = declare(
    "database.idle_in_transaction",
    title="Idle in transaction",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    on_fail="Terminate the oldest idle transaction (pg_terminate_backend(pid)) and fix the client that left it open.",
    on_warn="A session sits idle in a transaction: find its application (details) before it blocks VACUUM.",
    runbook_steps=("Daily Database Health Check / Checking connection pool status",),
)

BLOCKED_QUERIES_CHECK = declare(
    "database.blocked_queries",
    title="Blocked queries",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    on_fail="Queries wait on a lock: find the blocking pid (details) and end its transaction.",
    on_warn="Queries are waiting on locks: watch the blocking pid (details).",
    runbook_steps=("Daily Database Health Check / Analyzing query performance",),
)

LONG_RUNNING_QUERIES_CHECK = declare(
    "database.long_running_queries",
    title="Long-running queries",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    on_fail="Cancel the runaway statement (pg_cancel_backend(pid)) if it is not expected.",
    on_warn="A statement runs long: check it is expected (a report, a migration).",
    runbook_steps=("Daily Database Health Check / Analyzing query performance",),
)

SLOW_QUERIES_CHECK = declare(
    "database.slow_queries",
    title="Slow queries",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    unit="ms",
    on_fail="Queries average far above 1000 ms: EXPLAIN (ANALYZE, BUFFERS) the top one and index or rewrite it.",
    on_warn="Queries average over the runbook's 1000 ms: EXPLAIN the top one; the weekly report lists them.",
    runbook_steps=(
        "Daily Database Health Check / Analyzing query performance",
        "Daily Database Health Check / Checking for slow queries",
    ),
)

SIZE_CHECK = declare(
    "database.size",
    title="Size",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    unit="MB",
    on_fail="The database grows fast: find the growing tables and check disk headroom now.",
    on_warn="Growth is above usual: check disk headroom and the capacity trend.",
    runbook_steps=("Daily Database Health Check / Monitoring database size",),
)

CACHE_HIT_RATE_CHECK = declare(
    "database.cache_hit_rate",
    title="Cache hit rate",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    unit="%",
    on_fail="Most reads miss the cache: the working set no longer fits memory; plan more shared_buffers/RAM.",
    on_warn="Cache hit rate is under 99 %: watch it; the weekly report recommends a change with evidence.",
    runbook_steps=("Daily Database Health Check / Analyzing query performance",),
)

UNUSED_INDEXES_CHECK = declare(
    "database.unused_indexes",
    title="Unused indexes",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    on_fail="Unused indexes cost every write: confirm no rare job needs them, then DROP INDEX CONCURRENTLY.",
    on_warn="Unused indexes cost every write: the weekly report lists each with its size and scan count.",
    runbook_steps=("Daily Database Health Check / Analyzing index usage",),
)

DUPLICATE_INDEXES_CHECK = declare(
    "database.duplicate_indexes",
    title="Duplicate indexes",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    on_fail="Drop the duplicate index; the index covering it serves the same queries.",
    on_warn="A duplicate index costs every write: drop it (the details name the index covering it).",
    runbook_steps=("Daily Database Health Check / Analyzing index usage",),
)

INVALID_INDEXES_CHECK = declare(
    "database.invalid_indexes",
    title="Invalid indexes",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    on_fail="Rebuild the invalid index: `opsbook run database-maintenance --apply`.",
    on_warn="An invalid index costs writes and helps no read: `opsbook run database-maintenance --apply` rebuilds it.",
    runbook_steps=("Daily Database Health Check / Analyzing index usage",),
)

MISSING_INDEXES_CHECK = declare(
    "database.missing_indexes",
    title="Missing indexes",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    on_fail="A large table is read by sequential scans: index the columns its queries filter by.",
    on_warn="A large table is read mostly by sequential scans: EXPLAIN its queries and consider an index.",
    runbook_steps=("Daily Database Health Check / Analyzing index usage",),
)

XID_WRAPAROUND_CHECK = declare(
    "database.xid_wraparound",
    title="Transaction-ID wraparound",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    on_fail="Transaction-ID wraparound is near: VACUUM (FREEZE) the oldest tables now and escalate (P1).",
    on_warn="Transaction IDs are ageing: check autovacuum keeps up on the oldest tables.",
)

SEQUENCES_CHECK = declare(
    "database.sequences",
    title="Sequences",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    on_fail="A sequence is about to run out: move the column to bigint now.",
    on_warn="A sequence has used most of its range: plan the move to bigint.",
)

VACUUM_ANALYZE_CHECK = declare(
    "database.vacuum_analyze",
    title="Vacuum and analyze",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    on_fail="Tables have waited two days for VACUUM/ANALYZE: run them in the maintenance window, tune autovacuum.",
    on_warn="Tables are due for VACUUM/ANALYZE: the weekly maintenance analyzes them.",
)

REPLICATION_LAG_CHECK = declare(
    "database.replication_lag",
    title="Replication lag",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    unit="s",
    on_fail="The standby lags far behind: check its network, disk and replay conflicts; failover would lose data.",
    on_warn="Replication lags: watch the trend.",
)

REPLICATION_SLOTS_CHECK = declare(
    "database.replication_slots",
    title="Replication slots",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    on_fail="An inactive slot retains WAL: drop it if its consumer is gone (pg_drop_replication_slot).",
    on_warn="An inactive replication slot retains WAL: drop it if its consumer is gone.",
)
_LISTED = 20  # rows kept in a result's details


@dataclass
class Probe:
    """What a check needs: the open connection, the database's config and its size history."""

    conn: psycopg.Connection[Any]
    database: Database
    slow_query: Limit
    size_history: list[Sample] | str = field(default_factory=list)  # a string says why it is missing

    @property
    def limits(self) -> DatabaseLimits:
        return self.database.thresholds

    def rows(self, query: str | sql.SQL | sql.Composed, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self.conn.cursor(row_factory=dict_row) as cursor:
            # Always pass params, so `%%` in a query means `%` whether or not it has placeholders.
            cursor.execute(query, params or {})
            return [dict(row) for row in cursor.fetchall()]

    def one(self, query: str | sql.SQL | sql.Composed, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.rows(query, params)[0]

    def result(
        self,
        check: Check,
        status: Status,
        message: str,
        *,
        value: float | None = None,
        unit: str | None = None,
        threshold: float | None = None,
        **details: Any,
    ) -> CheckResult:
        return check.result(
            self.database.name,
            status,
            value=value,
            unit=unit,
            threshold=threshold,
            message=message,
            details=_plain(details),
        )

    def judged(self, check: Check, value: float, limit: Limit, unit: str, message: str, **details: Any) -> CheckResult:
        status, threshold = judge(value, limit.warn, limit.fail, higher_is_worse=limit.higher_is_worse)
        return self.result(check, status, message, value=round(value, 3), unit=unit, threshold=threshold, **details)

    def worst(
        self,
        check: Check,
        rows: list[dict[str, Any]],
        key: str,
        limit: Limit,
        unit: str,
        describe: Callable[[dict[str, Any]], str],
        nothing: str,
        **details: Any,
    ) -> CheckResult:
        """Judge the first (worst) row's figure; the message describes it, or says nothing was found."""
        value = float(rows[0][key]) if rows else 0.0
        return self.judged(
            check, value, limit, unit, describe(rows[0]) if rows else nothing, rows=rows[:_LISTED], **details
        )

    def findings(
        self, check: Check, rows: list[dict[str, Any]], limit: Limit, noun: str, listing: str, **details: Any
    ) -> CheckResult:
        """A count of findings judged against a limit; the message names the first few."""
        count = len(rows)
        names = ", ".join(str(row[listing]) for row in rows[:5]) + (" ..." if count > 5 else "")
        message = f"{count} {noun}: {names}" if count else f"no {noun}"
        return self.judged(check, count, limit, "", message, rows=rows[:_LISTED], **details)


DatabaseCheck = Callable[[Probe], CheckResult]
CHECKS: list[tuple[str, DatabaseCheck]] = []  # (check id, its query), in the order the report lists them
TITLES: dict[str, str] = {}  # check id -> the words that start its message: the declaration's title


def check(declaration: Check) -> Callable[[DatabaseCheck], DatabaseCheck]:
    """Register the query of a declared check, in the order the report lists them."""

    def register(function: DatabaseCheck) -> DatabaseCheck:
        CHECKS.append((declaration.id, function))
        TITLES[declaration.id] = declaration.title
        return function

    return register


def _queries(count: int, kind: str = "") -> str:
    return f"{count} {kind} {'query' if count == 1 else 'queries'}".replace("  ", " ")


def _plain(value: Any) -> Any:
    """Rows as JSON-friendly values (Decimal -> float, datetime -> ISO text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


# -- preflight -------------------------------------------------------------------------------------

# Who we are and what we may see. Without pg_monitor (or superuser), pg_stat_activity hides other
# sessions' queries and every activity check would read "ok" for the wrong reason.
PREFLIGHT = """
SELECT current_user AS role,
       current_database() AS database,
       current_setting('server_version_num')::int AS version_num,
       current_setting('server_version') AS version,
       pg_has_role(current_user, 'pg_monitor', 'USAGE')
         OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS can_monitor
"""
MIN_VERSION_NUM = 130000  # pg_stat_statements' mean_exec_time columns appeared in 13


# -- connections and sessions -------------------------------------------------------------------

# Client connections by state, cluster-wide, against max_connections (issue: warn 80 %, fail 95 %;
# check_postgres "backends" 90/95 %). PgHero also flags more than 500 connections in total.
CONNECTIONS = """
SELECT coalesce(state, 'unknown') AS state, count(*) AS sessions,
       count(*) FILTER (WHERE datname = current_database()) AS in_this_database
FROM pg_stat_activity
WHERE backend_type = 'client backend'
GROUP BY 1 ORDER BY 2 DESC
"""


@check(CONNECTIONS_CHECK)
def connections(probe: Probe) -> CheckResult:
    rows = probe.rows(CONNECTIONS)
    settings = probe.one(
        "SELECT current_setting('max_connections')::int AS max_connections, "
        "current_setting('superuser_reserved_connections')::int AS reserved"
    )
    total = sum(row["sessions"] for row in rows)
    pct = 100.0 * total / settings["max_connections"]
    by_state = {row["state"]: row["sessions"] for row in rows}
    states = ", ".join(f"{n} {state}" for state, n in by_state.items())
    return probe.judged(
        CONNECTIONS_CHECK,
        pct,
        probe.limits.connections_pct,
        "%",
        f"{total} of {settings['max_connections']} connections in use ({states})",
        by_state=by_state,
        total=total,
        **settings,
    )


# Sessions idle inside an open transaction hold locks and stop VACUUM from cleaning up (PgHero:
# idle in transaction). Judged on the oldest one's idle time; the count is in the message.
IDLE_IN_TRANSACTION = """
SELECT pid, usename AS role, application_name, client_addr::text AS client,
       extract(epoch FROM now() - state_change)::float AS idle_s,
       extract(epoch FROM now() - xact_start)::float AS transaction_s, left(query, 200) AS last_query
FROM pg_stat_activity
WHERE datname = current_database() AND state IN ('idle in transaction', 'idle in transaction (aborted)')
ORDER BY state_change
"""


@check(IDLE_IN_TRANSACTION_CHECK)
def idle_in_transaction(probe: Probe) -> CheckResult:
    rows = probe.rows(IDLE_IN_TRANSACTION)
    return probe.worst(
        IDLE_IN_TRANSACTION_CHECK,
        rows,
        "idle_s",
        probe.limits.idle_in_transaction_s,
        "s",
        lambda oldest: (
            f"{len(rows)} session(s) idle in transaction, oldest {oldest['idle_s']:.1f} s "
            f"(pid {oldest['pid']}, {oldest['application_name'] or 'no application name'})"
        ),
        "no session idle in a transaction",
        sessions=len(rows),
    )


# Queries waiting for a lock another session holds (PgHero "blocked queries", via
# pg_blocking_pids). Judged on the longest wait: check_postgres lockwait 1 min / 2 min.
BLOCKED = """
SELECT pid, usename AS role, pg_blocking_pids(pid) AS blocked_by, wait_event_type, wait_event,
       extract(epoch FROM now() - coalesce(query_start, state_change))::float AS waiting_s,
       left(query, 200) AS query
FROM pg_stat_activity
WHERE datname = current_database() AND cardinality(pg_blocking_pids(pid)) > 0
ORDER BY waiting_s DESC
"""


@check(BLOCKED_QUERIES_CHECK)
def blocked_queries(probe: Probe) -> CheckResult:
    rows = probe.rows(BLOCKED)
    return probe.worst(
        BLOCKED_QUERIES_CHECK,
        rows,
        "waiting_s",
        probe.limits.blocked_wait_s,
        "s",
        lambda longest: (
            f"{_queries(len(rows), 'blocked')}, longest waiting {longest['waiting_s']:.1f} s "
            f"for pid(s) {', '.join(map(str, longest['blocked_by']))}"
        ),
        "no blocked queries",
        blocked=len(rows),
    )


# Statements running longer than the warning level right now (PgHero: 60 s).
LONG_RUNNING = """
SELECT pid, usename AS role, state, wait_event_type,
       extract(epoch FROM now() - query_start)::float AS running_s, left(query, 200) AS query
FROM pg_stat_activity
WHERE datname = current_database() AND backend_type = 'client backend' AND state = 'active'
  AND pid <> pg_backend_pid() AND now() - query_start >= make_interval(secs => %(min_s)s)
ORDER BY query_start
"""


@check(LONG_RUNNING_QUERIES_CHECK)
def long_running_queries(probe: Probe) -> CheckResult:
    limit = probe.limits.long_running_s
    rows = probe.rows(LONG_RUNNING, {"min_s": limit.warn if limit.warn is not None else limit.fail})
    return probe.worst(
        LONG_RUNNING_QUERIES_CHECK,
        rows,
        "running_s",
        limit,
        "s",
        lambda longest: (
            f"{_queries(len(rows), 'long-running')}, longest {longest['running_s']:.1f} s: {longest['query']}"
        ),
        "no long-running queries",
        running=len(rows),
    )


# -- slow queries ---------------------------------------------------------------------------------

# Where pg_stat_statements lives, if it is installed in this database.
STATEMENTS_SCHEMA = (
    "SELECT extnamespace::regnamespace::text AS schema FROM pg_extension WHERE extname = 'pg_stat_statements'"
)

# Statements of this database whose mean execution time reaches the runbook's slow level (1000 ms),
# among those called at least `min_calls` times (PgHero: mean >= 20 ms and calls >= 100).
SLOW_STATEMENTS = """
SELECT queryid::text AS queryid, left(query, 300) AS query, calls,
       round(mean_exec_time::numeric, 1)::float AS mean_ms, round(total_exec_time::numeric, 1)::float AS total_ms,
       rows, count(*) OVER ()::int AS slow_total
FROM {statements}
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND calls >= %(min_calls)s AND mean_exec_time >= %(slow_ms)s
ORDER BY mean_exec_time DESC
LIMIT 20
"""

# The slow statements left out above for too few calls: how many, and the worst mean, so the
# message never says "no slow query" while a slow one was only too rare to judge.
RARE_SLOW_STATEMENTS = """
SELECT count(*)::int AS queries, coalesce(round(max(mean_exec_time)::numeric, 1), 0)::float AS worst_ms
FROM {statements}
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND calls < %(min_calls)s AND mean_exec_time >= %(slow_ms)s
"""

# Fallback without the extension: only statements running right now can be seen.
SLOW_ACTIVITY = """
SELECT pid, usename AS role, left(query, 300) AS query,
       (extract(epoch FROM now() - query_start) * 1000)::float AS running_ms
FROM pg_stat_activity
WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()
  AND now() - query_start >= make_interval(secs => %(slow_ms)s / 1000.0)
ORDER BY query_start
"""


def statements_schema(probe: Probe) -> tuple[str | None, str]:
    """The schema holding a readable pg_stat_statements, or None and the reason it cannot be read."""
    found = probe.rows(STATEMENTS_SCHEMA)
    if not found:
        return None, "pg_stat_statements is not installed in this database (CREATE EXTENSION pg_stat_statements)"
    schema = found[0]["schema"]
    try:
        with probe.conn.transaction():  # a savepoint: the probe fails when the library is not preloaded
            probe.rows(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(sql.Identifier(schema, "pg_stat_statements")))
    except psycopg.Error as error:
        return None, f"pg_stat_statements cannot be read ({str(error).strip().splitlines()[0]})"
    return schema, ""


@check(SLOW_QUERIES_CHECK)
def slow_queries(probe: Probe) -> CheckResult:
    limit, min_calls = probe.slow_query, probe.limits.slow_query_min_calls
    slow_ms = limit.warn if limit.warn is not None else limit.fail
    schema, missing = statements_schema(probe)
    if schema is not None:
        statements = sql.Identifier(schema, "pg_stat_statements")
        parameters = {"min_calls": min_calls, "slow_ms": slow_ms}
        rows = probe.rows(sql.SQL(SLOW_STATEMENTS).format(statements=statements), parameters)
        [rare] = probe.rows(sql.SQL(RARE_SLOW_STATEMENTS).format(statements=statements), parameters)
        worst = rows[0]["mean_ms"] if rows else 0.0
        total = rows[0]["slow_total"] if rows else 0
        message = (
            f"{_queries(total, 'slow')} (mean >= {slow_ms:g} ms, >= {min_calls} calls), slowest "
            f"{worst:.0f} ms: {rows[0]['query']}"
            if rows
            else f"no query called {min_calls} times or more averages {slow_ms:g} ms or more"
        )
        if rare["queries"]:
            message += (
                f"; {_queries(rare['queries'], 'slow')} left out for fewer than {min_calls} calls"
                f" (worst mean {rare['worst_ms']:,.0f} ms)"
            )
        return probe.judged(
            SLOW_QUERIES_CHECK,
            worst,
            limit,
            "ms",
            message,
            source="pg_stat_statements",
            min_calls=min_calls,
            rows=rows,
            slow_total=total,
            left_out_for_few_calls=rare,
        )
    rows = probe.rows(SLOW_ACTIVITY, {"slow_ms": slow_ms})
    worst = rows[0]["running_ms"] if rows else 0.0
    found = (
        f"{_queries(len(rows))} running for {slow_ms:g} ms or more, longest {worst:.0f} ms"
        if rows
        else f"no query running for {slow_ms:g} ms or more"
    )
    return probe.judged(
        SLOW_QUERIES_CHECK,
        worst,
        limit,
        "ms",
        f"{found}; only running queries seen: {missing}",
        source="pg_stat_activity",
        fallback_reason=missing,
        rows=rows[:_LISTED],
    )


# -- size and cache ---------------------------------------------------------------------------------

# Database size now; growth over 7 days comes from the history of this same check.
SIZE = "SELECT pg_database_size(current_database())::float AS bytes"
MB = 1024 * 1024


@check(SIZE_CHECK)
def size(probe: Probe) -> CheckResult:
    megabytes = probe.one(SIZE)["bytes"] / MB
    history = probe.size_history
    if isinstance(history, str):
        return probe.result(
            SIZE_CHECK,
            Status.OK,
            f"{megabytes:,.1f} MB; growth unknown: {history}",
            value=round(megabytes, 3),
            unit="MB",
        )
    week_ago = utcnow() - timedelta(days=7)
    past = [s for s in history if s.ts >= week_ago - timedelta(hours=12)]
    if not past or past[0].value <= 0:
        return probe.result(
            SIZE_CHECK,
            Status.OK,
            f"{megabytes:,.1f} MB; growth: insufficient history (no earlier sample this week)",
            value=round(megabytes, 3),
            unit="MB",
        )
    first = past[0]
    growth = 100.0 * (megabytes - first.value) / first.value
    days = max((utcnow() - first.ts).total_seconds() / 86400, 1 / 24)
    limit = probe.limits.size_growth_pct_7d
    status, threshold = judge(growth, limit.warn, limit.fail)
    return probe.result(
        SIZE_CHECK,
        status,
        f"{megabytes:,.1f} MB, {growth:+.1f} % since {first.ts:%Y-%m-%d} "
        f"({(megabytes - first.value) / days:+,.1f} MB/day)",
        value=round(megabytes, 3),
        unit="MB",
        growth_pct=round(growth, 2),
        growth_threshold_pct=threshold,
        since=first.ts,
        since_mb=first.value,
        mb_per_day=round((megabytes - first.value) / days, 3),
    )


# Share of table and index block reads served from shared buffers (PgHero: >= 99 %).
CACHE_HIT = """
SELECT (SELECT coalesce(sum(heap_blks_hit), 0) FROM pg_statio_user_tables)::float AS table_hits,
       (SELECT coalesce(sum(heap_blks_read), 0) FROM pg_statio_user_tables)::float AS table_reads,
       (SELECT coalesce(sum(idx_blks_hit), 0) FROM pg_statio_user_indexes)::float AS index_hits,
       (SELECT coalesce(sum(idx_blks_read), 0) FROM pg_statio_user_indexes)::float AS index_reads
"""


@check(CACHE_HIT_RATE_CHECK)
def cache_hit_rate(probe: Probe) -> CheckResult:
    row = probe.one(CACHE_HIT)
    rates = {}
    for kind in ("table", "index"):
        total = row[f"{kind}_hits"] + row[f"{kind}_reads"]
        if total >= max(probe.limits.cache_min_blocks, 1):
            rates[kind] = 100.0 * row[f"{kind}_hits"] / total
    if not rates:
        return probe.result(
            CACHE_HIT_RATE_CHECK,
            Status.OK,
            f"too few block accesses to judge (fewer than {probe.limits.cache_min_blocks})",
            **row,
        )
    kind, worst = min(rates.items(), key=lambda item: item[1])
    shown = ", ".join(f"{k}s {v:.2f} %" for k, v in rates.items())
    return probe.judged(
        CACHE_HIT_RATE_CHECK,
        worst,
        probe.limits.cache_hit_pct,
        "%",
        f"cache hit rate {shown}",
        rates={k: round(v, 3) for k, v in rates.items()},
        **row,
    )


# -- indexes -----------------------------------------------------------------------------------------

# Since when the scan counters count: an index unused since yesterday's reset proves little.
STATS_SINCE = "SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()"

# Indexes never scanned since the statistics were reset, from 10 MB (PgHero). Unique, primary and
# constraint indexes are left out: they enforce something even when never read.
UNUSED_INDEXES = """
SELECT s.schemaname AS schema, s.relname AS table, s.indexrelname AS index,
       format('%%I.%%I', s.schemaname, s.indexrelname) AS qualified,
       pg_relation_size(s.indexrelid) AS bytes, s.idx_scan AS scans
FROM pg_stat_user_indexes s
JOIN pg_index i ON i.indexrelid = s.indexrelid
WHERE s.idx_scan = 0 AND i.indisvalid AND NOT i.indisunique AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = s.indexrelid)
  AND pg_relation_size(s.indexrelid) >= %(min_bytes)s
ORDER BY bytes DESC, qualified
"""


@check(UNUSED_INDEXES_CHECK)
def unused_indexes(probe: Probe) -> CheckResult:
    rows = probe.rows(UNUSED_INDEXES, {"min_bytes": probe.limits.unused_index_min_bytes})
    since = probe.one(STATS_SINCE)["stats_reset"]
    return probe.findings(
        UNUSED_INDEXES_CHECK,
        rows,
        Limit(warn=1),
        "unused index(es)",
        "qualified",
        stats_since=since,
        min_bytes=probe.limits.unused_index_min_bytes,
    )


# Indexes whose columns are a leading prefix of another index on the same table, with the same
# access method, operator classes, expressions and predicate (PgHero "duplicate indexes"). A
# unique index is only redundant beside another unique index on exactly the same columns.
DUPLICATE_INDEXES = """
WITH idx AS (
  SELECT i.indrelid, i.indexrelid, i.indisunique AS is_unique, i.indisprimary AS is_primary,
         string_to_array(i.indkey::text, ' ')::int[] AS cols,
         string_to_array(i.indclass::text, ' ')::oid[] AS opclasses,
         pg_get_expr(i.indexprs, i.indrelid) AS exprs, pg_get_expr(i.indpred, i.indrelid) AS pred,
         c.relam AS am
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
)
SELECT a.indexrelid::regclass::text AS index, b.indexrelid::regclass::text AS covered_by,
       a.indrelid::regclass::text AS table, pg_relation_size(a.indexrelid) AS bytes
FROM idx a
JOIN idx b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid AND b.am = a.am
  AND cardinality(a.cols) <= cardinality(b.cols)
  AND a.cols = b.cols[1:cardinality(a.cols)] AND a.opclasses = b.opclasses[1:cardinality(a.opclasses)]
  AND a.exprs IS NOT DISTINCT FROM b.exprs AND a.pred IS NOT DISTINCT FROM b.pred
WHERE NOT a.is_primary
  AND ((cardinality(a.cols) < cardinality(b.cols) AND NOT a.is_unique)
       OR (cardinality(a.cols) = cardinality(b.cols)
           AND ((b.is_unique AND NOT a.is_unique)
                OR (a.is_unique = b.is_unique AND (b.is_primary OR a.indexrelid > b.indexrelid)))))
ORDER BY bytes DESC, index
"""


@check(DUPLICATE_INDEXES_CHECK)
def duplicate_indexes(probe: Probe) -> CheckResult:
    rows = probe.rows(DUPLICATE_INDEXES)
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:  # an index covered by several others is listed once
        seen.setdefault(row["index"], row)
    return probe.findings(DUPLICATE_INDEXES_CHECK, list(seen.values()), Limit(warn=1), "duplicate index(es)", "index")


# Indexes left invalid by a failed CREATE INDEX CONCURRENTLY (still maintained on every write,
# never used by the planner), not counting builds in progress; and constraints added NOT VALID.
INVALID_INDEXES = """
SELECT i.indexrelid::regclass::text AS index, i.indrelid::regclass::text AS table,
       pg_get_indexdef(i.indexrelid) AS definition, pg_relation_size(i.indexrelid) AS bytes
FROM pg_index i
WHERE NOT i.indisvalid
  AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid)
ORDER BY index
"""
INVALID_CONSTRAINTS = """
SELECT conname AS constraint, conrelid::regclass::text AS table, pg_get_constraintdef(oid) AS definition
FROM pg_constraint WHERE NOT convalidated ORDER BY 2, 1
"""


@check(INVALID_INDEXES_CHECK)
def invalid_indexes(probe: Probe) -> CheckResult:
    rows = probe.rows(INVALID_INDEXES)
    constraints = probe.rows(INVALID_CONSTRAINTS)
    found = rows + [{"index": f"constraint {c['constraint']} on {c['table']}", **c} for c in constraints]
    return probe.findings(
        INVALID_INDEXES_CHECK,
        found,
        Limit(warn=1),
        "invalid index(es) or constraint(s)",
        "index",
        invalid_indexes=len(rows),
        invalid_constraints=len(constraints),
    )


# Tables of at least 10k rows read mostly by sequential scans: fewer than 95 % of their scans
# use an index (PgHero "missing indexes" / table stats).
MISSING_INDEXES = """
SELECT schemaname AS schema, relname AS table, format('%%I.%%I', schemaname, relname) AS qualified,
       seq_scan, seq_tup_read, coalesce(idx_scan, 0) AS idx_scan, n_live_tup AS rows,
       round(100.0 * coalesce(idx_scan, 0) / (seq_scan + coalesce(idx_scan, 0)), 1)::float AS index_use_pct
FROM pg_stat_user_tables
WHERE n_live_tup >= %(min_rows)s AND seq_scan > 0
  AND 100.0 * coalesce(idx_scan, 0) < %(min_pct)s * (seq_scan + coalesce(idx_scan, 0))
ORDER BY seq_tup_read DESC
"""


@check(MISSING_INDEXES_CHECK)
def missing_indexes(probe: Probe) -> CheckResult:
    rows = probe.rows(
        MISSING_INDEXES,
        {"min_rows": probe.limits.missing_index_min_rows, "min_pct": probe.limits.missing_index_use_pct},
    )
    return probe.findings(
        MISSING_INDEXES_CHECK,
        rows,
        Limit(warn=1),
        "table(s) read mostly by sequential scans",
        "qualified",
        min_rows=probe.limits.missing_index_min_rows,
    )


# -- wraparound and overflow ----------------------------------------------------------------------

# Transaction-ID age of every database that accepts connections (wraparound at 2^31; PgHero
# alarms with fewer than 10 M left, check_postgres txn_wraparound at 1.3 B / 1.4 B).
XID_AGE = """
SELECT datname AS database, age(datfrozenxid)::float AS xid_age, mxid_age(datminmxid)::float AS mxid_age
FROM pg_database WHERE datallowconn ORDER BY xid_age DESC
"""
OLDEST_TABLES = """
SELECT c.oid::regclass::text AS table, age(c.relfrozenxid)::float AS xid_age
FROM pg_class c WHERE c.relkind IN ('r', 'm', 't') AND c.relfrozenxid <> 0
ORDER BY age(c.relfrozenxid) DESC LIMIT 5
"""
XID_LIMIT = 2**31


@check(XID_WRAPAROUND_CHECK)
def xid_wraparound(probe: Probe) -> CheckResult:
    rows = probe.rows(XID_AGE)
    worst = rows[0]
    return probe.judged(
        XID_WRAPAROUND_CHECK,
        worst["xid_age"],
        probe.limits.xid_age,
        "xids",
        f"oldest transaction ID age {worst['xid_age']:,.0f} in {worst['database']} "
        f"({XID_LIMIT - worst['xid_age']:,.0f} left before wraparound)",
        databases=rows,
        oldest_tables=probe.rows(OLDEST_TABLES),
    )


# Sequences by how much of their range is used, capped by the type of the column they feed: a
# bigint sequence behind an integer column overflows at 2^31 (PgHero 90 %, check_postgres 85/95 %).
# last_value is NULL for a sequence never used, or one this role may not read.
SEQUENCES = """
SELECT format('%%I.%%I', s.schemaname, s.sequencename) AS sequence, s.last_value, s.increment_by,
       s.min_value, least(s.max_value, CASE a.atttypid WHEN 'int2'::regtype THEN 32767
                                                       WHEN 'int4'::regtype THEN 2147483647
                                                       ELSE s.max_value END) AS max_value,
       has_sequence_privilege(c.oid, 'SELECT,USAGE') AS readable,
       CASE WHEN a.attrelid IS NOT NULL THEN format('%%s.%%I', a.attrelid::regclass, a.attname) END AS column
FROM pg_sequences s
JOIN pg_namespace n ON n.nspname = s.schemaname
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.sequencename
LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
"""


@check(SEQUENCES_CHECK)
def sequences(probe: Probe) -> CheckResult:
    rows = probe.rows(SEQUENCES)
    unreadable = [row["sequence"] for row in rows if not row["readable"]]
    used = []
    for row in rows:
        if row["last_value"] is None:
            continue
        span = float(row["max_value"]) - float(row["min_value"])
        done = (
            float(row["last_value"]) - float(row["min_value"])
            if row["increment_by"] > 0
            else float(row["max_value"]) - float(row["last_value"])
        )
        used.append({**row, "used_pct": round(100.0 * done / span, 4) if span > 0 else 100.0})
    used.sort(key=lambda row: row["used_pct"], reverse=True)
    worst = used[0] if used else None
    note = (
        f"; {len(unreadable)} sequence(s) not readable by this role (GRANT SELECT to check them)" if unreadable else ""
    )
    message = (
        f"{worst['sequence']} has used {worst['used_pct']:.2f} % of its range"
        if worst
        else f"{len(rows)} sequence(s), none used yet"
    ) + note
    return probe.judged(
        SEQUENCES_CHECK,
        worst["used_pct"] if worst else 0.0,
        probe.limits.sequence_pct,
        "%",
        message,
        rows=used[:_LISTED],
        unreadable=unreadable[:_LISTED],
    )


# -- maintenance state --------------------------------------------------------------------------------

# Tables whose changes have reached autovacuum's own trigger (50 rows + 20 % dead for VACUUM,
# 50 + 10 % modified for ANALYZE) and how long since they were last vacuumed or analyzed
# (check_postgres last_vacuum/last_analyze 1 d / 2 d). "Never" counts from the statistics reset.
VACUUM_ANALYZE = """
WITH since AS (
  SELECT coalesce(stats_reset, pg_postmaster_start_time()) AS ts
  FROM pg_stat_database WHERE datname = current_database()
)
SELECT format('%%I.%%I', schemaname, relname) AS table, n_live_tup AS live_rows, n_dead_tup AS dead_rows,
       n_mod_since_analyze AS modified_rows,
       n_dead_tup > 50 + 0.2 * n_live_tup AS needs_vacuum,
       n_mod_since_analyze > 50 + 0.1 * n_live_tup AS needs_analyze,
       greatest(last_vacuum, last_autovacuum) AS last_vacuum, greatest(last_analyze, last_autoanalyze) AS last_analyze,
       extract(epoch FROM now() - coalesce(greatest(last_vacuum, last_autovacuum), since.ts))::float / 3600
         AS vacuum_age_h,
       extract(epoch FROM now() - coalesce(greatest(last_analyze, last_autoanalyze), since.ts))::float / 3600
         AS analyze_age_h
FROM pg_stat_user_tables, since
WHERE n_dead_tup > 50 + 0.2 * n_live_tup OR n_mod_since_analyze > 50 + 0.1 * n_live_tup
"""


@check(VACUUM_ANALYZE_CHECK)
def vacuum_analyze(probe: Probe) -> CheckResult:
    rows = probe.rows(VACUUM_ANALYZE)
    for row in rows:
        ages = ([row["vacuum_age_h"]] if row["needs_vacuum"] else []) + (
            [row["analyze_age_h"]] if row["needs_analyze"] else []
        )
        row["overdue_h"] = round(max(ages), 3)
    rows.sort(key=lambda row: row["overdue_h"], reverse=True)
    return probe.worst(
        VACUUM_ANALYZE_CHECK,
        rows,
        "overdue_h",
        probe.limits.vacuum_age_h,
        "h",
        lambda worst: (
            f"{len(rows)} table(s) due for VACUUM or ANALYZE, longest waiting "
            f"{worst['overdue_h']:.1f} h: {worst['table']}"
        ),
        "no table is due for VACUUM or ANALYZE",
        due=len(rows),
    )


# -- replication -------------------------------------------------------------------------------------

# Lag of each attached standby (on a primary), or of this server's replay (on a standby).
# PgHero: replication lag under 5 s.
REPLICATION = """
SELECT pg_is_in_recovery() AS standby,
       CASE WHEN pg_is_in_recovery() THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float END
         AS replay_lag_s
"""
REPLICAS = """
SELECT application_name, client_addr::text AS client, state, sync_state,
       coalesce(extract(epoch FROM replay_lag), 0)::float AS replay_lag_s
FROM pg_stat_replication ORDER BY replay_lag_s DESC
"""


@check(REPLICATION_LAG_CHECK)
def replication_lag(probe: Probe) -> CheckResult:
    me = probe.one(REPLICATION)
    if me["standby"]:
        lag = me["replay_lag_s"] or 0.0
        return probe.judged(
            REPLICATION_LAG_CHECK,
            lag,
            probe.limits.replication_lag_s,
            "s",
            f"standby: last transaction replayed {lag:.1f} s ago",
            role="standby",
        )
    replicas = probe.rows(REPLICAS)
    if not replicas:
        return probe.result(REPLICATION_LAG_CHECK, Status.OK, "primary with no standby attached", role="primary")
    worst = replicas[0]
    return probe.judged(
        REPLICATION_LAG_CHECK,
        worst["replay_lag_s"],
        probe.limits.replication_lag_s,
        "s",
        f"{len(replicas)} standby(s), worst replay lag {worst['replay_lag_s']:.1f} s ({worst['application_name']})",
        role="primary",
        replicas=replicas,
    )


# Replication slots nobody consumes keep WAL forever and fill the disk (PgHero: inactive slots).
SLOTS = """
SELECT slot_name AS slot, slot_type AS type, database, active,
       pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END,
                       restart_lsn)::float AS retained_bytes
FROM pg_replication_slots ORDER BY active, slot_name
"""


@check(REPLICATION_SLOTS_CHECK)
def replication_slots(probe: Probe) -> CheckResult:
    rows = probe.rows(SLOTS)
    inactive = [row for row in rows if not row["active"]]
    return probe.findings(
        REPLICATION_SLOTS_CHECK,
        inactive,
        probe.limits.inactive_slots,
        "inactive replication slot(s)",
        "slot",
        slots=len(rows),
    )
