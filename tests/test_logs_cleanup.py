"""Log rotation and cleanup on real files: dry-run touches nothing; apply is exact and stays in the root."""

from __future__ import annotations

import gzip
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opsbook.config.maintenance import LogDirectory
from opsbook.results import Status
from opsbook.tasks.logs import clean_directory

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def aged(path: Path, days: float, text: str = "line\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    stamp = (NOW - timedelta(days=days)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def tree(tmp_path: Path) -> dict[str, Path]:
    root, outside = tmp_path / "logs", tmp_path / "elsewhere"
    files = {
        "fresh": aged(root / "app.log", 1),
        "old": aged(root / "app.log.1", 10, "x" * 5000),
        "expired": aged(root / "app.log.2.gz", 40),
        "expired_nested": aged(root / "worker" / "worker.log", 31),
        "other_pattern": aged(root / "keep.txt", 90),
        "outside_expired": aged(outside / "secret.log", 90),
        "outside_dir_file": aged(outside / "dir" / "deep.log", 90),
    }
    (root / "link.log").symlink_to(files["outside_expired"])
    (root / "linked-dir").symlink_to(outside / "dir")
    return files


def snapshot(folder: Path) -> dict[str, float]:
    return {str(p): p.lstat().st_mtime for p in folder.rglob("*")}


def test_dry_run_changes_nothing_and_lists_the_plan(tmp_path: Path) -> None:
    files = tree(tmp_path)
    before = snapshot(tmp_path)
    result = clean_directory(LogDirectory(path=tmp_path / "logs"), 30, apply=False, now=NOW)
    assert snapshot(tmp_path) == before
    assert result.status is Status.OK and result.details["dry_run"] is True
    assert sorted(result.details["delete"]) == sorted([str(files["expired"]), str(files["expired_nested"])])
    assert result.details["compress"] == [str(files["old"])]
    assert "would delete 2" in result.message and "(dry run)" in result.message


def test_apply_deletes_exactly_the_expired_files_and_nothing_outside_the_root(tmp_path: Path) -> None:
    files = tree(tmp_path)
    result = clean_directory(LogDirectory(path=tmp_path / "logs"), 30, apply=True, now=NOW)
    assert not files["expired"].exists() and not files["expired_nested"].exists()
    assert files["fresh"].exists() and files["other_pattern"].exists()
    assert not files["old"].exists()
    compressed = files["old"].with_name("app.log.1.gz")
    assert gzip.decompress(compressed.read_bytes()) == b"x" * 5000
    # Links: neither the link nor what it points to is touched; nothing outside the root is.
    assert (tmp_path / "logs" / "link.log").is_symlink() and files["outside_expired"].exists()
    assert (tmp_path / "logs" / "linked-dir").is_symlink() and files["outside_dir_file"].exists()
    assert any("symbolic link" in s for s in result.details["skipped"])
    assert "deleted 2" in result.message


def test_missing_directory_is_an_error_not_a_silent_ok(tmp_path: Path) -> None:
    result = clean_directory(LogDirectory(path=tmp_path / "nope"), 30, apply=True, now=NOW)
    assert result.status is Status.ERROR and "FileNotFoundError" in result.message
