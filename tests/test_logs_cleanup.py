"""Log rotation and cleanup on real files: dry-run touches nothing; apply is exact and stays in the root."""

from __future__ import annotations

import gzip
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from opsbook.config.maintenance import LogDirectory
from opsbook.results import Status
from opsbook.tasks.logs import apply_plan, clean_directory, plan_cleanup

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


# -- hardening: links, existing archives, system roots, explicit names, live writers ---------------


def test_an_archive_name_that_is_a_link_elsewhere_is_never_written_through(tmp_path: Path) -> None:
    root, victim = tmp_path / "logs", aged(tmp_path / "elsewhere" / "precious.txt", 1, "keep me\n")
    rotated = aged(root / "app.log.1", 10, "old lines\n")
    (root / "app.log.1.gz").symlink_to(victim)
    result = clean_directory(LogDirectory(path=root), 30, apply=True, now=NOW)
    assert victim.read_text() == "keep me\n" and rotated.read_text() == "old lines\n"
    assert result.status is Status.WARN and "already exists" in result.message
    assert result.details["compress"] == [] and "compressed 0" in result.message


def test_an_existing_archive_is_never_replaced(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    aged(root / "app.log.1", 10, "new\n")
    archive = root / "app.log.1.gz"
    archive.write_bytes(gzip.compress(b"earlier archive\n"))
    result = clean_directory(LogDirectory(path=root), 30, apply=True, now=NOW)
    assert gzip.decompress(archive.read_bytes()) == b"earlier archive\n"
    assert (root / "app.log.1").read_text() == "new\n"
    assert any("not replaced" in n for n in result.details["not_done"])


def test_only_files_named_like_logs_are_managed_by_default(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    kept = [aged(root / n, 90) for n in ("app.logger.py", "catalog.log.bak", "notes.txt", "app.log.old")]
    managed = [aged(root / n, 90) for n in ("app.log", "app.log.3", "app.log.3.gz", "app.log-20261001")]
    result = clean_directory(LogDirectory(path=root), 30, apply=False, now=NOW)
    assert sorted(result.details["delete"]) == sorted(str(p) for p in managed)
    assert not set(result.details["delete"]) & {str(p) for p in kept}
    custom = clean_directory(LogDirectory(path=root, pattern="*.txt"), 30, apply=False, now=NOW)
    assert custom.details["delete"] == [str(root / "notes.txt")]


@pytest.mark.parametrize("folder", ["/", "/etc", "/usr", "/var", "/home", "/var/../etc"])
def test_a_system_folder_is_refused_at_load_naming_the_key(folder: str) -> None:
    with pytest.raises(ValidationError) as raised:
        LogDirectory(path=Path(folder))
    assert raised.value.errors()[0]["loc"] == ("path",) and "system folder" in str(raised.value)


@pytest.mark.parametrize("pattern", ["/var/log/*.log", "../*.log", "sub/*.log", ""])
def test_a_pattern_must_be_a_relative_name(tmp_path: Path, pattern: str) -> None:
    with pytest.raises(ValidationError) as raised:
        LogDirectory(path=tmp_path, pattern=pattern)
    assert raised.value.errors()[0]["loc"] == ("pattern",)


def test_a_file_with_other_hard_links_is_not_emptied(tmp_path: Path) -> None:
    root, other = tmp_path / "logs", aged(tmp_path / "elsewhere" / "shared.log", 10, "shared\n")
    root.mkdir()
    os.link(other, root / "app.log")
    result = clean_directory(LogDirectory(path=root), 30, apply=True, now=NOW)
    assert other.read_text() == "shared\n" and "hard links" in result.message


def test_a_live_log_loses_no_line_while_a_writer_appends_during_compression(tmp_path: Path) -> None:
    """copytruncate: every line is in the archive or the live file, each once and in order."""
    root = tmp_path / "logs"
    live = aged(root / "app.log", 10, "".join(f"old {i}\n" for i in range(200_000)))
    plan = plan_cleanup(LogDirectory(path=root), 30, NOW)
    assert plan.compress == [live]
    written: list[str] = []
    started, stop = threading.Event(), threading.Event()

    def daemon() -> None:  # holds the file open with O_APPEND, as a logging daemon does
        fd = os.open(live, os.O_WRONLY | os.O_APPEND)
        try:
            while not stop.is_set() or len(written) < 50:
                line = f"new {len(written)}\n"
                os.write(fd, line.encode())
                written.append(line)
                started.set()
                time.sleep(0.0005)
        finally:
            os.close(fd)

    writer = threading.Thread(target=daemon)
    writer.start()
    started.wait(10)
    try:
        apply_plan(plan)
    finally:
        stop.set()
        writer.join()
    assert plan.not_done == [] and live.exists()
    archives = list(root.glob("app.log-*.gz"))
    assert len(archives) == 1
    kept = gzip.decompress(archives[0].read_bytes()).decode() + live.read_text()
    expected = "".join(f"old {i}\n" for i in range(200_000)) + "".join(written)
    assert kept == expected
