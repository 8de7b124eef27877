"""Backup verification records: which backup was verified when, how, and what it proved.

The disaster-recovery flow restores the newest backup with a passing record; the monthly
report reads drills (kind `dr-drill`) from here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.store.models import Base
from opsbook.store.types import BoundedString, CleanText


class BackupVerification(Base):
    __tablename__ = "backup_verifications"
    __table_args__ = (Index("ix_backup_verifications_repo_verified", "repository", "verified_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str | None] = mapped_column(BoundedString(64), index=True)
    kind: Mapped[str] = mapped_column(BoundedString(20), doc="daily, dr-drill or dr")
    repository: Mapped[str] = mapped_column(BoundedString(200))
    backup: Mapped[str] = mapped_column(BoundedString(500))
    taken_at: Mapped[datetime | None]
    verified_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(BoundedString(10), doc="worst status of the backup's checks")
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(BoundedString(64))
    restore_seconds: Mapped[float | None] = mapped_column(Float, doc="RTO of the data step")
    rpo_seconds: Mapped[float | None] = mapped_column(Float, doc="verified_at minus the newest row")
    scratch_database: Mapped[str | None] = mapped_column(BoundedString(100))
    checks: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="check id -> status and message")
    message: Mapped[str] = mapped_column(CleanText, default="")
