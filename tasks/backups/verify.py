"""The runbook's daily backup verification, per repository, as one Prefect task.

1 completion, 2 integrity, 3 sample restore test, 4 retention, 5 encryption: the runbook's
steps, each a CheckResult. Every verification is also kept as a record in the history store,
which is how the disaster-recovery flow knows which backup is the newest *verified* one.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from opsbook.checks import AlertType, declare
from opsbook.config import EstateConfig
from opsbook.config.backups import BackupRepository, DrTarget, RestoreServer
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, judge, utcnow
from opsbook.tasks.backups.files import Backup, ahead_of_clock, list_backups
from opsbook.tasks.backups.integrity import (
    COMPLETION,
    check_completion,
    check_encryption,
    check_integrity,
    repo_result,
    scratch_dir,
)
from opsbook.tasks.backups.records import record_verification, verifications
from opsbook.tasks.backups.restore import RestoreReport, restore_test
from opsbook.tasks.backups.retention import plan_retention, prune

RESTORE = declare(
    "backup.restore",
    title="Sample restore test",
    component="backups",
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    unit="s",
    on_fail=(
        "The restore test failed: the backup cannot be relied on for recovery. Read the message, fix the dump or the "
        "restore server, and re-run the verification."
    ),
    on_warn="The restore is slower than the RTO target: plan for a faster restore (parallel jobs, smaller dumps).",
    runbook_steps=("Daily Backup Verification / Testing backup restoration (sample)",),
)

RPO = declare(
    "backup.rpo",
    title="Achieved RPO",
    component="backups",
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    unit="h",
    on_fail="The data in the backup is older than the RPO allows: back up more often or check the backup job.",
    on_warn="The achieved RPO is near its limit: check the backup schedule.",
    runbook_steps=("Daily Backup Verification / Testing backup restoration (sample)",),
)

RETENTION = declare(
    "backup.retention",
    title="Backup retention",
    component="backups",
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    unit="backups",
    runbook_steps=("Daily Backup Verification / Checking backup retention policy",),
)

# A repository whose verification could not run at all, and the step when nothing is configured.
VERIFY = declare(
    "backup.verify",
    title="Backup verification",
    component="backups",
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
)

RECORD = declare(
    "backup.record",
    title="Verification record",
    component="backups",
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
)

DR_DRILL = declare(
    "backup.dr_drill",
    title="DR drill freshness",
    component="backups",
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    unit="days",
)


def restore_results(
    repo: BackupRepository, server: RestoreServer, report: RestoreReport, now: datetime
) -> list[CheckResult]:
    """The restore test's result (value: restore seconds, the data-step RTO) and the achieved RPO."""
    details = {
        "scratch_database": report.database,
        "dropped": report.dropped,
        "tables": report.tables,
        "gate": report.gate.findings if report.gate else None,
    }
    dropped = "scratch database dropped" if report.dropped else f"scratch database {report.database} NOT dropped"
    if report.error:
        restore = repo_result(
            RESTORE,
            repo,
            Status.FAIL,
            f"restore failed: {report.error}; {dropped}",
            value=report.seconds,
            unit="s",
            details=details,
        )
    elif not report.passed:
        assert report.gate is not None
        restore = repo_result(
            RESTORE,
            repo,
            Status.FAIL,
            f"restored, but validation failed: {report.gate.summary}; {dropped}",
            value=report.seconds,
            unit="s",
            details=details,
        )
    else:
        assert report.seconds is not None and report.gate is not None
        status, threshold = judge(report.seconds, server.rto_s.warn, server.rto_s.fail)
        if report.dropped is False:
            status = Status.FAIL
        rows = sum(report.tables.values())
        restore = repo_result(
            RESTORE,
            repo,
            status,
            f"restored {len(report.tables)} table(s), {rows:,} row(s) "
            f"in {report.seconds:.1f} s; {report.gate.summary}; {dropped}",
            value=report.seconds,
            unit="s",
            threshold=threshold,
            details=details,
        )
    results = [restore]
    if repo.rpo_column and not report.error:
        results.append(rpo_result(repo, report.newest, now))
    return results


def rpo_result(repo: BackupRepository, newest: datetime | None, now: datetime) -> CheckResult:
    """Achieved RPO: how much data a restore of this backup would lose if disaster struck now."""
    if not isinstance(newest, datetime):
        return repo_result(RPO, repo, Status.ERROR, f"no timestamp found in {repo.rpo_column}")
    if (ahead := ahead_of_clock(newest, now, repo.max_clock_skew)) is not None:
        return repo_result(
            RPO,
            repo,
            Status.ERROR,
            f"clock skew: the newest {repo.rpo_column} is {newest.isoformat(timespec='seconds')}, "
            f"{ahead.total_seconds() / 3600:.1f} h ahead of this host's clock; the achieved RPO cannot be measured",
            details={"newest": newest.isoformat()},
        )
    seconds = (now - newest).total_seconds()
    status, threshold = judge(seconds, repo.rpo_s.warn, repo.rpo_s.fail)
    return repo_result(
        RPO,
        repo,
        status,
        f"achieved RPO {seconds / 3600:.1f} h (newest {repo.rpo_column} {newest.isoformat(timespec='seconds')})",
        value=round(seconds / 3600, 3),
        unit="h",
        threshold=None if threshold is None else round(threshold / 3600, 3),
        details={"newest": newest.isoformat(), "rpo_seconds": round(seconds, 1)},
    )


