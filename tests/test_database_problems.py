"""Each problem the database health check looks for, created for real, and seen found.

One database holds every problem at once (a slow query, unused, duplicate and invalid indexes,
a session idle in a transaction blocking another, a table read by sequential scans, an inactive
replication slot); the checks run once and each test reads the result it is about.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from opsbook.results import CheckResult, Status
from opsbook.tasks.database.health import check_database_health
from opsbook.tasks.database.recommendations import recommend
from tests.helpers import estate
from tests.pg_cluster import MONITOR_PASSWORD, MONITOR_ROLE, Cluster, throwaway_cluster

# Small tables and short waits: thresholds are lowered so the suite stays fast.
THRESHOLDS = {
    "slow_query_ms": {"warn": 200, "fail": 5000},
    "slow_query_min_calls": 2,
    "idle_in_transaction_s": {"warn": 0.2, "fail": 600},
    "blocked_wait_s": {"warn": 0.2, "fail": 600},
    "long_running_s": {"warn": 0.2, "fail": 600},
    "unused_index_min_bytes": 0,
    "missing_index_min_rows": 1000,
}
SLOT = "opsbook_test_forgotten_slot"


def _create_invalid_index(cluster: Cluster, name: str) -> None:
    """A failed CREATE UNIQUE INDEX CONCURRENTLY leaves the index behind, invalid."""
    with cluster.connect(name) as conn, pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("CREATE UNIQUE INDEX CONCURRENTLY events_kind_key ON events (kind)")


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, CheckResult]]:
    cluster = throwaway_cluster()
    with cluster.database() as name:
        cluster.sql(
            name,
            "CREATE TABLE events (id serial PRIMARY KEY, kind int NOT NULL, note text)",
            "INSERT INTO events (kind, note) SELECT g % 10, 'note ' || g FROM generate_series(1, 2000) g",
            "CREATE INDEX events_note_idx ON events (note)",  # never used
            "CREATE INDEX events_kind_idx ON events (kind)",  # covered by the next one
            "CREATE INDEX events_kind_note_idx ON events (kind, note)",
            "CREATE TABLE big (id int, payload text)",  # no index at all
            "INSERT INTO big SELECT g, repeat('x', 50) FROM generate_series(1, 5000) g",
            "CREATE TABLE locked (id int)",
        )
        _create_invalid_index(cluster, name)
        cluster.sql(
            name, *["SELECT count(*) FROM big WHERE id = 42"] * 5, "SELECT pg_sleep(0.25)", "SELECT pg_sleep(0.25)"
        )
        cluster.sql(name, "SELECT pg_sleep(0.3)::text")  # slow too, but called once: under min_calls
        cluster.sql("postgres", f"SELECT pg_create_physical_replication_slot('{SLOT}', true)")

        idle = cluster.connect(name, autocommit=False)
        idle.execute("LOCK TABLE locked IN ACCESS EXCLUSIVE MODE")  # then idles inside its transaction
        blocked_error: list[BaseException] = []

        def wait_for_the_lock() -> None:
            try:
                with cluster.connect(name) as conn:
                    conn.execute("SET statement_timeout = '30s'")
                    conn.execute("SELECT count(*) FROM locked")
            except psycopg.Error as error:  # pragma: no cover - only if the lock is never released
                blocked_error.append(error)

        waiter = threading.Thread(target=wait_for_the_lock, daemon=True)
        waiter.start()
        time.sleep(0.5)  # past the 0.2 s idle, blocked and long-running levels
        try:
            config = estate(
                tmp_path_factory.mktemp("problems"),
                databases=[
                    {"name": "app", "url": cluster.url(name, MONITOR_ROLE, MONITOR_PASSWORD), "thresholds": THRESHOLDS}
                ],
            )
            yield {r.check: r for r in check_database_health.fn(config)}
        finally:
            idle.rollback()
            idle.close()
            waiter.join(timeout=30)
            cluster.sql("postgres", f"SELECT pg_drop_replication_slot('{SLOT}')")
    assert not blocked_error


def names(result: CheckResult, key: str) -> list[str]:
    return [row[key] for row in result.details["rows"]]


def test_a_slow_query_is_found_in_pg_stat_statements(found: dict[str, CheckResult]) -> None:
    slow = found["database.slow_queries"]
    assert slow.status is Status.WARN and slow.details["source"] == "pg_stat_statements"
    assert "pg_sleep" in slow.message and slow.value >= 200
    assert slow.details["rows"][0]["calls"] == 2
    # The rare one is not judged, but it is not hidden either: counted, with its mean.
    assert re.search(r"; 1 slow query left out for fewer than 2 calls \(worst mean 3\d\d ms\)$", slow.message)
    assert slow.details["left_out_for_few_calls"]["queries"] == 1 and slow.details["slow_total"] == 1


def test_an_unused_index_is_found(found: dict[str, CheckResult]) -> None:
    unused = found["database.unused_indexes"]
    assert unused.status is Status.WARN
    assert "public.events_note_idx" in names(unused, "qualified")
    # The primary key and the invalid unique index are not "unused": they are left out.
    assert not {"public.events_pkey", "public.events_kind_key"} & set(names(unused, "qualified"))


def test_a_duplicate_index_is_found_with_the_index_covering_it(found: dict[str, CheckResult]) -> None:
    duplicate = found["database.duplicate_indexes"]
    assert duplicate.status is Status.WARN
    assert [(row["index"], row["covered_by"]) for row in duplicate.details["rows"]] == [
        ("events_kind_idx", "events_kind_note_idx")
    ]


def test_an_invalid_index_left_by_a_failed_concurrent_build_is_found(found: dict[str, CheckResult]) -> None:
    invalid = found["database.invalid_indexes"]
    assert invalid.status is Status.WARN
    assert names(invalid, "index") == ["events_kind_key"]
    assert "CREATE UNIQUE INDEX events_kind_key" in invalid.details["rows"][0]["definition"]


def test_a_session_idle_in_transaction_is_found_with_its_age(found: dict[str, CheckResult]) -> None:
    idle = found["database.idle_in_transaction"]
    assert idle.status is Status.WARN and idle.value >= 0.2
    assert "1 session(s) idle in transaction" in idle.message
    assert "LOCK TABLE locked" in idle.details["rows"][0]["last_query"]


def test_the_query_it_blocks_is_found_as_blocked_and_long_running(found: dict[str, CheckResult]) -> None:
    blocked, running = found["database.blocked_queries"], found["database.long_running_queries"]
    assert blocked.status is Status.WARN and "SELECT count(*) FROM locked" in blocked.details["rows"][0]["query"]
    assert running.status is Status.WARN and "FROM locked" in running.message


def test_a_large_table_read_by_sequential_scans_is_found_as_missing_an_index(found: dict[str, CheckResult]) -> None:
    missing = found["database.missing_indexes"]
    assert missing.status is Status.WARN
    big = next(row for row in missing.details["rows"] if row["qualified"] == "public.big")
    assert big["seq_scan"] >= 5 and big["rows"] == 5000 and big["index_use_pct"] == 0


def test_an_inactive_replication_slot_is_found(found: dict[str, CheckResult]) -> None:
    slots = found["database.replication_slots"]
    assert slots.status is Status.WARN and SLOT in slots.message


def test_never_analyzed_tables_are_listed_as_due(found: dict[str, CheckResult]) -> None:
    due = found["database.vacuum_analyze"]
    assert {"public.big", "public.events"} <= set(names(due, "table"))


def test_each_finding_becomes_a_recommendation_with_its_evidence(found: dict[str, CheckResult]) -> None:
    advice = {r.advice: r.evidence for r in recommend(found.values())}
    assert any("Drop index public.events_note_idx" in a and "0 scans" in e for a, e in advice.items())
    assert any("Drop index events_kind_idx: events_kind_note_idx already covers it" in a for a in advice)
    assert any("public.big" in a and "sequential scans read" in e for a, e in advice.items())
    assert any("pg_sleep" in a and "over 2 calls" in e for a, e in advice.items())
