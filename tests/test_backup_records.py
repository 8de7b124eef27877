"""Verification records on SQLite and the real PostgreSQL: what DR reads as 'verified'."""

from __future__ import annotations

from datetime import timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from opsbook.results import CheckResult, Status, utcnow
from opsbook.store import open_store
from opsbook.store.models import Base
from tasks.backups.records import record_verification, verifications, verified_backups


def result(status: Status, message: str = "") -> CheckResult:
    return CheckResult(check="backup.integrity", target="main", component="backups", status=status, message=message)


def test_latest_verification_of_each_backup_decides(history_url: str) -> None:
    now = utcnow()
    common = dict(kind="daily", repository="main", size_bytes=5 * 2**31)
    record_verification(history_url, backup="a.dump", results=[result(Status.OK)], verified_at=now - timedelta(days=2),
                        **common)
    record_verification(history_url, backup="b.dump", results=[result(Status.OK)], verified_at=now - timedelta(days=1),
                        **common)
    record_verification(history_url, backup="b.dump", results=[result(Status.FAIL, "checksum mismatch")],
                        verified_at=now, **common)
    assert verified_backups(history_url, "main") == ["a.dump"]
    newest = verifications(history_url, "main")[0]
    assert newest.status == "fail" and newest.message == "backup.integrity: checksum mismatch"
    assert newest.size_bytes == 5 * 2**31


def test_models_match_the_migrations(history_url: str) -> None:
    store = open_store(history_url)
    store.upgrade()
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert not [d for d in diff if "backup_verifications" in str(d)], diff
