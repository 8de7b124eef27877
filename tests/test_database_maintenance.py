"""The weekly maintenance flow and the daily step on a real Prefect server and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from opsbook.cli import app
from opsbook.config.databases import Database
from opsbook.flows.checklist import ChecklistOutcome
from opsbook.flows.daily import daily_checklist
from opsbook.flows.database_maintenance import MaintenanceParameters, database_maintenance
from opsbook.results import Status
from opsbook.store import HistoryStore
from opsbook.tasks.database.maintenance import Timeouts, analyze_stale_tables, reindex_indexes
from tests.helpers import write_config
from tests.pg_cluster import MONITOR_PASSWORD, MONITOR_ROLE, Cluster, throwaway_cluster

pytestmark = pytest.mark.usefixtures("prefect_server")
PASSWORD_ENV = "OPSBOOK_TEST_DB_PASSWORD"

# Everything the maintenance could change: relation sizes and row estimates, index validity,
# when each table was last analyzed, and the planner statistics themselves.
CATALOG = """
SELECT c.oid::regclass::text AS relation, c.relkind, c.relpages, c.reltuples, i.indisvalid,
       s.last_analyze, s.analyze_count,
       (SELECT count(*) FROM pg_statistic st WHERE st.starelid = c.oid) AS statistics
FROM pg_class c
LEFT JOIN pg_index i ON i.indexrelid = c.oid
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.relnamespace = 'public'::regnamespace
ORDER BY 1
"""


def catalog(cluster: Cluster, name: str) -> list[tuple[Any, ...]]:
    with cluster.connect(name) as conn:
        return conn.execute(CATALOG).fetchall()


def sleeps_recorded(cluster: Cluster, name: str) -> int:
    with cluster.connect(name) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_statements WHERE query LIKE '%%pg_sleep%%' "
            "AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()[0]


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Cluster:
    monkeypatch.setenv(PASSWORD_ENV, MONITOR_PASSWORD)
    return throwaway_cluster()


@pytest.fixture
def neglected(cluster: Cluster) -> Iterator[str]:
    """A database a week of neglect left behind: an invalid index, stale statistics, query stats."""
    with cluster.database() as name:
        cluster.sql(
            name,
            "CREATE TABLE events (id serial PRIMARY KEY, kind int NOT NULL)",
            "INSERT INTO events (kind) SELECT g % 10 FROM generate_series(1, 2000) g",
        )
        with cluster.connect(name) as conn, pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY events_kind_key ON events (kind)")
        # The duplicates are cleaned up since, so a rebuild can now succeed.
        cluster.sql(name, "DELETE FROM events WHERE id > 10", "SELECT pg_sleep(0.05)")
        yield name


def config_file(tmp_path: Path, cluster: Cluster, name: str) -> Path:
    return write_config(
        tmp_path,
        {
            "estate": "test estate",
            "history": {"url": f"sqlite:///{tmp_path / 'history.db'}"},
            "reports": {"directory": str(tmp_path / "reports")},
            "databases": [
                {
                    "name": "app",
                    "url": cluster.url(name, MONITOR_ROLE, f"${{{PASSWORD_ENV}}}"),
                    "maintenance_url": cluster.url(name),
                }
            ],
        },
    )


def maintain(path: Path, apply: bool):
    state = database_maintenance(config_path=str(path), params=MaintenanceParameters(apply=apply), return_state=True)
    outcome = state.result(raise_on_failure=False)
    assert isinstance(outcome, ChecklistOutcome), outcome
    return state, outcome, {r.check: r for r in outcome.results}


def test_dry_run_changes_nothing_and_says_what_it_would_do(cluster: Cluster, neglected: str, tmp_path: Path) -> None:
    path = config_file(tmp_path, cluster, neglected)
    before = catalog(cluster, neglected)
    state, outcome, results = maintain(path, apply=False)
    assert catalog(cluster, neglected) == before
    assert sleeps_recorded(cluster, neglected) == 1  # pg_stat_statements was not reset

    assert state.is_completed()  # warnings only: the invalid index is still there
    assert results["database.maintenance.reindex"].status is Status.WARN
    assert (
        "dry run: would REINDEX CONCURRENTLY 1 index(es): events_kind_key (invalid)"
        in results["database.maintenance.reindex"].message
    )
    assert "dry run: would ANALYZE 1 table(s): public.events" in results["database.maintenance.analyze"].message
    html = outcome.report_path.read_text()
    assert "Weekly database maintenance (dry run)" in html
    assert "PostgreSQL has no server-wide query plan cache" in html
    assert "Top queries by total time" in html and "pg_sleep" in html
    assert "Tuning recommendations" in html and "Rebuild events_kind_key" in html
    assert "invalid since a failed build: CREATE UNIQUE INDEX events_kind_key" in html
    assert MONITOR_PASSWORD not in html

    snapshot = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}").samples(
        "database.query.total_ms", source="pg_stat_statements"
    )
    assert snapshot and {s.labels["target"] for s in snapshot} == {"app"}


def test_apply_rebuilds_the_invalid_index_analyzes_and_resets_query_stats(
    cluster: Cluster, neglected: str, tmp_path: Path
) -> None:
    state, outcome, results = maintain(config_file(tmp_path, cluster, neglected), apply=True)
    assert results["database.maintenance.reindex"].status is Status.OK, results["database.maintenance.reindex"]
    after = {row[0]: row for row in catalog(cluster, neglected)}
    assert after["events_kind_key"][4] is True  # indisvalid
    assert after["events"][5] is not None  # last_analyze
    assert sleeps_recorded(cluster, neglected) == 0
    assert "then reset pg_stat_statements" in results["database.maintenance.query_stats"].message
    assert "Weekly database maintenance (dry run)" not in outcome.report_path.read_text()


def test_cli_runs_the_maintenance_and_exits_1_on_an_unknown_database(
    cluster: Cluster, neglected: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app, ["run", "database-maintenance", "-c", str(config_file(tmp_path, cluster, neglected)), "--database", "nope"]
    )
    assert result.exit_code == 1, result.output
    assert "no database named 'nope'" in result.output
    help_text = CliRunner().invoke(app, ["run", "database-maintenance", "--help"]).output
    assert "--apply" in help_text and "dry run" in help_text


def test_daily_checklist_tracks_size_growth_and_the_weekly_report_sums_up_the_week(
    cluster: Cluster, tmp_path: Path
) -> None:
    with cluster.database() as name:
        cluster.sql(name, "CREATE TABLE t (id int PRIMARY KEY)")
        path = config_file(tmp_path, cluster, name)
        first = daily_checklist(config_path=str(path), return_state=True).result(raise_on_failure=False)
        cluster.sql(name, "INSERT INTO t SELECT generate_series(1, 20000)")
        second = daily_checklist(config_path=str(path), return_state=True).result(raise_on_failure=False)
        _, weekly, _ = maintain(path, apply=False)
    assert isinstance(second, ChecklistOutcome)
    # The weekly report summarises the daily runs of the week from the history.
    assert "<td>app</td><td>unused_indexes</td><td>2</td><td>2</td>" in weekly.report_path.read_text()
    size = {r.check: r for r in second.results}["database.size"]
    assert "growth_pct" in size.details and size.details["growth_pct"] > 0
    first_size = {r.check: r for r in first.results}["database.size"]
    assert size.details["since_mb"] == pytest.approx(first_size.value)
    html = second.report_path.read_text()
    assert "Database health" in html and "Database size, 30 days" in html


def test_a_rebuild_that_fails_says_why_and_leaves_no_half_built_copy(cluster: Cluster) -> None:
    with cluster.database(extension=False) as name:
        cluster.sql(
            name,
            "CREATE TABLE events (id serial PRIMARY KEY, kind int NOT NULL)",
            "INSERT INTO events (kind) SELECT g % 10 FROM generate_series(1, 100) g",
        )
        with cluster.connect(name) as conn, pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("CREATE UNIQUE INDEX CONCURRENTLY events_kind_key ON events (kind)")
        database = Database(name="app", url=cluster.url(name))
        result = reindex_indexes(database, apply=True, timeouts=Timeouts())
        invalid = [row[0] for row in catalog(cluster, name) if row[4] is False]
    assert result.status is Status.FAIL
    assert "events_kind_key: could not create unique index" in result.message
    assert invalid == ["events_kind_key"]  # the original stays; its "_ccnew" copy was dropped


def test_analyze_skips_tables_the_role_does_not_own_and_says_so(cluster: Cluster) -> None:
    with cluster.database(extension=False) as name:
        cluster.sql(name, "CREATE TABLE stale (id int)", "INSERT INTO stale SELECT generate_series(1, 500)")
        database = Database(name="app", url=cluster.url(name, MONITOR_ROLE, MONITOR_PASSWORD))
        result = analyze_stale_tables(database, apply=True, timeouts=Timeouts())
        last_analyze = [row[5] for row in catalog(cluster, name) if row[0] == "stale"]
    assert result.status is Status.WARN
    assert "analyzed 0 of 1" in result.message and "public.stale (not owned by this role" in result.message
    assert last_analyze == [None]


def test_a_bloated_index_is_rebuilt_only_with_apply_and_shrinks(cluster: Cluster) -> None:
    with cluster.database(extension=False) as name:
        cluster.sql(
            name,
            "CREATE EXTENSION pgstattuple",
            "CREATE TABLE readings (id int PRIMARY KEY)",
            "INSERT INTO readings SELECT generate_series(1, 50000)",
            "DELETE FROM readings WHERE id % 10 <> 0",
        )
        cluster.sql(name, "VACUUM readings")  # leaves the index's leaf pages 10 % full
        database = Database(name="app", url=cluster.url(name), thresholds={"bloated_index_min_bytes": 0})
        planned = reindex_indexes(database, apply=False, timeouts=Timeouts())
        done = reindex_indexes(database, apply=True, timeouts=Timeouts())
    assert planned.status is Status.WARN
    assert "would REINDEX CONCURRENTLY 1 index(es): readings_pkey (bloated: leaf density" in planned.message
    assert done.status is Status.OK, done.message
    rebuilt = done.details["indexes"][0]
    assert rebuilt["bytes_after"] < rebuilt["bytes"] / 3