def retention_result(repo: BackupRepository, backups: list[Backup], apply: bool, now: datetime) -> CheckResult:
    plan = plan_retention(backups, repo.retention, now=now, max_skew=repo.max_clock_skew)
    try:
        removed = prune(repo, plan, apply=apply)
    except OSError as error:
        return RETENTION.error(repo.name, error)
    policy = repo.retention
    words = "pruned" if apply else "would prune"
    return repo_result(
        RETENTION,
        repo,
        Status.OK,
        f"keeps {len(plan.keep)} of {len(backups)} (daily {policy.keep_daily}, weekly "
        f"{policy.keep_weekly}, monthly {policy.keep_monthly}); {words} {len(removed)}"
        + (f": {', '.join(removed[:5])}" + ("…" if len(removed) > 5 else "") if removed else ""),
        value=float(len(removed)),
        unit="backups",
        details={"keep": plan.keep, "prune": removed, "applied": apply},
    )


def verify_repository(
    repo: BackupRepository, server: RestoreServer | None, *, now: datetime | None = None, apply_retention: bool = False
) -> tuple[list[CheckResult], dict]:
    """Verify the newest backup of one repository; return its results and the record's fields."""
    now = now or utcnow()
    try:
        backups = list_backups(repo)
    except OSError as error:
        return [COMPLETION.error(repo.name, error)], {}
    results = [check_completion(repo, backups, now)]
    if not backups:
        return results, {}
    newest = backups[0]
    record = {
        "backup": newest.name,
        "taken_at": newest.taken_at,
        "size_bytes": newest.size,
        "sha256": (newest.manifest or {}).get("sha256"),
    }
    with scratch_dir() as work:
        encryption, clear = check_encryption(repo, newest, Path(work))
        integrity = check_integrity(repo, newest, clear)
        results += [integrity, encryption]
        if not repo.restore_test or server is None:
            why = "restore test off for this repository" if server else "no restore_server configured"
            results.append(repo_result(RESTORE, repo, Status.SKIPPED, why))
        elif integrity.status is not Status.OK or clear is None:
            results.append(
                repo_result(RESTORE, repo, Status.SKIPPED, f"not restored: {newest.name} failed its integrity check")
            )
        else:
            report = restore_test(repo, newest.manifest, clear, server.url, server.timeout_s)
            results += restore_results(repo, server, report, now)
            record.update(restore_seconds=report.seconds, scratch_database=report.database)
            if report.newest is not None and not ahead_of_clock(report.newest, now, repo.max_clock_skew):
                record["rpo_seconds"] = (now - report.newest).total_seconds()
    results.append(retention_result(repo, backups, apply_retention, now))
    return results, record


@task(name="verify-backups", timeout_seconds=7200, cache_policy=NO_CACHE)
async def verify_backups(
    config: EstateConfig, run_id: str | None = None, apply_retention: bool = False
) -> list[CheckResult]:
    """The runbook's daily backup verification for every configured repository.

    Async, with the blocking work in a thread, so that Prefect's timeout ends the step (the
    tools' own timeouts end the work itself).
    """
    section = config.backups
    if not section.repositories:
        return [VERIFY.skipped("no backup repositories configured")]
    return await asyncio.to_thread(verify_all, config, get_run_logger(), run_id, apply_retention)


def verify_all(config: EstateConfig, logger: Any, run_id: str | None, apply_retention: bool) -> list[CheckResult]:
    """Verify every repository in turn and keep a record of each; one repository never stops the rest."""
    section = config.backups
    results: list[CheckResult] = []
    for repo in section.repositories:
        now = utcnow()
        try:
            found, record = verify_repository(repo, section.restore_server, now=now, apply_retention=apply_retention)
        except Exception as error:
            found, record = [VERIFY.error(repo.name, error)], {}
        logger.info("backups %s: %s", repo.name, ", ".join(f"{r.check}={r.status.value}" for r in found))
        results += found
        if record:
            try:
                record_verification(
                    config.history.url,
                    kind="daily",
                    repository=repo.name,
                    results=found,
                    verified_at=now,
                    run_id=run_id,
                    **record,
                )
            except Exception as error:
                results.append(RECORD.error(repo.name, f"verification record not written: {error}"))
    dr = section.disaster_recovery
    for target in dr.targets:
        try:
            results.append(drill_freshness(config.history.url, target, dr.drill_every_days, utcnow()))
        except Exception as error:
            results.append(DR_DRILL.error(target.name, error))
    return results


def drill_freshness(history_url: str, target: DrTarget, every_days: float, now: datetime) -> CheckResult:
    """Has a DR drill (monthly, or `opsbook dr`) restored this target's repository recently, and passed?"""
    drills = verifications(history_url, repository=target.repository, kind="dr-drill")
    passed = [d for d in drills if d.status in (Status.OK.value, Status.WARN.value)]
    common = dict(unit="days", threshold=every_days)
    if not passed:
        said = f"; the last one, {drills[0].verified_at:%Y-%m-%d}, failed: {drills[0].message}" if drills else ""
        return DR_DRILL.result(
            target.name, Status.WARN, message=f"no passing DR drill recorded for {target.repository}{said}", **common
        )
    age = (now - passed[0].verified_at).total_seconds() / 86400
    late = age > every_days
    message = (
        f"last passing DR drill {age:.0f} days ago ({passed[0].verified_at:%Y-%m-%d}, restore "
        f"{passed[0].restore_seconds or 0:.0f} s)" + (f": overdue, due every {every_days:g} days" if late else "")
    )
    if drills[0] is not passed[0]:
        message += f"; the latest drill, {drills[0].verified_at:%Y-%m-%d}, failed"
        late = True
    return DR_DRILL.result(
        target.name, Status.WARN if late else Status.OK, value=round(age, 1), message=message, **common
    )
