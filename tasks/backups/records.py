"""Verification records in the history store: written after every verification, read by DR."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from opsbook.results import CheckResult, Status, worst_status
from opsbook.secrets import redact
from opsbook.store import open_store
from opsbook.store.backup_models import BackupVerification


def record_verification(
    history_url: str,
    *,
    kind: str,
    repository: str,
    backup: str,
    results: Sequence[CheckResult],
    verified_at: datetime,
    run_id: str | None = None,
    taken_at: datetime | None = None,
    size_bytes: int | None = None,
    sha256: str | None = None,
    restore_seconds: float | None = None,
    rpo_seconds: float | None = None,
    scratch_database: str | None = None,
) -> None:
    status = worst_status(r.status for r in results)
    problems = [f"{r.check}: {r.message}" for r in results if r.status.is_problem]
    row = BackupVerification(
        run_id=run_id,
        kind=kind,
        repository=repository,
        backup=backup,
        taken_at=taken_at,
        verified_at=verified_at,
        status=status.value,
        size_bytes=size_bytes,
        sha256=sha256 if isinstance(sha256, str) else None,
        restore_seconds=restore_seconds,
        rpo_seconds=rpo_seconds,
        scratch_database=scratch_database,
        checks=redact({r.check: {"status": r.status.value, "message": r.message} for r in results}),
        message=redact("; ".join(problems) or f"{status.value}: verified"),
    )
    with open_store(history_url).session() as session, session.begin():
        session.add(row)


def verified_backups(history_url: str, repository: str) -> list[str]:
    """Names of the repository's backups whose latest verification passed, most recently verified first."""
    with open_store(history_url).session() as session:
        rows = session.scalars(
            select(BackupVerification)
            .where(BackupVerification.repository == repository)
            .order_by(BackupVerification.verified_at.desc())
        ).all()
    latest: dict[str, str] = {}
    for row in rows:
        latest.setdefault(row.backup, row.status)
    return [name for name, status in latest.items() if status in (Status.OK.value, Status.WARN.value)]


def verifications(history_url: str, repository: str | None = None, kind: str | None = None) -> list[BackupVerification]:
    with open_store(history_url).session() as session:
        query = select(BackupVerification).order_by(BackupVerification.verified_at.desc())
        if repository:
            query = query.where(BackupVerification.repository == repository)
        if kind:
            query = query.where(BackupVerification.kind == kind)
        return list(session.scalars(query).all())
