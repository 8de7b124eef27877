"""Is the newest backup there, fresh, whole, readable and (where required) encrypted?

Each function judges one of the runbook's verification steps and returns a CheckResult whose
message says exactly what is wrong, so an operator knows which backup to distrust and why.
"""

from __future__ import annotations

import gzip
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from opsbook.checks import AlertType, Check, declare
from opsbook.config.backups import BackupRepository
from opsbook.durations import format_duration
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, describe_exception
from opsbook.tasks.backups import crypto
from opsbook.tasks.backups.files import Backup, ahead_of_clock, checksums
from opsbook.tasks.backups.pgtools import ToolError, run, tool

COMPONENT = "backups"

COMPLETION = declare(
    "backup.completion",
    title="Backup completion",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    unit="h",
    on_fail=(
        "The newest backup is missing, empty, stale or much smaller than the last: check the backup job's log and run"
        " `opsbook backup create` now if it did not run."
    ),
    on_warn="The newest backup is getting old: check that the backup job is scheduled.",
    runbook_steps=(
        "Daily Backup Verification / Verifying backup completion",
        "Daily Database Health Check / Verifying backup status",
    ),
)

ENCRYPTION = declare(
    "backup.encryption",
    title="Backup encryption",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    on_fail=(
        "A backup that must be encrypted is readable plaintext, or the configured key cannot decrypt it: fix the "
        "backup job's encryption and rotate the exposed backup."
    ),
    on_warn="An unencrypted backup was found where encryption is optional: consider encrypting.",
    runbook_steps=("Daily Backup Verification / Verifying backup encryption",),
)

INTEGRITY = declare(
    "backup.integrity",
    title="Backup integrity",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    on_fail=(
        "Do not trust this backup: take a new one (`opsbook backup create`) and find what damaged it (disk, copy, job)."
    ),
    on_warn="Backup integrity needs a look: read the message.",
    runbook_steps=("Daily Backup Verification / Verifying backup integrity",),
)


def repo_result(check: Check, repo: BackupRepository, status: Status, message: str, **extra: Any) -> CheckResult:
    return check.result(
        repo.name,
        status,
        message=message,
        labels={"repository": str(repo.path)},
        **extra,
    )


def check_completion(repo: BackupRepository, backups: list[Backup], now: datetime) -> CheckResult:
    """The newest backup exists, is not empty, is younger than max_age and not much smaller than the last."""
    check = COMPLETION
    if not backups:
        return repo_result(check, repo, Status.FAIL, f"no {repo.format} backups in {repo.path}")
    newest = backups[0]
    age_h = (now - newest.taken_at).total_seconds() / 3600
    details = {"backup": newest.name, "taken_at": newest.taken_at.isoformat(), "size_bytes": newest.size}
    common = dict(
        value=round(age_h, 2), unit="h", threshold=round(repo.max_age.total_seconds() / 3600, 2), details=details
    )
    if (ahead := ahead_of_clock(newest.taken_at, now, repo.max_clock_skew)) is not None:
        return repo_result(
            check,
            repo,
            Status.ERROR,
            f"clock skew: newest backup {newest.name} is dated {newest.taken_at.isoformat(timespec='seconds')}, "
            f"{format_duration(timedelta(seconds=round(ahead.total_seconds())))} ahead of this host's clock (max "
            f"{format_duration(repo.max_clock_skew)}): fix the clock or the manifest's created_at",
            **{**common, "value": None},
        )
    if newest.size == 0:
        return repo_result(check, repo, Status.FAIL, f"{newest.name} is empty (0 bytes)", **common)
    if age_h * 3600 > repo.max_age.total_seconds():
        return repo_result(
            check,
            repo,
            Status.FAIL,
            f"stale: newest backup {newest.name} is {age_h:.1f} h old (max {common['threshold']:g} h)",
            **common,
        )
    if len(backups) > 1 and backups[1].size > 0:
        ratio = newest.size / backups[1].size
        details.update(previous=backups[1].name, previous_size_bytes=backups[1].size, size_ratio=round(ratio, 3))
        if ratio < repo.min_size_ratio:
            return repo_result(
                check,
                repo,
                Status.FAIL,
                f"{newest.name} is {ratio:.0%} of the previous backup's size "
                f"(at least {repo.min_size_ratio:.0%} expected): truncated or data lost?",
                **common,
            )
    return repo_result(
        check, repo, Status.OK, f"{newest.name} taken {age_h:.1f} h ago, {newest.size:,} bytes", **common
    )


