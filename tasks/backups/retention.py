"""Grandfather-father-son retention: which backups a policy keeps, and pruning the rest.

As restic's and borg's `--keep-daily/--keep-weekly/--keep-monthly`: each rule keeps the newest
backup of each of its last N periods that hold a backup; the rules are OR-combined and the
newest backup is always kept. Periods are UTC days, ISO weeks and months, whatever offset a
manifest's `created_at` was written in. A backup dated beyond the allowed clock skew in the
future is kept and set aside: it neither counts as the newest nor fills a period, so it can
never push today's backup out (with `keep_daily: 1`, a manifest dated 2999 used to).

Pruning is a dry run unless `apply` is given, and deletes only plain entries directly inside
the repository root (no symlinks, nothing resolved elsewhere).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opsbook.config.backups import BackupRepository, Retention
from opsbook.results import utcnow
from opsbook.tasks.backups.files import Backup, ahead_of_clock, manifest_path

FUTURE = "future-dated (clock skew): kept, never counted"

_PERIODS: dict[str, Callable[[datetime], tuple[int, ...]]] = {
    "daily": lambda t: (t.year, t.month, t.day),
    "weekly": lambda t: tuple(t.isocalendar()[:2]),
    "monthly": lambda t: (t.year, t.month),
}


@dataclass
class RetentionPlan:
    keep: dict[str, list[str]] = field(default_factory=dict)  # backup name -> reasons
    prune: list[Backup] = field(default_factory=list)


def plan_retention(
    backups: list[Backup],
    policy: Retention,
    *,
    now: datetime | None = None,
    max_skew: timedelta = timedelta(minutes=5),
) -> RetentionPlan:
    """Split backups (any order) into kept (with the rules that keep each) and prunable."""
    now = now or utcnow()
    plan = RetentionPlan()
    for backup in backups:
        if ahead_of_clock(backup.taken_at, now, max_skew) is not None:
            plan.keep[backup.name] = [FUTURE]
    trusted = [b for b in backups if b.name not in plan.keep]
    ordered = sorted(trusted, key=lambda b: (b.taken_at, b.name), reverse=True)
    if ordered:
        plan.keep[ordered[0].name] = ["newest"]
    counts = {"daily": policy.keep_daily, "weekly": policy.keep_weekly, "monthly": policy.keep_monthly}
    for rule, period in _PERIODS.items():
        remaining, last = counts[rule], None
        for backup in ordered:
            if remaining <= 0:
                break
            key = period(backup.taken_at.astimezone(UTC))
            if key != last:
                plan.keep.setdefault(backup.name, []).append(rule)
                remaining, last = remaining - 1, key
    plan.prune = [b for b in ordered if b.name not in plan.keep]
    return plan


class UnsafePath(ValueError):
    """A path that pruning refuses to delete: outside the root, or a symlink."""


def _safe_target(root: Path, path: Path) -> Path:
    if path.is_symlink():
        raise UnsafePath(f"{path} is a symlink; not deleted")
    resolved = path.resolve()
    if resolved.parent != root.resolve():
        raise UnsafePath(f"{path} is not directly inside the repository root {root}; not deleted")
    return resolved


def prune(repo: BackupRepository, plan: RetentionPlan, *, apply: bool = False) -> list[str]:
    """Delete the plan's prunable backups and their manifests when apply; return what was (or would be) removed.

    The newest backup is never in plan.prune; it is checked again here all the same.
    """
    newest = next((name for name, why in plan.keep.items() if "newest" in why), None)
    if any(b.name == newest for b in plan.prune):
        raise UnsafePath(f"refusing to prune the newest backup {newest}")
    # Every target is checked before anything is deleted: one unsafe entry stops the whole prune.
    targets = [(backup, _safe_target(repo.path, backup.path)) for backup in plan.prune]
    removed = []
    for backup, target in targets:
        sidecar = manifest_path(backup.path)
        if apply:
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink()
            if sidecar.exists() and not sidecar.is_symlink():
                _safe_target(repo.path, sidecar).unlink()
        removed.append(backup.name)
    return removed
