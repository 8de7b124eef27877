"""Log rotation and cleanup: compress old logs, delete expired ones. Dry-run unless told to apply.

Safety rules, whatever the config says:
- only regular files under the configured root whose names follow the log naming rules (or the
  configured name pattern) are touched; a symbolic link, to a file or a folder, is never followed,
  replaced or deleted: every open and unlink goes through folder descriptors opened from the root
  with O_NOFOLLOW, so a link swapped in after planning is refused too;
- an existing archive is never replaced (O_CREAT|O_EXCL): the file is left uncompressed, with a note;
- a file with other hard links is not compressed (emptying it would empty the other names too).

Live logs: a daemon holding `app.log` open keeps appending to the same inode, so unlinking it after
compression lost every line written since. The live name is compressed the way logrotate's
`copytruncate` does it (copy, then truncate in place) rather than rename+create, which only works when
the daemon is told to reopen its file (opsbook does not know how to signal it). Copying repeats
until a read finds nothing new, then the file is truncated at once; a line appended in the
microseconds between that last read and the truncate is lost, logrotate's documented race, and a
writer that does not open with O_APPEND leaves a sparse file after the truncate. Rotated names
(`app.log.1`, `app.log-20261120`) are closed by convention: compressed then unlinked, unless one grew
while being compressed, in which case it is treated as live.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
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


# The explicit rules: NAME.log, NAME.log.N, NAME.log-YYYYMMDD, each optionally .gz. Not `*.log*`,
# which also matches `app.logger.py` and `catalog.log.bak`.
_LOG_NAME = re.compile(r"^.+\.log(?:\.\d{1,4}|-\d{8})?(?:\.gz)?$")
_LIVE_NAME = re.compile(r"^.+\.log$")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_CHUNK = 1 << 20


@dataclass
class LogPlan:
    root: Path
    compress: list[Path] = field(default_factory=list)
    delete: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "path: why", found while planning
    not_done: list[str] = field(default_factory=list)  # "path: why", planned but refused when applying


def is_log_name(name: str, pattern: str | None) -> bool:
    """Whether a file name is managed: the configured name glob, or else the explicit log rules."""
    return fnmatch.fnmatchcase(name, pattern) if pattern is not None else bool(_LOG_NAME.match(name))


def plan_cleanup(directory: LogDirectory, retention_days: int, now: datetime) -> LogPlan:
    """What cleanup would do in one log directory, without doing it."""
    root = directory.path.resolve(strict=True)
    plan = LogPlan(root=root)
    delete_after = timedelta(days=directory.delete_after_days or retention_days)
    compress_after = timedelta(days=directory.compress_after_days)
    for folder, dirnames, filenames, dirfd in os.fwalk(root, follow_symlinks=False):
        here = Path(folder)
        for name in sorted(dirnames + filenames):
            info = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                if name in filenames and is_log_name(name, directory.pattern) or name in dirnames:
                    plan.skipped.append(f"{here / name}: symbolic link, never followed")
                continue
            if name in dirnames or not stat.S_ISREG(info.st_mode) or not is_log_name(name, directory.pattern):
                continue
            age = now - datetime.fromtimestamp(info.st_mtime, now.tzinfo)
            if age >= delete_after:
                plan.delete.append(here / name)
            elif age >= compress_after and not name.endswith(".gz") and info.st_size > 0:
                plan.compress.append(here / name)
    plan.delete.sort()
    plan.compress.sort()
    return plan


@contextmanager
def _folder(root: Path, path: Path) -> Iterator[int]:
    """A descriptor of path's folder, opened component by component from root without following links."""
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in path.parent.relative_to(root).parts:
            inner = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = inner
        yield fd
    finally:
        os.close(fd)


def _copy_available(source: int, compressor: zlib._Compress, sink: int) -> int:
    """Compress what source holds from its offset to its end now; return how many bytes were read."""
    total = 0
    while chunk := os.read(source, _CHUNK):
        total += len(chunk)
        os.write(sink, compressor.compress(chunk))
    return total


def archive_name(name: str, mtime: float) -> str:
    """`app.log.1` -> `app.log.1.gz`; the live `app.log` -> `app.log-YYYYMMDD.gz` (its last write's
    day), so compressing it again another week makes a new archive instead of meeting the old one."""
    if _LIVE_NAME.match(name):
        return f"{name}-{datetime.fromtimestamp(mtime):%Y%m%d}.gz"
    return name + ".gz"


def _compress_one(root: Path, path: Path) -> str | None:
    """Compress path to path.gz as the module docstring says; None when done, else why not."""
    with _folder(root, path) as folder:
        try:
            source = os.open(path.name, os.O_RDWR | os.O_NOFOLLOW, dir_fd=folder)
        except OSError as error:
            return f"not opened ({error.strerror}); a link or gone since planning"
        try:
            before = os.fstat(source)
            if not stat.S_ISREG(before.st_mode):
                return "no longer a regular file"
            if before.st_nlink > 1:
                return f"has {before.st_nlink} hard links; emptying it would empty the others"
            archive = archive_name(path.name, before.st_mtime)
            try:
                sink = os.open(
                    archive, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, before.st_mode & 0o666, dir_fd=folder
                )
            except FileExistsError:
                return f"{archive} already exists; not replaced, file left uncompressed"
            try:
                compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
                copied = _copy_available(source, compressor, sink)
                live = bool(_LIVE_NAME.match(path.name)) or os.fstat(source).st_size != copied
                if live:
                    while _copy_available(source, compressor, sink):
                        pass
                    os.ftruncate(source, 0)  # at once after a read found nothing new: the race above
                os.write(sink, compressor.flush())
                os.fsync(sink)
            finally:
                os.close(sink)
            os.utime(archive, ns=(before.st_atime_ns, before.st_mtime_ns), dir_fd=folder, follow_symlinks=False)
            if not live:
                os.unlink(path.name, dir_fd=folder)
        finally:
            os.close(source)
    return None


def _delete_one(root: Path, path: Path) -> str | None:
    """Unlink path if it is still a regular file (never a link swapped in since planning)."""
    with _folder(root, path) as folder:
        info = os.stat(path.name, dir_fd=folder, follow_symlinks=False)
        if not stat.S_ISREG(info.st_mode):
            return "no longer a regular file; left alone"
        os.unlink(path.name, dir_fd=folder)
    return None


def apply_plan(plan: LogPlan) -> None:
    """Compress (gzip, keeping the mtime) and delete as planned.

    Each refusal moves the path from its list to `not_done` with the reason, so the counts and
    lists reported afterwards are what was really done.
    """
    for action, paths in ((_compress_one, plan.compress), (_delete_one, plan.delete)):
        done = []
        for path in paths:
            try:
                why = action(plan.root, path)
            except OSError as error:
                why = f"{type(error).__name__}: {error.strerror or error}"
            if why:
                plan.not_done.append(f"{path}: {why}")
            else:
                done.append(path)
        paths[:] = done


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
    if plan.not_done:
        message += f"; {len(plan.not_done)} not done: {plan.not_done[0]}"
    return LOG_CLEANUP.result(
        str(plan.root),
        Status.WARN if plan.not_done else Status.OK,
        started_at=started,
        value=float(len(plan.delete)),
        unit="files",
        message=message + ("" if apply else " (dry run)"),
        details={
            "dry_run": not apply,
            "compress": [str(p) for p in plan.compress],
            "delete": [str(p) for p in plan.delete],
            "skipped": plan.skipped,
            "not_done": plan.not_done,
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
