"""GFS retention on real files: what is kept, what is pruned, and what pruning never touches."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsbook.config.backups import Retention
from opsbook.tasks.backups.files import Backup, list_backups, manifest_path, write_manifest
from opsbook.tasks.backups.retention import FUTURE, UnsafePath, plan_retention, prune
from tests.backup_helpers import repository

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


def make_repo(root: Path, days: int) -> None:
    """One backup a day for `days` days, each with its manifest, newest at NOW."""
    root.mkdir(parents=True, exist_ok=True)
    for age in range(days):
        taken = NOW - timedelta(days=age)
        path = root / f"app-{taken:%Y%m%dT%H%M%SZ}.dump"
        path.write_bytes(b"PGDMP" + b"x" * 100)
        write_manifest(path, {"sha256": "-", "created_at": taken.isoformat()})
        os.utime(path, (taken.timestamp(), taken.timestamp()))


def test_gfs_keeps_the_newest_of_each_period_or_combined(tmp_path: Path) -> None:
    make_repo(tmp_path, 100)
    backups = list_backups(repository(tmp_path))
    plan = plan_retention(backups, Retention(keep_daily=7, keep_weekly=4, keep_monthly=3))
    kept = sorted(plan.keep, reverse=True)
    assert kept[0] == "app-20261127T060000Z.dump" and "newest" in plan.keep[kept[0]]
    daily = [n for n, why in plan.keep.items() if "daily" in why]
    weekly = [n for n, why in plan.keep.items() if "weekly" in why]
    monthly = [n for n, why in plan.keep.items() if "monthly" in why]
    assert len(daily) == 7 and len(weekly) == 4 and len(monthly) == 3
    # Sundays close ISO weeks; 27 Nov 2026 is a Friday, so the newest weekly is today, then Sundays.
    assert sorted(weekly, reverse=True)[1] == "app-20261122T060000Z.dump"
    assert "app-20261031T060000Z.dump" in monthly and "app-20260930T060000Z.dump" in monthly
    assert len(plan.prune) == 100 - len(plan.keep)


def test_prune_is_a_dry_run_unless_applied(tmp_path: Path) -> None:
    make_repo(tmp_path, 20)
    repo = repository(tmp_path, retention={"keep_daily": 3, "keep_weekly": 0, "keep_monthly": 0})
    plan = plan_retention(list_backups(repo), repo.retention)
    would = prune(repo, plan)
    assert len(would) == 17 and len(list_backups(repo)) == 20

    removed = prune(repo, plan, apply=True)
    assert removed == would
    left = list_backups(repo)
    assert [b.name for b in left] == sorted(plan.keep, reverse=True)
    assert not any(manifest_path(tmp_path / name).exists() for name in removed)


def test_newest_is_kept_even_with_zero_keep_counts(tmp_path: Path) -> None:
    make_repo(tmp_path, 3)
    repo = repository(tmp_path, retention={"keep_daily": 0, "keep_weekly": 0, "keep_monthly": 0})
    plan = plan_retention(list_backups(repo), repo.retention)
    prune(repo, plan, apply=True)
    assert [b.name for b in list_backups(repo)] == ["app-20261127T060000Z.dump"]


def test_pruning_never_follows_symlinks_or_leaves_the_root(tmp_path: Path) -> None:
    root, outside = tmp_path / "repo", tmp_path / "outside"
    make_repo(root, 5)
    outside.mkdir()
    precious = outside / "precious-20200101T000000Z.dump"
    precious.write_bytes(b"PGDMP keep me")
    (root / precious.name).symlink_to(precious)
    repo = repository(root, retention={"keep_daily": 1, "keep_weekly": 0, "keep_monthly": 0})

    backups = list_backups(repo)
    assert precious.name not in {b.name for b in backups}  # a symlink is never a backup
    prune(repo, plan_retention(backups, repo.retention), apply=True)
    assert precious.read_bytes() == b"PGDMP keep me"

    stray = Backup(
        path=precious, format="custom", encrypted=False, size=1, mtime=NOW - timedelta(days=900), manifest=None
    )
    plan = plan_retention([*list_backups(repo), stray], repo.retention)
    assert stray in plan.prune
    before = {b.name for b in list_backups(repo)}
    with pytest.raises(UnsafePath, match="not directly inside the repository root"):
        prune(repo, plan, apply=True)
    assert precious.exists() and {b.name for b in list_backups(repo)} == before  # nothing deleted at all


def _backup_at(root: Path, name: str, created_at: str, size: int = 100) -> Path:
    path = root / name
    path.write_bytes(b"PGDMP" + b"x" * size)
    write_manifest(path, {"sha256": "-", "created_at": created_at})
    return path


def test_a_backup_from_the_future_never_pushes_todays_backup_out(tmp_path: Path) -> None:
    make_repo(tmp_path, 3)
    _backup_at(tmp_path, "app-29990101T000000Z.dump", "2999-01-01T00:00:00+00:00")
    repo = repository(tmp_path, retention={"keep_daily": 1, "keep_weekly": 0, "keep_monthly": 0})
    plan = plan_retention(list_backups(repo), repo.retention, now=NOW)
    assert plan.keep["app-20261127T060000Z.dump"] == ["newest", "daily"]  # today's: was pruned before
    assert plan.keep["app-29990101T000000Z.dump"] == [FUTURE]
    prune(repo, plan, apply=True)
    assert sorted(b.name for b in list_backups(repo)) == ["app-20261127T060000Z.dump", "app-29990101T000000Z.dump"]


def test_a_few_minutes_of_skew_is_tolerated(tmp_path: Path) -> None:
    make_repo(tmp_path, 2)
    _backup_at(tmp_path, "app-soon.dump", (NOW + timedelta(minutes=4)).isoformat())
    repo = repository(tmp_path, retention={"keep_daily": 1, "keep_weekly": 0, "keep_monthly": 0})
    plan = plan_retention(list_backups(repo), repo.retention, now=NOW)
    assert plan.keep == {"app-soon.dump": ["newest", "daily"]}
    strict = plan_retention(list_backups(repo), repo.retention, now=NOW, max_skew=timedelta(minutes=1))
    assert strict.keep["app-soon.dump"] == [FUTURE] and "newest" in strict.keep["app-20261127T060000Z.dump"]


def test_days_are_utc_days_whatever_offset_a_manifest_was_written_in(tmp_path: Path) -> None:
    # 23:30 on the 26th at -05:00 is 04:30 UTC on the 27th: the same UTC day as NOW's 06:00 backup.
    make_repo(tmp_path, 1)
    _backup_at(tmp_path, "app-offset.dump", "2026-11-26T23:30:00-05:00")
    _backup_at(tmp_path, "app-yesterday.dump", "2026-11-26T12:00:00+00:00")
    repo = repository(tmp_path, retention={"keep_daily": 2, "keep_weekly": 0, "keep_monthly": 0})
    plan = plan_retention(list_backups(repo), repo.retention, now=NOW)
    assert plan.keep == {"app-20261127T060000Z.dump": ["newest", "daily"], "app-yesterday.dump": ["daily"]}
