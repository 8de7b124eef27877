"""The restore test: restore a backup into a database, then prove the data is what it should be.

Restores go into a scratch database with a fresh unique name (dropped in a `finally`, whatever
happens) or, in a real disaster, into the DR target. The source database is never named: the
only database written is the one this module created or was explicitly given.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import create_engine, text

from opsbook.config.backups import BackupRepository
from opsbook.quality import GateResult, expectation, gate
from opsbook.results import describe_exception
from opsbook.secrets import redact
from opsbook.tasks.backups.pgtools import ToolError, database_name, libpq_env, run, tool, with_database

SCRATCH_PREFIX = "opsbook_restore_"


@dataclass
class RestoreReport:
    """What one restore found. `error` is set when the restore itself could not be done."""

    database: str
    seconds: float | None = None
    tables: dict[str, int] = field(default_factory=dict)
    newest: datetime | None = None
    gate: GateResult | None = None
    error: str | None = None
    dropped: bool | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and self.gate is not None and self.gate.passed


def quote_ident(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


@contextmanager
def scratch_database(server_url: str, report: RestoreReport | None = None) -> Iterator[str]:
    """Create a uniquely named database on the server, yield its URL, and always drop it."""
    name = f"{SCRATCH_PREFIX}{uuid.uuid4().hex[:16]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 10})
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {quote_ident(name)}"))
        if report is not None:
            report.database = name
        try:
            yield with_database(server_url, name)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)"))
            if report is not None:
                report.dropped = True
    finally:
        admin.dispose()


def _psql_from_gzip(clear: Path, url: str, timeout_s: float) -> None:
    """Stream a gzipped SQL dump into psql, stopping at the first error."""
    argv = [tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database_name(url)]
    deadline = time.monotonic() + timeout_s
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(
            argv, env=libpq_env(url), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors
        ) as psql,
    ):
        assert psql.stdin is not None
        try:
            with gzip.open(clear, "rb") as source:
                shutil.copyfileobj(source, psql.stdin, 1 << 20)
        except BrokenPipeError:
            pass  # psql stopped at an error: its exit code and stderr say which
        except (OSError, EOFError) as error:
            psql.kill()
            raise ToolError(f"cannot read {clear.name}: {error}") from None
        finally:
            with suppress(BrokenPipeError):
                psql.stdin.close()
        try:
            psql.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            psql.kill()
            raise ToolError(f"psql did not finish within {timeout_s:g} s") from None
        if psql.returncode != 0:
            errors.seek(0)
            said = errors.read().decode("utf-8", "replace").strip()[-600:]
            raise ToolError(redact(f"psql exited {psql.returncode}: {said}"))


def restore_into(fmt: str, clear: Path, url: str, timeout_s: float) -> None:
    """Restore a plaintext dump into the database of url (no owners or grants: a different server)."""
    if fmt == "plain_gz":
        _psql_from_gzip(clear, url, timeout_s)
        return
    run(
        [
            tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--dbname",
            database_name(url),
            str(clear),
        ],
        url=url,
        timeout_s=timeout_s,
    )


def inspect_database(url: str, rpo_column: str | None) -> tuple[dict[str, int], datetime | None]:
    """Exact row counts of every user table, and the newest value of the RPO column."""
    engine = create_engine(url, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as connection:
            counts = count_rows(connection, user_tables(connection))
            newest: datetime | None = None
            if rpo_column:
                schema, table, column = rpo_column.split(".")
                if f"{schema}.{table}" in counts:
                    newest = connection.execute(
                        text(f"SELECT max({quote_ident(column)}) FROM {quote_ident(schema)}.{quote_ident(table)}")
                    ).scalar_one()
                    if isinstance(newest, datetime) and newest.tzinfo is None:
                        newest = newest.replace(tzinfo=UTC)
    finally:
        engine.dispose()
    return counts, newest


def count_rows(connection: Any, tables: list[str]) -> dict[str, int]:
    """Exact row counts (count(*)) of schema.table names."""
    return {
        name: int(
            connection.execute(
                text("SELECT count(*) FROM " + ".".join(quote_ident(p) for p in name.split(".", 1)))
            ).scalar_one()
        )
        for name in tables
    }


def user_tables(connection: Any) -> list[str]:
    rows = connection.execute(
        text(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' AND table_schema <> 'information_schema' "
            "AND table_schema NOT LIKE 'pg\\_%' ORDER BY 1, 2"
        )
    ).all()
    return [f"{schema}.{name}" for schema, name in rows]


def validation_frame(repo: BackupRepository, manifest: dict[str, Any] | None, counts: dict[str, int]) -> pd.DataFrame:
    """One row per table that must be there: present?, restored rows, rows the manifest promised."""
    promised: dict[str, int] = dict((manifest or {}).get("tables") or {})
    names = list(dict.fromkeys([*repo.expected_tables, *promised]))
    rows = []
    for name in names:
        restored, expected = counts.get(name), promised.get(name)
        deviation = 0.0
        if restored is not None and expected is not None:
            deviation = abs(restored - expected) / max(expected, 1) * 100
        rows.append(
            {
                "table": name,
                "present": restored is not None,
                "rows": restored if restored is not None else -1,
                "expected_rows": expected if expected is not None else -1,
                "deviation_pct": round(deviation, 3),
            }
        )
    return pd.DataFrame(rows, columns=["table", "present", "rows", "expected_rows", "deviation_pct"])


def validate_restore(repo: BackupRepository, manifest: dict[str, Any] | None, counts: dict[str, int]) -> GateResult:
    """Great Expectations gate: expected tables present, row counts within tolerance, not empty."""
    frame = validation_frame(repo, manifest, counts)
    if frame.empty:
        present = sum(1 for _ in counts)
        return GateResult(
            passed=present > 0, evaluated=1, findings=[] if present else ["the restored database holds no tables"]
        )
    return gate(
        frame,
        [
            expectation("ExpectColumnValuesToBeInSet", column="present", value_set=[True]),
            expectation(
                "ExpectColumnValuesToBeBetween",
                column="deviation_pct",
                min_value=0,
                max_value=repo.row_count_tolerance_pct,
            ),
        ],
    )


def restore_and_validate(
    repo: BackupRepository,
    manifest: dict[str, Any] | None,
    clear: Path,
    url: str,
    report: RestoreReport,
    timeout_s: float,
) -> RestoreReport:
    """Restore into url, time it (the RTO of the data step), inspect and validate. Never raises."""
    started = time.perf_counter()
    try:
        restore_into(repo.format, clear, url, timeout_s)
        report.seconds = round(time.perf_counter() - started, 3)
        report.tables, report.newest = inspect_database(url, repo.rpo_column)
        report.gate = validate_restore(repo, manifest, report.tables)
    except Exception as error:
        report.seconds = report.seconds or round(time.perf_counter() - started, 3)
        report.error = redact(describe_exception(getattr(error, "orig", None) or error))
    return report


def restore_test(
    repo: BackupRepository, manifest: dict[str, Any] | None, clear: Path, server_url: str, timeout_s: float
) -> RestoreReport:
    """Restore into a fresh scratch database on the restore server; the scratch DB is always dropped."""
    report = RestoreReport(database="(not created)")
    try:
        with scratch_database(server_url, report) as url:
            restore_and_validate(repo, manifest, clear, url, report, timeout_s)
    except Exception as error:
        cause = describe_exception(getattr(error, "orig", None) or error)
        report.error = report.error or redact(f"scratch database: {cause}")
        if report.dropped is None and report.database != "(not created)":
            report.dropped = False
    return report