def check_encryption(repo: BackupRepository, backup: Backup, workdir: Path) -> tuple[CheckResult, Path | None]:
    """Where encryption is required: the file is no readable dump and the configured key decrypts it.

    Returns the result and the plaintext to read further: the decrypted copy in workdir, the
    backup itself when it is not encrypted, or None when it cannot be read.
    """
    check = ENCRYPTION
    policy = repo.encryption
    if not policy.required and not backup.encrypted:
        return repo_result(check, repo, Status.SKIPPED, "encryption not required"), backup.path
    if backup.path.is_dir() or backup.size == 0:
        status = Status.FAIL if policy.required else Status.SKIPPED
        return repo_result(check, repo, status, f"{backup.name} cannot be an encrypted backup"), None
    kind = crypto.plaintext_kind(backup.path)
    if kind is not None:
        status = Status.FAIL if policy.required else Status.WARN
        return repo_result(
            check,
            repo,
            status,
            f"{backup.name} is {kind}: encryption is required but the file is readable without a key",
            details={"backup": backup.name},
        ), backup.path
    if not policy.passphrase:
        return repo_result(
            check, repo, Status.ERROR, f"{backup.name} is encrypted but no passphrase is configured"
        ), None
    clear = workdir / backup.name.removesuffix(".gpg")
    try:
        crypto.decrypt_file(backup.path, clear, policy.passphrase)
    except (crypto.CryptoError, OSError) as error:
        return repo_result(
            check,
            repo,
            Status.FAIL,
            f"{backup.name}: the configured key does not decrypt it ({describe_exception(error)})",
            details={"backup": backup.name},
        ), None
    if crypto.plaintext_kind(clear) is None:
        return repo_result(check, repo, Status.FAIL, f"{backup.name} decrypts, but not to a PostgreSQL dump"), None
    return repo_result(
        check,
        repo,
        Status.OK,
        f"{backup.name} is encrypted (gpg) and the configured key decrypts it",
        details={"backup": backup.name, "method": policy.method},
    ), clear


def _checksum_problem(repo: BackupRepository, backup: Backup) -> str | None:
    if backup.manifest is None:
        if repo.manifest_required:
            return backup.manifest_problem or "no manifest"
        return None
    expected = backup.manifest.get("sha256")
    actual = checksums(backup.path)
    if isinstance(actual, dict) and isinstance(expected, dict):
        bad = sorted(k for k in set(actual) | set(expected) if actual.get(k) != expected.get(k))
        return f"checksum mismatch in {', '.join(bad[:5])}" if bad else None
    if actual != expected:
        return (
            f"checksum mismatch: sha256 {str(actual)[:12]}… but the manifest says {str(expected)[:12]}…"
            " (damaged or altered since it was written)"
        )
    return None


def structural_problem(fmt: str, clear: Path, timeout_s: float = 1800) -> tuple[str | None, int]:
    """Read the dump from end to end the way a restore would; (problem or None, TOC entries)."""
    if fmt == "plain_gz":
        try:
            with gzip.open(clear, "rb") as handle:
                while handle.read(1 << 20):
                    pass
        except (OSError, EOFError) as error:
            return f"gzip stream is damaged: {error}", 0
        return None, 0
    try:
        listing = run([tool("pg_restore"), "--list", str(clear)], timeout_s=timeout_s).stdout.decode("utf-8", "replace")
        # --list only reads the table of contents; a full read to /dev/null finds damaged data blocks.
        run([tool("pg_restore"), "--file", "/dev/null", str(clear)], timeout_s=timeout_s, stdout=None)
    except ToolError as error:
        return f"not a readable dump: {error}", 0
    entries = sum(1 for line in listing.splitlines() if line and not line.startswith(";"))
    return None, entries


def check_integrity(repo: BackupRepository, backup: Backup, clear: Path | None) -> CheckResult:
    """The checksum matches the manifest and the dump reads from end to end."""
    check = INTEGRITY
    details: dict[str, object] = {"backup": backup.name}
    if backup.size == 0:
        return repo_result(check, repo, Status.FAIL, f"{backup.name} is empty (0 bytes)", details=details)
    if problem := _checksum_problem(repo, backup):
        return repo_result(check, repo, Status.FAIL, f"{backup.name}: {problem}", details=details)
    if clear is None:
        return repo_result(
            check, repo, Status.ERROR, f"{backup.name}: cannot be read (see backup.encryption)", details=details
        )
    problem, entries = structural_problem(backup.format, clear)
    details["toc_entries"] = entries
    if problem:
        return repo_result(check, repo, Status.FAIL, f"{backup.name}: {problem}", details=details)
    verified = "checksum matches the manifest" if backup.manifest else "no manifest (not required)"
    return repo_result(
        check,
        repo,
        Status.OK,
        f"{backup.name}: {verified}; reads end to end" + (f" ({entries} TOC entries)" if entries else ""),
        details=details,
    )


def scratch_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="opsbook-backup-")
