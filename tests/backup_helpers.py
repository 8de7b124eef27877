"""Builders for backup tests: a small real source database and repository configs."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from opsbook.config.backups import BackupRepository

SOURCE_SQL = [
    "CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL)",
    "CREATE TABLE events (id serial PRIMARY KEY, user_id int REFERENCES users, created_at timestamptz NOT NULL)",
    "INSERT INTO users (email) SELECT 'u' || g || '@example.test' FROM generate_series(1, 200) g",
    "INSERT INTO events (user_id, created_at) SELECT 1 + g % 200, now() - g * interval '1 minute' "
    "FROM generate_series(1, 2000) g",
]


def fill_source(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        for statement in SOURCE_SQL:
            connection.execute(text(statement))
    engine.dispose()


@contextmanager
def source_database(admin_url: str) -> Iterator[str]:
    """A filled source database on the real server, dropped afterwards (for module-scoped fixtures)."""
    name = f"opsbook_test_src_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        fill_source(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def copy_repository(source: Path, target: Path) -> Path:
    """A private copy of a repository (backups and manifests, timestamps kept)."""
    shutil.copytree(source, target)
    return target


def repository(path: Path, **overrides: Any) -> BackupRepository:
    data: dict[str, Any] = {
        "name": "main",
        "path": str(path),
        "expected_tables": ["users", "events"],
        "rpo_column": "public.events.created_at",
    }
    data.update(overrides)
    return BackupRepository.model_validate(data)
