"""`opsbook backup create`: a real pg_dump and its manifest, for teams without a backup tool.

The row counts in the manifest and the dump come from one exported snapshot, so the restore
test can compare them exactly. The dump is written under a hidden temporary name and renamed
only when complete (and encrypted, where the policy says so): a crash never leaves a file that
looks like a finished backup.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from opsbook.config.backups import BackupRepository
from opsbook.results import utcnow
from opsbook.tasks.backups import crypto
from opsbook.tasks.backups.files import backup_suffix, checksums, tree_size, write_manifest
from opsbook.tasks.backups.pgtools import ToolError, database_name, libpq_env, run, tool
from opsbook.tasks.backups.restore import count_rows, quote_ident, user_tables

_FORMAT_FLAG = {"custom": "--format=custom", "directory": "--format=directory", "plain_gz": "--format=plain"}


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _dump(url: str, snapshot: str, fmt: str, target: Path, timeout_s: float) -> None:
    argv = [tool("pg_dump"), _FORMAT_FLAG[fmt], f"--snapshot={snapshot}", "--no-password", database_name(url)]
    if fmt != "plain_gz":
        run([*argv, "--file", str(target)], url=url, timeout_s=timeout_s)
        return
    # Plain SQL is gzipped as it streams: the dump never sits uncompressed on disk.
    with (
        gzip.open(target, "wb") as sink,
        subprocess.Popen(argv, env=libpq_env(url), stdout=subprocess.PIPE, stderr=subprocess.PIPE) as dump,
    ):
        assert dump.stdout is not None
        shutil.copyfileobj(dump.stdout, sink, 1 << 20)
        _, stderr = dump.communicate(timeout=timeout_s)
    if dump.returncode != 0:
        raise ToolError(f"pg_dump exited {dump.returncode}: {stderr.decode('utf-8', 'replace').strip()[-600:]}")


def create_backup(
    url: str,
    repo: BackupRepository,
    *,
    progress: Callable[[str], None] = lambda _: None,
    now: datetime | None = None,
    timeout_s: float = 3600,
) -> Path:
    """Dump the database of url into the repository; return the finished backup's path."""
    taken = now or utcnow()
    database = database_name(url)
    repo.path.mkdir(parents=True, exist_ok=True)
    encrypt = repo.encryption.required
    final = repo.path / f"{database}-{taken:%Y%m%dT%H%M%SZ}{backup_suffix(repo.format, encrypt)}"
    if final.exists():
        raise FileExistsError(f"{final} already exists")
    partial = repo.path / f".{final.name}.partial"
    clear = repo.path / f".{final.name}.clear"
    engine = create_engine(url, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as connection:
            connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
            snapshot: str = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            progress(f"counting rows of {database} in snapshot {snapshot}")
            tables = user_tables(connection)
            counts = count_rows(connection, tables)
            newest = _newest(connection, repo.rpo_column, counts)
            progress(f"pg_dump ({repo.format}) of {len(tables)} table(s), {sum(counts.values()):,} row(s)")
            _dump(url, snapshot, repo.format, clear if encrypt else partial, timeout_s)
            connection.rollback()
        if encrypt:
            progress("encrypting with gpg (AES-256)")
            assert repo.encryption.passphrase
            crypto.encrypt_file(clear, partial, repo.encryption.passphrase, timeout_s)
        partial.rename(final)
        progress(f"checksumming {final.name}")
        manifest: dict[str, Any] = {
            "format": repo.format,
            "file": final.name,
            "database": database,
            "created_at": taken.isoformat(),
            "sha256": checksums(final),
            "size": tree_size(final),
            "tables": counts,
            "encrypted": "gpg" if encrypt else None,
            "snapshot": snapshot,
            "tool": "opsbook backup create",
        }
        if newest is not None:
            manifest["newest"] = {"column": repo.rpo_column, "value": newest}
        write_manifest(final, manifest)
        progress(f"done: {final} ({manifest['size']:,} bytes)")
        return final
    except BaseException:
        _remove(partial)
        raise
    finally:
        _remove(clear)
        engine.dispose()


def _newest(connection: Any, rpo_column: str | None, counts: dict[str, int]) -> str | None:
    if not rpo_column:
        return None
    schema, table, column = rpo_column.split(".")
    if f"{schema}.{table}" not in counts:
        return None
    value = connection.execute(
        text(f"SELECT max({quote_ident(column)}) FROM {quote_ident(schema)}.{quote_ident(table)}")
    ).scalar_one()
    return value.isoformat() if hasattr(value, "isoformat") else (None if value is None else str(value))
