"""Verification records on SQLite and the real PostgreSQL: what DR reads as 'verified'."""

from __future__ import annotations

from datetime import timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from opsbook.results import CheckResult, Status, utcnow
from opsbook.store import open_store
from opsbook.store.models import Base
from opsbook.tasks.backups.records import record_verification, verifications, verified_backups


def result(status: Status, message: str = "") -> CheckResult:
    return CheckResult(check="backup.integrity", target="main", component="backups", status=status, message=message)


def test_latest_verification_of_each_backup_decides(history_url: str) -> None:
    now = utcnow()
    common = dict(kind="daily", repository="main", size_bytes=5 * 2**31)
    record_verification(
        history_url, backup="a.dump", results=[result(Status.OK)], verified_at=now - timedelta(days=2), **common
    )
    record_verification(
        history_url, backup="b.dump", results=[result(Status.OK)], verified_at=now - timedelta(days=1), **common
    )
    record_verification(
        history_url, backup="b.dump", results=[result(Status.FAIL, "checksum mismatch")], verified_at=now, **common
    )
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


def test_dr_drill_freshness_warns_when_no_drill_passed_recently(history_url: str) -> None:
    from opsbook.config.backups import DrTarget
    from opsbook.tasks.backups.verify import drill_freshness

    now = utcnow()
    target = DrTarget(name="dr-eu", repository="main", url="postgresql+psycopg://dr@127.0.0.1/app")

    def drill(days_ago: float, status: Status, repository: str = "main") -> None:
        record_verification(
            history_url,
            kind="dr-drill",
            repository=repository,
            backup="a.dump",
            results=[result(status, "restore failed")],
            verified_at=now - timedelta(days=days_ago),
            restore_seconds=12.0,
        )

    never = drill_freshness(history_url, target, 31, now)
    assert never.status is Status.WARN and "no passing DR drill recorded for main" in never.message
    drill(45, Status.OK)
    drill(1, Status.OK, repository="other")  # another repository's drill says nothing of this one
    overdue = drill_freshness(history_url, target, 31, now)
    assert overdue.status is Status.WARN and "45 days ago" in overdue.message and "overdue" in overdue.message
    drill(10, Status.OK)
    fresh = drill_freshness(history_url, target, 31, now)
    assert fresh.status is Status.OK and fresh.value == 10.0 and fresh.threshold == 31
    drill(2, Status.FAIL)
    failed = drill_freshness(history_url, target, 31, now)
    assert failed.status is Status.WARN and "latest drill" in failed.message and "failed" in failed.message
