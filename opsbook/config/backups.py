"""Backup repositories, the restore test server and the disaster-recovery plan.

A repository is a folder of PostgreSQL dumps, each with a `<backup>.manifest.json` sidecar
(sha256, row counts, tables, created_at). Encryption, where required, is OpenPGP symmetric
encryption with `gpg` (AES-256, integrity-protected; the scheme Barman uses), the passphrase
taken from `${ENV}`: any operator can decrypt a backup with stock `gpg --decrypt`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from opsbook.config.fields import relative_to_config
from opsbook.config.thresholds import Limit, Section, limit
from opsbook.durations import POSITIVE, parse_duration

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


def _postgres_url(value: str) -> str:
    if value.startswith("postgresql://"):
        value = value.replace("postgresql://", "postgresql+psycopg://", 1)
    if not value.startswith("postgresql+psycopg://"):
        raise ValueError("must be a postgresql+psycopg:// URL")
    return value


class Encryption(Section):
    """Whether backups must be encrypted, and the passphrase that must decrypt them."""

    required: bool = Field(False, description="plaintext backups fail the check")
    method: Literal["gpg"] = Field("gpg", description="OpenPGP symmetric encryption (AES-256) via gpg")
    passphrase: str | None = Field(None, description="write ${ENV_VAR}; never literal")

    @model_validator(mode="after")
    def _key_when_required(self) -> Encryption:
        if self.required and not self.passphrase:
            raise ValueError("passphrase is required when encryption is required (use ${ENV_VAR})")
        return self


class Retention(Section):
    """Grandfather-father-son: keep the newest backup of each of the last N days, weeks, months.

    The three rules are OR-combined (as restic's and borg's --keep-*); the newest backup is
    always kept.
    """

    keep_daily: int = Field(7, ge=0, le=3660)
    keep_weekly: int = Field(4, ge=0, le=520)
    keep_monthly: int = Field(12, ge=0, le=1200)


class BackupRepository(Section):
    """One folder of dumps of one database."""

    name: str = Field(min_length=1, pattern=_NAME)
    path: Path = Field(description="the repository root; nothing outside it is ever read or deleted")
    format: Literal["custom", "directory", "plain_gz"] = "custom"
    database: str | None = Field(None, description="the database these dumps are of (for reports)")
    max_age: timedelta = Field(timedelta(hours=26), description="the newest backup must be younger")
    max_clock_skew: timedelta = Field(
        timedelta(minutes=5),
        description="a backup (or restored row) dated further ahead of this host's clock is refused as clock skew",
    )
    min_size_ratio: float = Field(0.5, gt=0, le=1, description="newest size / previous size must reach this")
    manifest_required: bool = True
    encryption: Encryption = Field(default_factory=Encryption)
    retention: Retention = Field(default_factory=Retention)
    expected_tables: list[str] = Field(default_factory=list, description="schema.table names the restore must hold")
    row_count_tolerance_pct: float = Field(1.0, ge=0, le=100, description="restored rows vs manifest")
    rpo_column: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][\w]*\.[A-Za-z_][\w]*\.[A-Za-z_][\w]*$",
        description="schema.table.column whose newest value dates the data",
    )
    rpo_s: Limit = limit(93600, 172800)  # achieved RPO (now - newest row) in seconds: 26 h, 48 h
    restore_test: bool = Field(True, description="restore the newest backup into a scratch database daily")

    @field_validator("max_age", mode="before")
    @classmethod
    def _duration(cls, value: str | float | timedelta) -> timedelta:
        return parse_duration(value, minimum=POSITIVE)

    @field_validator("max_clock_skew", mode="before")
    @classmethod
    def _skew(cls, value: str | float | timedelta) -> timedelta:
        return parse_duration(value, maximum=timedelta(days=1))

    _absolute = field_validator("path")(relative_to_config)

    @field_validator("expected_tables")
    @classmethod
    def _qualified(cls, value: list[str]) -> list[str]:
        return [t if "." in t else f"public.{t}" for t in value]

    @model_validator(mode="after")
    def _directory_not_encrypted(self) -> BackupRepository:
        if self.format == "directory" and self.encryption.required:
            raise ValueError("encryption is supported for single-file formats (custom, plain_gz), not directory")
        return self


class RestoreServer(Section):
    """Where restore tests create (and always drop) their scratch databases."""

    url: str = Field(description="postgresql+psycopg://user:${PASSWORD}@host:5432/postgres (an admin database)")
    timeout_s: float = Field(1800, gt=0, le=86400, description="limit of one restore")
    rto_s: Limit = limit(900, 3600)

    @field_validator("url")
    @classmethod
    def _postgres(cls, value: str) -> str:
        return _postgres_url(value)


class SwitchOverAction(Section):
    """One DNS or traffic change: a command or a webhook. Each waits for a human approval."""

    name: str = Field(min_length=1, pattern=_NAME)
    command: list[str] | None = Field(None, description="argv, run without a shell")
    webhook: str | None = Field(None, pattern=r"^https?://", description="POSTed a JSON body")
    timeout_s: float = Field(120, gt=0, le=3600)

    @model_validator(mode="after")
    def _one_kind(self) -> SwitchOverAction:
        if (self.command is None) == (self.webhook is None):
            raise ValueError("give exactly one of command or webhook")
        if self.command is not None and not self.command:
            raise ValueError("command must not be empty")
        return self


class DrTarget(Section):
    """A database to restore into during a disaster (drills restore into a scratch copy beside it)."""

    name: str = Field(min_length=1, pattern=_NAME)
    url: str = Field(description="postgresql+psycopg:// URL of the DR database")
    repository: str = Field(description="the backup repository restored into this target")

    @field_validator("url")
    @classmethod
    def _postgres(cls, value: str) -> str:
        return _postgres_url(value)


class DisasterRecovery(Section):
    targets: list[DrTarget] = Field(default_factory=list)
    switch_over: list[SwitchOverAction] = Field(default_factory=list)
    communication: list[str] = Field(
        default_factory=lambda: ["notify the DR team", "update the status page", "notify stakeholders"],
        description="communication steps recorded in the DR record and report",
    )
    approval_timeout_s: int = Field(3600, ge=10, le=86400, description="how long an action waits for approval")
    drill_every_days: float = Field(31, gt=0, description="the daily backup step warns when no drill passed for longer")


class BackupsConfig(Section):
    source_url: str | None = Field(None, description="database `opsbook backup create` dumps by default")
    repositories: list[BackupRepository] = Field(default_factory=list)
    restore_server: RestoreServer | None = None
    disaster_recovery: DisasterRecovery = Field(default_factory=DisasterRecovery)

    @field_validator("source_url")
    @classmethod
    def _source(cls, value: str | None) -> str | None:
        return None if value is None else _postgres_url(value)

    @model_validator(mode="after")
    def _consistent(self) -> BackupsConfig:
        names = [r.name for r in self.repositories]
        if len(set(names)) != len(names):
            raise ValueError(f"repository names must be unique, got {names}")
        for target in self.disaster_recovery.targets:
            if target.repository not in names:
                raise ValueError(
                    f"disaster_recovery target {target.name!r} names unknown repository {target.repository!r}"
                )
        return self

    def repository(self, name: str) -> BackupRepository:
        for repo in self.repositories:
            if repo.name == name:
                return repo
        raise KeyError(f"no backup repository named {name!r}")
