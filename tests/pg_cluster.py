"""A throwaway PostgreSQL cluster with pg_stat_statements preloaded, for the database tests.

The shared server on 5432 cannot preload pg_stat_statements, so the tests start their own with
initdb/pg_ctl on a free port (as the `postgres` OS user when running as root), once per session.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.conftest import free_port

BIN = Path(os.environ.get("OPSBOOK_PG_BIN", "/usr/lib/postgresql/15/bin"))
MONITOR_ROLE = "opsbook_monitor"
MONITOR_PASSWORD = "monitor-pw-5e2c81d4a7"
HBA = f"""
local all all trust
host all {MONITOR_ROLE} 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
"""
SETTINGS = """
listen_addresses = '127.0.0.1'
shared_preload_libraries = 'pg_stat_statements'
autovacuum = off            # the tests decide when tables are vacuumed and analyzed
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 40
shared_buffers = 32MB
"""


@dataclass
class Cluster:
    port: int
    datadir: Path

    def url(self, database: str, role: str = "postgres", password: str | None = None) -> str:
        auth = f"{role}:{password}" if password else role
        return f"postgresql+psycopg://{auth}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres", autocommit: bool = True) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=database, autocommit=autocommit
        )

    def sql(self, database: str, *statements: str) -> None:
        """Run statements in a connection that then closes (closing flushes its statistics)."""
        with self.connect(database) as conn:
            for statement in statements:
                conn.execute(statement)

    @contextmanager
    def database(self, extension: bool = True) -> Iterator[str]:
        """A fresh database (with pg_stat_statements unless told), dropped afterwards."""
        name = f"opsbook_{uuid.uuid4().hex[:10]}"
        self.sql("postgres", f'CREATE DATABASE "{name}"')
        try:
            if extension:
                self.sql(name, "CREATE EXTENSION pg_stat_statements")
            yield name
        finally:
            self.sql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _start() -> Cluster:
    if not (BIN / "initdb").exists():
        raise FileNotFoundError(f"PostgreSQL binaries not found in {BIN}")
    root = Path(tempfile.mkdtemp(prefix="opsbook-pg-"))
    datadir, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    subprocess.run(
        _as_postgres(
            [str(BIN / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]
        ),
        check=True,
        capture_output=True,
    )
    port = free_port()
    (datadir / "pg_hba.conf").write_text(HBA)
    with open(datadir / "postgresql.conf", "a") as conf:
        conf.write(SETTINGS + f"port = {port}\nunix_socket_directories = '{sockets}'\n")
    subprocess.run(
        _as_postgres([str(BIN / "pg_ctl"), "-D", str(datadir), "-l", str(root / "log"), "-w", "-t", "60", "start"]),
        check=True,
        capture_output=True,
    )
    cluster = Cluster(port, datadir)
    atexit.register(_stop, cluster, root)
    cluster.sql("postgres", f"CREATE ROLE {MONITOR_ROLE} LOGIN PASSWORD '{MONITOR_PASSWORD}' IN ROLE pg_monitor")
    return cluster


def _stop(cluster: Cluster, root: Path) -> None:
    subprocess.run(
        _as_postgres([str(BIN / "pg_ctl"), "-D", str(cluster.datadir), "-m", "immediate", "-w", "stop"]),
        check=False,
        capture_output=True,
    )
    shutil.rmtree(root, ignore_errors=True)


_cluster: Cluster | None = None


def throwaway_cluster() -> Cluster:
    """The session's cluster, started on first use and stopped when the test process exits."""
    global _cluster
    if _cluster is None:
        try:
            _cluster = _start()
        except (OSError, subprocess.CalledProcessError) as error:
            if os.environ.get("OPSBOOK_REQUIRE_POSTGRES"):
                raise
            detail = getattr(error, "stderr", b"") or b""
            pytest.skip(
                f"cannot start a throwaway PostgreSQL cluster with initdb/pg_ctl: {error} "
                f"{detail.decode(errors='replace')[:300]}"
            )
    return _cluster
