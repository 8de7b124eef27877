"""Benchmark: backup create and full verification (integrity read, restore test, GE gate) at size.

Usage: python bench/backup_restore.py [rows] [admin_url]
Creates a throw-away database with `rows` events on the server, dumps it with
`opsbook backup create`'s code, verifies the newest backup twice (the first call pays the
Great Expectations import) and drops everything it created.
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text

from opsbook.config.backups import BackupRepository, RestoreServer
from opsbook.tasks.backups.create import create_backup
from opsbook.tasks.backups.verify import verify_repository


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    admin_url = sys.argv[2] if len(sys.argv) > 2 else "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    name = f"opsbook_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(
                text("CREATE TABLE events (id bigserial PRIMARY KEY, payload text, created_at timestamptz)")
            )
            connection.execute(
                text(
                    "INSERT INTO events (payload, created_at) SELECT md5(g::text), now() - g * "
                    "interval '1 second' FROM generate_series(1, :n) g"
                ),
                {"n": rows},
            )
        engine.dispose()
        with tempfile.TemporaryDirectory() as folder:
            repo = BackupRepository(
                name="bench", path=Path(folder), expected_tables=["events"], rpo_column="public.events.created_at"
            )
            started = time.perf_counter()
            path = create_backup(url, repo)
            print(f"rows {rows:,}: backup create {time.perf_counter() - started:.2f} s, {path.stat().st_size:,} bytes")
            for attempt in (1, 2):
                started = time.perf_counter()
                results = verify_repository(repo, RestoreServer(url=admin_url))[0]
                total = time.perf_counter() - started
                restore = next(r for r in results if r.check == "backup.restore")
                print(
                    f"verify #{attempt}: {total:.2f} s total, restore {restore.value:.2f} s; "
                    + ", ".join(f"{r.check.split('.')[1]}={r.status.value}" for r in results)
                )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
