"""Backups dated ahead of this host's clock are refused as clock skew, never trusted as fresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from opsbook.results import Status
from opsbook.tasks.backups.files import list_backups, write_manifest
from opsbook.tasks.backups.integrity import check_completion
from opsbook.tasks.backups.verify import rpo_result
from tests.backup_helpers import repository

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


def _backup(root: Path, name: str, created_at: datetime) -> None:
    path = root / name
    path.write_bytes(b"PGDMP" + b"x" * 100)
    write_manifest(path, {"sha256": "-", "created_at": created_at.isoformat()})


def test_a_manifest_dated_2999_is_an_error_naming_the_time_not_a_fresh_backup(tmp_path: Path) -> None:
    _backup(tmp_path, "app-old.dump", NOW - timedelta(hours=2))
    _backup(tmp_path, "app-2999.dump", datetime(2999, 1, 1, tzinfo=UTC))
    repo = repository(tmp_path)
    result = check_completion(repo, list_backups(repo), NOW)
    assert result.status is Status.ERROR
    assert result.message.startswith("clock skew: newest backup app-2999.dump is dated 2999-01-01T00:00:00+00:00")
    assert "ahead of this host's clock (max 5m)" in result.message
    assert result.value is None  # no negative age stored as if measured


def test_skew_within_the_allowance_is_fresh_and_the_allowance_is_configurable(tmp_path: Path) -> None:
    _backup(tmp_path, "app-soon.dump", NOW + timedelta(minutes=3))
    assert check_completion(repository(tmp_path), list_backups(repository(tmp_path)), NOW).status is Status.OK
    strict = repository(tmp_path, max_clock_skew="1m")
    result = check_completion(strict, list_backups(strict), NOW)
    assert result.status is Status.ERROR and "3m ahead" in result.message and "(max 1m)" in result.message


def test_restored_rows_from_the_future_make_the_rpo_unmeasurable(tmp_path: Path) -> None:
    repo = repository(tmp_path, rpo_column="public.events.created_at")
    result = rpo_result(repo, NOW + timedelta(days=3), NOW)
    assert result.status is Status.ERROR and result.message.startswith("clock skew: the newest public.events")
    assert rpo_result(repo, NOW - timedelta(hours=1), NOW).status is Status.OK
