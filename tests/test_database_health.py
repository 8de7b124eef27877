"""Database health on a real PostgreSQL 15 with pg_stat_statements preloaded: clean, unreachable, refused."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from opsbook.config import ConfigError, parse_config
from opsbook.results import CheckResult, Status
from opsbook.tasks.database.checks import CHECKS, Probe
from opsbook.tasks.database.connect import connect
from opsbook.tasks.database.health import check_database_health
from tests.conftest import free_port
from tests.helpers import estate
from tests.pg_cluster import MONITOR_PASSWORD, MONITOR_ROLE, Cluster, throwaway_cluster

PASSWORD_ENV = "OPSBOOK_TEST_DB_PASSWORD"


@pytest.fixture(scope="module")
def cluster() -> Cluster:
    return throwaway_cluster()


def monitor_url(cluster: Cluster, database: str, port: int | None = None) -> str:
    """The monitoring role's URL, its password taken from the environment as a real config would."""
    url = cluster.url(database, MONITOR_ROLE, f"${{{PASSWORD_ENV}}}")
    return url if port is None else url.replace(f":{cluster.port}/", f":{port}/")


def run_health(tmp_path: Path, **database: object) -> dict[str, CheckResult]:
    config = estate(tmp_path, databases=[{"name": "app", **database}])
    results = check_database_health.fn(config)
    return {r.check: r for r in results}


@pytest.fixture(autouse=True)
def monitor_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, MONITOR_PASSWORD)


def test_a_clean_database_is_ok_on_every_check_for_a_pg_monitor_role(cluster: Cluster, tmp_path: Path) -> None:
    with cluster.database() as name:
        cluster.sql(
            name,
            "CREATE TABLE accounts (id bigserial PRIMARY KEY, email text UNIQUE, plan int)",
            "CREATE INDEX accounts_plan_idx ON accounts (plan)",
            "INSERT INTO accounts (email, plan) SELECT 'u' || g || '@example.org', g % 5 "
            "FROM generate_series(1, 500) g",
        )
        cluster.sql(name, "VACUUM ANALYZE accounts")  # a second session: the inserts' counts are flushed by now
        cluster.sql(name, "SELECT * FROM accounts WHERE id = 7", "SELECT * FROM accounts WHERE plan = 3")
        results = run_health(tmp_path, url=monitor_url(cluster, name))

    assert set(results) == {"database.connection"} | {check for check, _ in CHECKS}
    not_ok = {check: r.message for check, r in results.items() if r.status is not Status.OK}
    assert not not_ok
    assert results["database.connection"].message.startswith(f"Connection: connected as {MONITOR_ROLE}")
    assert results["database.unused_indexes"].message == "Unused indexes: no unused index(es)"
    assert results["database.slow_queries"].details["source"] == "pg_stat_statements"
    assert results["database.size"].unit == "MB" and results["database.size"].value > 1


def test_slow_queries_fall_back_to_pg_stat_activity_without_the_extension_and_say_so(
    cluster: Cluster, tmp_path: Path
) -> None:
    with cluster.database(extension=False) as name:
        results = run_health(tmp_path, url=monitor_url(cluster, name))
    slow = results["database.slow_queries"]
    assert slow.status is Status.OK
    assert slow.details["source"] == "pg_stat_activity"
    assert "only running queries seen: pg_stat_statements is not installed" in slow.message


def assert_no_password(results: dict[str, CheckResult], password: str) -> None:
    assert all(password not in json.dumps(r.model_dump(mode="json")) for r in results.values())


def test_wrong_password_is_an_error_with_the_reason_and_no_password(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "wrong-pw-0f9b3c7e21"
    monkeypatch.setenv(PASSWORD_ENV, wrong)
    results = run_health(tmp_path, url=monitor_url(cluster, "postgres"))
    assert list(results) == ["database.connection"]
    result = results["database.connection"]
    assert result.status is Status.ERROR
    assert "password authentication failed" in result.message
    assert_no_password(results, wrong)


def test_unreachable_host_is_an_error_with_the_reason_and_no_password(cluster: Cluster, tmp_path: Path) -> None:
    results = run_health(tmp_path, url=monitor_url(cluster, "postgres", port=free_port()), connect_timeout_s=2)
    result = results["database.connection"]
    assert result.status is Status.ERROR
    assert "cannot connect" in result.message and "refused" in result.message.lower()
    assert_no_password(results, MONITOR_PASSWORD)


def test_a_role_without_pg_monitor_is_an_error_naming_the_missing_grant(cluster: Cluster, tmp_path: Path) -> None:
    cluster.sql("postgres", "DROP ROLE IF EXISTS opsbook_plain", "CREATE ROLE opsbook_plain LOGIN")
    results = run_health(tmp_path, url=cluster.url("postgres", "opsbook_plain"))
    result = results["database.connection"]
    assert result.status is Status.ERROR
    assert "not a member of pg_monitor" in result.message and "GRANT pg_monitor TO opsbook_plain" in result.message


def test_a_database_the_role_may_not_connect_to_is_an_error(cluster: Cluster, tmp_path: Path) -> None:
    with cluster.database(extension=False) as name:
        cluster.sql(name, f'REVOKE CONNECT ON DATABASE "{name}" FROM PUBLIC')
        results = run_health(tmp_path, url=monitor_url(cluster, name))
    result = results["database.connection"]
    assert result.status is Status.ERROR and "permission denied for database" in result.message
    assert_no_password(results, MONITOR_PASSWORD)


def test_no_databases_configured_is_skipped(tmp_path: Path) -> None:
    results = check_database_health.fn(estate(tmp_path))
    assert [r.status for r in results] == [Status.SKIPPED]


def test_config_names_the_key_of_a_bad_database_entry(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(
            {
                "databases": [
                    {"name": "app", "url": "mysql://x@h/db"},
                    {
                        "name": "app",
                        "url": "postgresql://x@h/db",
                        "statement_timeout_ms": 1,
                        "thresholds": {"cache_hit_pct": {"warn": 90, "fail": 99}},
                    },
                ]
            },
            base_dir=tmp_path,
        )
    problems = "\n".join(raised.value.problems)
    assert "databases[0].url: must be a postgresql+psycopg:// URL" in problems
    assert "databases[1].statement_timeout_ms:" in problems
    assert "databases[1].thresholds.cache_hit_pct:" in problems


def test_health_connections_are_read_only_and_every_statement_is_bounded(cluster: Cluster) -> None:
    with (
        cluster.database(extension=False) as name,
        connect(cluster.url(name), connect_timeout_s=5, statement_timeout_ms=150, read_only=True) as conn,
    ):
        assert conn.execute("SHOW statement_timeout").fetchone()[0] == "150ms"
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), conn.transaction():
            conn.execute("CREATE TABLE written_by_a_check (id int)")
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(2)")


def test_a_query_that_times_out_is_an_error_for_its_check_only(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import opsbook.tasks.database.health as health

    def stuck(probe: Probe) -> CheckResult:
        probe.one("SELECT pg_sleep(2)")
        raise AssertionError("statement_timeout did not fire")

    monkeypatch.setattr(health, "CHECKS", [("database.stuck", stuck), *CHECKS[:1]])
    results = run_health(tmp_path, url=monitor_url(cluster, "postgres"), statement_timeout_ms=200)
    assert results["database.stuck"].status is Status.ERROR
    assert "canceling statement due to statement timeout" in results["database.stuck"].message
    assert results[CHECKS[0][0]].status is Status.OK
