"""Log rotation and cleanup: compress old logs, delete expired ones. Dry-run unless told to apply.

Safety rules, whatever the config says: only regular files directly matched under the configured
root are touched; symbolic links are never followed or deleted; a path whose real location is
outside the root is skipped; an already compressed file is never compressed again.
"""

from __future__ import annotations

import gzip
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from opsbook.checks import AlertType, declare
from opsbook.config.maintenance import LogDirectory
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, utcnow

COMPONENT = "maintenance"

LOG_CLEANUP = declare(
    "maintenance.logs",
    title="Log rotation and cleanup",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P3,
    unit="files",
    runbook_steps=("Weekly Maintenance Routine / Performing log rotation and cleanup",),
)


@dataclass
class LogPlan:
    root: Path
    compress: list[Path] = field(default_factory=list)
    delete: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "path: why"


def plan_cleanup(directory: LogDirectory, retention_days: int, now: datetime) -> LogPlan:
    """What cleanup would do in one log directory, without doing it."""
    root = directory.path.resolve(strict=True)
    plan = LogPlan(root=root)
    delete_after = timedelta(days=directory.delete_after_days or retention_days)
    compress_after = timedelta(days=directory.compress_after_days)
    for path in sorted(root.rglob(directory.pattern)):
        if path.is_symlink():
            plan.skipped.append(f"{path}: symbolic link, never followed")
            continue
        if not path.is_file():
            continue
        real = path.resolve()
        if not real.is_relative_to(root):
            plan.skipped.append(f"{path}: outside {root}")
            continue
        age = now - datetime.fromtimestamp(real.stat().st_mtime, now.tzinfo)
        if age >= delete_after:
            plan.delete.append(real)
        elif age >= compress_after and real.suffix != ".gz":
            plan.compress.append(real)
    return plan


def apply_plan(plan: LogPlan) -> None:
    """Compress (gzip, keeping the mtime) and delete as planned."""
    for path in plan.compress:
        target = path.with_name(path.name + ".gz")
        with path.open("rb") as source, gzip.open(target, "wb") as sink:
            shutil.copyfileobj(source, sink)
        stat = path.stat()
        os.utime(target, (stat.st_atime, stat.st_mtime))
        path.unlink()
    for path in plan.delete:
        path.unlink()


def clean_directory(
    directory: LogDirectory, retention_days: int, *, apply: bool, now: datetime | None = None
) -> CheckResult:
    started = utcnow()
    try:
        plan = plan_cleanup(directory, retention_days, now or started)
        if apply:
            apply_plan(plan)
    except OSError as error:
        return LOG_CLEANUP.error(str(directory.path), error)
    verb = "compressed" if apply else "would compress"
    verb_delete = "deleted" if apply else "would delete"
    message = f"{verb} {len(plan.compress)}, {verb_delete} {len(plan.delete)} file(s)"
    if plan.skipped:
        message += f", skipped {len(plan.skipped)} unsafe path(s)"
    return LOG_CLEANUP.result(
        str(plan.root),
        Status.OK,
        started_at=started,
        value=float(len(plan.delete)),
        unit="files",
        message=message + ("" if apply else " (dry run)"),
        details={
            "dry_run": not apply,
            "compress": [str(p) for p in plan.compress],
            "delete": [str(p) for p in plan.delete],
            "skipped": plan.skipped,
        },
    )


@task(name="rotate-and-clean-logs", cache_policy=NO_CACHE, timeout_seconds=1800)
def rotate_and_clean_logs(
    directories: list[LogDirectory], retention_days: int, apply: bool = False
) -> list[CheckResult]:
    """The runbook's `rotate-logs.sh` and `cleanup-old-logs.sh --retention 30d`, dry-run by default."""
    if not directories:
        return [LOG_CLEANUP.skipped("no log directories configured")]
    return [clean_directory(d, retention_days, apply=apply) for d in directories]
