"""The weekly maintenance window and what it maintains: logs, patches, dependencies, caches."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import AnyHttpUrl, Field, ValidationInfo, field_validator

from opsbook.config.thresholds import Section

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _relative_to_config(value: Path, info: ValidationInfo) -> Path:
    base = Path((info.context or {}).get("base_dir", "."))
    return value if value.is_absolute() else (base / value).resolve()


class LogDirectory(Section):
    """A folder of logs: old files are compressed, expired ones deleted (never outside the folder)."""

    path: Path
    pattern: str = Field("*.log*", description="glob of the files to manage, relative to path")
    compress_after_days: int = Field(7, ge=1)
    delete_after_days: int | None = Field(None, ge=1, description="default: thresholds.logs.retention_days")

    _resolve = field_validator("path")(_relative_to_config)


class CacheAction(Section):
    """A configured cache action (e.g. a purge endpoint), POSTed during the maintenance window."""

    name: str = Field(min_length=1)
    url: AnyHttpUrl
    headers: dict[str, str] = Field(default_factory=dict)


class MaintenanceConfig(Section):
    day: Weekday = "sunday"
    start: time = time(2, 0)
    timezone: str = "UTC"
    log_directories: list[LogDirectory] = Field(default_factory=list)
    patch_reports: list[Path] = Field(default_factory=list,
                                      description="`apt list --upgradable` outputs dropped by other hosts")
    check_local_patches: bool = Field(True, description="also ask this host's package manager")
    dependency_reports: list[Path] = Field(default_factory=list,
                                           description="`pip list --outdated --format=json` or `npm outdated --json` files")
    cache_actions: list[CacheAction] = Field(default_factory=list)
    deadman_hours: float = Field(26, gt=0, description="alert when the daily checklist has not completed for this long")
    runbook_path: Path | None = Field(None, description="the runbook markdown whose steps must all be automated")

    @field_validator("patch_reports", "dependency_reports")
    @classmethod
    def _paths(cls, value: list[Path], info: ValidationInfo) -> list[Path]:
        return [_relative_to_config(path, info) for path in value]

    @field_validator("runbook_path")
    @classmethod
    def _runbook(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _relative_to_config(value, info)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value
