"""Maintenance: the estate's windows (failures then raise no alert) and what the weekly routine keeps up."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from opsbook.config.fields import HeaderMap, TargetUrl, relative_to_config
from opsbook.config.thresholds import Section
from opsbook.maintenance import MaintenanceWindow

# Folders whose own contents are the system's: cleaning "every log under /var" would reach
# databases and mail spools. Their subfolders (/var/log, /srv/app/logs) are fine.
SYSTEM_ROOTS = frozenset(
    Path(p)
    for p in (
        "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/mnt", "/media", "/opt",
        "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/usr/local", "/var", "/var/lib",
    )
)  # fmt: skip


class LogDirectory(Section):
    """A folder of logs: old files are compressed, expired ones deleted (never outside the folder)."""

    path: Path
    pattern: str | None = Field(
        None,
        description="glob of file names to manage (e.g. '*.out'); default: log names only: "
        "NAME.log, NAME.log.N, NAME.log-YYYYMMDD, each optionally .gz",
    )
    compress_after_days: int = Field(7, ge=1)
    delete_after_days: int | None = Field(None, ge=1, description="default: thresholds.logs.retention_days")

    @field_validator("path")
    @classmethod
    def _not_a_system_root(cls, value: Path, info: ValidationInfo) -> Path:
        path = relative_to_config(value, info)
        real = Path(os.path.realpath(path))
        if real in SYSTEM_ROOTS or path in SYSTEM_ROOTS or real == Path.home():
            raise ValueError(
                f"{path} is a system folder, not a log folder: name the logs' own folder (e.g. /var/log/app)"
            )
        return path

    @field_validator("pattern")
    @classmethod
    def _a_name_pattern(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip() or "/" in value or "\\" in value or value.startswith("~") or ".." in value:
            raise ValueError(f"{value!r}: a pattern of file names (e.g. '*.log'), relative, without folders or '..'")
        return value


class CacheAction(Section):
    """A configured cache action (e.g. a purge endpoint), POSTed during the maintenance window."""

    name: str = Field(min_length=1)
    url: TargetUrl
    headers: HeaderMap = Field(default_factory=dict)


class MaintenanceConfig(Section):
    windows: list[MaintenanceWindow] = Field(
        default_factory=list,
        description="estate-wide planned windows: failures found in one are reported but raise no alert",
    )
    log_directories: list[LogDirectory] = Field(default_factory=list)
    patch_reports: list[Path] = Field(
        default_factory=list, description="`apt list --upgradable` outputs dropped by other hosts"
    )
    check_local_patches: bool = Field(True, description="also ask this host's package manager")
    dependency_reports: list[Path] = Field(
        default_factory=list, description="`pip list --outdated --format=json` or `npm outdated --json` files"
    )
    cache_actions: list[CacheAction] = Field(default_factory=list)
    deadman_hours: float = Field(26, gt=0, description="alert when the daily checklist has not completed for this long")
    runbook_path: Path | None = Field(None, description="the runbook markdown whose steps must all be automated")

    @field_validator("patch_reports", "dependency_reports")
    @classmethod
    def _paths(cls, value: list[Path], info: ValidationInfo) -> list[Path]:
        return [relative_to_config(path, info) for path in value]

    _runbook = field_validator("runbook_path")(relative_to_config)

    @model_validator(mode="before")
    @classmethod
    def _replaced_keys(cls, data: Any) -> Any:
        """`day`/`start`/`timezone` (one weekly window that silenced nothing) became `windows`."""
        if isinstance(data, dict) and (old := sorted({"day", "start", "timezone"} & data.keys())):
            raise ValueError(
                f"{', '.join(old)}: replaced by `windows`, e.g. windows: [{{name: weekly, "
                "start: 2026-01-04T02:00, duration: 2h, recurrence: FREQ=WEEKLY;BYDAY=SU, "
                "timezone: UTC}]"
            )
        return data
