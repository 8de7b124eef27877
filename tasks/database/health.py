"""The runbook's daily database health check: every check of `checks.py` on every database.

One connection per database per run, READ ONLY, `statement_timeout` on every query. A database
that cannot be reached, or a role that cannot see what it must, gives one `error` result naming
the cause; a query that fails gives an `error` for its check only.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import psycopg
from prefect import task
from prefect.cache_policies import NO_CACHE

from opsbook.checks import AlertType, declare
from opsbook.config import EstateConfig
from opsbook.config.databases import Database
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, describe_exception, error_result, stopwatch, utcnow
from opsbook.secrets import redact
from opsbook.store import Sample, open_store
from opsbook.store.engine import safe_url
from opsbook.tasks.database.checks import CHECKS, COMPONENT, MIN_VERSION_NUM, PREFLIGHT, SIZE_CHECK, TITLES, Probe
from opsbook.tasks.database.connect import connect, describe_database_error

CONNECTION = declare(
    "database.connection",
    title="Connection",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    unit="ms",
    on_fail=(
        "The database is down or refusing opsbook: check the server, then escalate (runbook: --service database "
        "--severity high)."
    ),
    on_warn="Connecting took long: check the server's load and network.",
    runbook_steps=("System Health Validation (08:00 UTC) / Checking database health",),
)

# The connection broke between two checks: the rest of that database's checks could not run.
CONNECTION_LOST = declare(
    "database.checks",
    title="Database checks",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
)
MAX_PARALLEL_DATABASES = 8


def size_history(history_url: str, name: str) -> list[Sample] | str:
    """This database's size samples of the last 8 days, or why they cannot be read."""
    try:
        return open_store(history_url).samples(
            SIZE_CHECK.id, since=utcnow() - timedelta(days=8), labels={"target": name}
        )
    except Exception as error:
        return redact(f"history not readable: {describe_database_error(error)}")


def open_probe(
    database: Database, slow_default_ms: float, history: list[Sample] | str
) -> tuple[Probe | None, CheckResult]:
    """Connect and check who we are; the result is the `database.connection` check."""
    started = utcnow()
    common: dict[str, Any] = dict(started_at=started, labels={"url": safe_url(database.url)})
    with stopwatch() as timing:
        try:
            conn = connect(
                database.url,
                connect_timeout_s=database.connect_timeout_s,
                statement_timeout_ms=database.statement_timeout_ms,
                read_only=True,
            )
        except psycopg.Error as error:
            return None, CONNECTION.error(
                database.name, f"cannot connect: {describe_database_error(error)}", duration_ms=timing["ms"], **common
            )
    try:
        with conn.transaction():
            who = Probe(conn, database, database.slow_query_limit(slow_default_ms)).one(PREFLIGHT)
    except psycopg.Error as error:
        conn.close()
        return None, CONNECTION.error(
            database.name, f"cannot query: {describe_database_error(error)}", duration_ms=timing["ms"], **common
        )
    problem = None
    if not who["can_monitor"]:
        problem = (
            f"role {who['role']!r} is not a member of pg_monitor, so other sessions and statistics are "
            f"hidden from it (GRANT pg_monitor TO {who['role']})"
        )
    elif who["version_num"] < MIN_VERSION_NUM:
        problem = f"PostgreSQL {who['version']} is not supported (13 or later)"
    if problem:
        conn.close()
        return None, CONNECTION.error(database.name, problem, duration_ms=timing["ms"], details=who, **common)
    result = CONNECTION.result(
        database.name,
        Status.OK,
        value=round(timing["ms"], 1),
        duration_ms=timing["ms"],
        message=f"Connection: connected as {who['role']} to PostgreSQL {who['version']}",
        details=who,
        **common,
    )
    return Probe(conn, database, database.slow_query_limit(slow_default_ms), history), result


def run_checks(probe: Probe) -> list[CheckResult]:
    """Every registered check in its own read-only transaction; a failed query is that check's error."""
    results = []
    for check_id, function in CHECKS:
        started = utcnow()
        with stopwatch() as timing:
            try:
                with probe.conn.transaction():
                    result = function(probe)
            except psycopg.Error as error:
                if probe.conn.broken or probe.conn.closed:
                    raise  # the connection is gone: no later check can run either
                result = error_result(
                    check_id, probe.database.name, COMPONENT, f"query failed: {describe_database_error(error)}"
                )
            except Exception as error:
                result = error_result(check_id, probe.database.name, COMPONENT, redact(describe_exception(error)))
        message = f"{TITLES.get(check_id, check_id)}: {result.message}"
        results.append(
            result.model_copy(update={"started_at": started, "duration_ms": timing["ms"], "message": message})
        )
    return results


def check_database(database: Database, slow_default_ms: float, history: list[Sample] | str) -> list[CheckResult]:
    """All health checks of one database over one connection."""
    probe, connection = open_probe(database, slow_default_ms, history)
    if probe is None:
        return [connection]
    try:
        return [connection, *run_checks(probe)]
    except psycopg.Error as error:  # the connection itself broke mid-run
        return [
            connection,
            CONNECTION_LOST.error(database.name, f"connection lost: {describe_database_error(error)}"),
        ]
    finally:
        probe.conn.close()


@task(name="check-database-health", timeout_seconds=900, cache_policy=NO_CACHE)
def check_database_health(config: EstateConfig) -> list[CheckResult]:
    """The runbook's step 2: connections, slow queries, size, indexes, wraparound, vacuum, replication."""
    if not config.databases:
        return [CONNECTION.skipped("no databases configured")]

    def check(database: Database) -> list[CheckResult]:
        history = size_history(config.history.url, database.name)
        return check_database(database, config.thresholds.database.slow_query_ms, history)

    # In parallel, so one hung server costs its connect timeout once, not once per database after it.
    with ThreadPoolExecutor(
        max_workers=min(MAX_PARALLEL_DATABASES, len(config.databases)), thread_name_prefix="database-health"
    ) as pool:
        return [result for found in pool.map(check, config.databases) for result in found]
