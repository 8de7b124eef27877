"""The disaster-recovery building blocks: assess, pick the backup, restore into the DR target, switch over.

A drill restores into a scratch database beside the DR target (always dropped) and never runs a
switch-over action. A real activation restores into the DR target itself, which must be empty
or absent: opsbook never overwrites a database that holds tables.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from datetime import datetime
from pathlib import Path

from markupsafe import escape
from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import create_engine, text

from opsbook.checks import AlertType, declare
from opsbook.config import EstateConfig
from opsbook.config.backups import BackupRepository, DrTarget, SwitchOverAction
from opsbook.escalation import Severity
from opsbook.reports.messages import Message
from opsbook.results import CheckResult, Status, describe_exception, utcnow
from opsbook.secrets import redact
from opsbook.tasks.backups.files import Backup, list_backups
from opsbook.tasks.backups.integrity import ENCRYPTION, INTEGRITY, check_encryption, check_integrity, scratch_dir
from opsbook.tasks.backups.pgtools import database_name, with_database
from opsbook.tasks.backups.records import record_verification, verified_backups
from opsbook.tasks.backups.restore import RestoreReport, quote_ident, restore_and_validate, restore_test, user_tables
from opsbook.tasks.http import fetch, new_client
from opsbook.tasks.notify import deliver
from opsbook.tasks.platforms import probe_platforms

COMPONENT = "disaster-recovery"

ASSESS_PLATFORM = declare(
    "dr.assess.platform",
    title="Platform reachable",
    component="platforms",
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    unit="ms",
    runbook_steps=("Disaster Recovery Activation / Assessing disaster scope",),
)

ASSESS_TARGET = declare(
    "dr.assess.target",
    title="DR database server reachable",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    runbook_steps=("Disaster Recovery Activation / Assessing disaster scope",),
)

ASSESS_REPOSITORY = declare(
    "dr.assess.repository",
    title="Backup repository available",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    runbook_steps=("Disaster Recovery Activation / Assessing disaster scope",),
)

DR_RESTORE = declare(
    "dr.restore",
    title="DR restore",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    unit="s",
    runbook_steps=("Disaster Recovery Activation / Initiating data restoration",),
)

DR_VALIDATE = declare(
    "dr.validate",
    title="DR validation",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    runbook_steps=("Disaster Recovery Activation / Validating system functionality",),
)

# The monthly drill's backup checks, renamed so they never collide with the daily backup step's.
DRILL_INTEGRITY = declare(
    "dr.backup.integrity",
    title="Drilled backup integrity",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
)

DRILL_ENCRYPTION = declare(
    "dr.backup.encryption",
    title="Drilled backup encryption",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
)

SWITCH_OVER = declare(
    "dr.switch_over",
    title="Switch-over action",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    runbook_steps=(
        "Disaster Recovery Activation / Switching to backup systems",
        "Disaster Recovery Activation / Updating DNS and traffic routing",
    ),
    per_instance=True,
)

DR_COMMUNICATE = declare(
    "dr.communicate",
    title="DR communication",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
)

DR_RECORD = declare(
    "dr.record",
    title="DR record",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
)

DR_RTO = declare(
    "dr.rto",
    title="Achieved RTO",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    unit="s",
)

DR_RPO = declare(
    "dr.rpo",
    title="Achieved RPO",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    unit="s",
)

_DRILLED = {INTEGRITY.id: DRILL_INTEGRITY.id, ENCRYPTION.id: DRILL_ENCRYPTION.id}


def _database_reachable(url: str) -> str | None:
    engine = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None
    except Exception as error:
        return redact(describe_exception(getattr(error, "orig", None) or error))
    finally:
        engine.dispose()


@task(name="assess-disaster-scope", timeout_seconds=300, cache_policy=NO_CACHE)
async def assess_components(config: EstateConfig, target: DrTarget) -> list[CheckResult]:
    """Which components are down: every platform, the DR target's server, the backup repository."""
    results = [r.model_copy(update={"check": ASSESS_PLATFORM.id}) for r in await probe_platforms(config)]
    server = with_database(target.url, "postgres")
    problem = _database_reachable(server)
    results.append(
        ASSESS_TARGET.result(
            target.name,
            Status.FAIL if problem else Status.OK,
            message=f"DR database server unreachable: {problem}" if problem else "DR database server reachable",
        )
    )
    repo = config.backups.repository(target.repository)
    exists = repo.path.is_dir()
    results.append(
        ASSESS_REPOSITORY.result(
            repo.name,
            Status.OK if exists else Status.FAIL,
            message=f"backup repository {repo.path} " + ("available" if exists else "missing"),
        )
    )
    return results


def choose_backup(history_url: str, repo: BackupRepository) -> tuple[Backup | None, str]:
    """The newest backup the daily verification passed; else the newest one (checked again before restore)."""
    backups = list_backups(repo)
    if not backups:
        return None, f"no backups in {repo.path}"
    try:
        verified = set(verified_backups(history_url, repo.name))
    except Exception as error:
        verified, why = set(), f"history not readable ({describe_exception(error)})"
    else:
        why = "no verification record"
    for backup in backups:
        if backup.name in verified:
            return backup, "newest verified backup"
    return backups[0], f"newest backup ({why}; integrity is checked before restoring)"


def _target_is_empty(url: str) -> str | None:
    """None when the DR database is absent or holds no tables (it is created if absent)."""
    name = database_name(url)
    admin = create_engine(with_database(url, "postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
            if not exists:
                connection.execute(text(f"CREATE DATABASE {quote_ident(name)}"))
                return None
    finally:
        admin.dispose()
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            tables = user_tables(connection)
    finally:
        engine.dispose()
    return f"DR database {name} already holds {len(tables)} table(s); refusing to overwrite it" if tables else None


@task(name="restore-into-dr-target", timeout_seconds=7200, cache_policy=NO_CACHE)
async def restore_for_dr(config: EstateConfig, target: DrTarget, drill: bool) -> tuple[list[CheckResult], dict]:
    """Check the chosen backup, restore it (drill: scratch copy; real: the DR target), validate it.

    Async with the blocking work in a thread, so that Prefect's timeout can end the step.
    """
    return await asyncio.to_thread(restore_and_check, config, target, drill)


def restore_and_check(config: EstateConfig, target: DrTarget, drill: bool) -> tuple[list[CheckResult], dict]:
    repo = config.backups.repository(target.repository)
    backup, why = choose_backup(config.history.url, repo)
    if backup is None:
        return [DR_RESTORE.result(target.name, Status.FAIL, message=why)], {}
    record: dict = {
        "backup": backup.name,
        "taken_at": backup.taken_at,
        "size_bytes": backup.size,
        "sha256": (backup.manifest or {}).get("sha256"),
        "chosen_because": why,
    }
    with scratch_dir() as work:
        encryption, clear = check_encryption(repo, backup, Path(work))
        integrity = check_integrity(repo, backup, clear)
        results = [r.model_copy(update={"component": COMPONENT}) for r in (integrity, encryption)]
        if integrity.status is not Status.OK or clear is None:
            results.append(
                DR_RESTORE.result(
                    target.name, Status.FAIL, message=f"{backup.name} failed its integrity check; not restored"
                )
            )
            return results, record
        timeout = config.backups.restore_server.timeout_s if config.backups.restore_server else 3600.0
        if drill:
            report = restore_test(repo, backup.manifest, clear, with_database(target.url, "postgres"), timeout)
        else:
            report = RestoreReport(database=database_name(target.url))
            if problem := _target_is_empty(target.url):
                results.append(DR_RESTORE.result(target.name, Status.FAIL, message=problem))
                return results, record
            restore_and_validate(repo, backup.manifest, clear, target.url, report, timeout)
    record.update(
        restore_seconds=report.seconds, scratch_database=report.database if drill else None, newest=report.newest
    )
    where = f"scratch database {report.database} (dropped: {report.dropped})" if drill else report.database
    if report.error:
        results.append(
            DR_RESTORE.result(
                target.name,
                Status.FAIL,
                message=f"restore of {backup.name} into {where} failed: {report.error}",
                value=report.seconds,
                unit="s",
            )
        )
    else:
        rows = sum(report.tables.values())
        results.append(
            DR_RESTORE.result(
                target.name,
                Status.OK,
                message=f"restored {backup.name} ({why}) into {where}: "
                f"{len(report.tables)} table(s), {rows:,} row(s) in {report.seconds:.1f} s",
                value=report.seconds,
                unit="s",
                details={"tables": report.tables},
            )
        )
        gate = report.gate
        assert gate is not None
        results.append(
            DR_VALIDATE.result(
                target.name,
                Status.OK if gate.passed else Status.FAIL,
                message=f"validation: {gate.summary}",
                details={"gate": gate.findings},
            )
        )
    return results, record


async def _webhook(config: EstateConfig, action: SwitchOverAction, payload: dict) -> tuple[bool, str]:
    # No retries: a switch-over is not idempotent, a human decides whether to try again.
    settings = config.http.model_copy(update={"retries": 0})
    async with new_client(settings) as client:
        outcome = await fetch(
            client,
            str(action.webhook),
            settings,
            method="POST",
            timeout_s=action.timeout_s,
            headers={"Content-Type": "application/json"},
            content=json.dumps(payload, default=str).encode(),
        )
    status = getattr(outcome, "status_code", None)
    if status is not None and 200 <= status < 300:
        return True, f"webhook answered HTTP {status}"
    return False, f"webhook failed: {getattr(outcome, 'reason', None) or f'HTTP {status}'}"


def _command(action: SwitchOverAction) -> tuple[bool, str]:
    assert action.command
    try:
        done = subprocess.run(action.command, capture_output=True, timeout=action.timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, describe_exception(error)
    said = " ".join((done.stdout + done.stderr).decode("utf-8", "replace").split())[-200:]
    return done.returncode == 0, f"exit {done.returncode}" + (f": {said}" if said else "")


@task(name="run-switch-over-action", timeout_seconds=3600, cache_policy=NO_CACHE)
async def run_switch_over(config: EstateConfig, action: SwitchOverAction, payload: dict, approver: str) -> CheckResult:
    """Run one approved DNS/traffic action (a command without a shell, or a webhook POST)."""
    started = time.perf_counter()
    try:
        ok, said = await _webhook(config, action, payload) if action.webhook else _command(action)
    except Exception as error:
        return SWITCH_OVER.instance(action.name).error(action.name, error)
    return SWITCH_OVER.instance(action.name).result(
        action.name,
        Status.OK if ok else Status.FAIL,
        message=redact(f"approved by {approver or 'unknown'}; {said}"),
        duration_ms=(time.perf_counter() - started) * 1000,
    )


def rpo_seconds(activated_at: datetime, newest: datetime | None, taken_at: datetime | None) -> float | None:
    """Data lost: activation time minus the newest restored row (else the backup's time)."""
    reference = newest if isinstance(newest, datetime) else taken_at
    return None if reference is None else max(0.0, (activated_at - reference).total_seconds())


@task(name="communicate-disaster-recovery", cache_policy=NO_CACHE, timeout_seconds=300)
async def communicate_dr(
    config: EstateConfig, steps: list[str], phase: str, scenario: str, drill: bool, target: str, downtime_minutes: int
) -> list[CheckResult]:
    """The runbook's "notify the DR team" and "communicate DR status": each step to the default channels
    (every channel when none is named); recorded only when no channel is configured."""
    mode = "drill" if drill else "ACTIVATION"
    summary = f"{scenario}, {mode}, target {target}, estimated downtime {downtime_minutes} min"
    channels = config.notifications.default_channels or [c.name for c in config.notifications.channels]

    def result(step: str, status: Status, message: str) -> CheckResult:
        return DR_COMMUNICATE.result(f"{phase}: {step}", status, message=message)

    if not channels:
        return [
            result(step, Status.SKIPPED, f"recorded only (no notification channel configured): {summary}")
            for step in steps
        ]
    results = []
    for step in steps:
        text = f"Disaster recovery {mode} ({phase}): {step}.\n{summary}"
        message = Message(
            kind="incident",
            subject=f"[DR {mode}] {scenario}: {step}",
            text=text,
            html=str(escape(text)),
            payload={"phase": phase, "step": step, "drill": drill, "scenario": scenario, "target": target},
        )
        deliveries = await deliver(config, channels, message, refs={"flow": "disaster-recovery"})
        failed = [f"{d.channel} ({d.error})" for d in deliveries if not d.ok]
        results.append(
            result(
                step,
                Status.FAIL if failed else Status.OK,
                f"not delivered to {', '.join(failed)}"
                if failed
                else f"sent to {', '.join(d.channel for d in deliveries)}: {summary}",
            )
        )
    return results


def record_dr_run(
    config: EstateConfig,
    *,
    drill: bool,
    run_id: str,
    target: DrTarget,
    record: dict,
    results: list[CheckResult],
    rpo: float | None,
    finished: datetime,
) -> CheckResult | None:
    """Keep a DR run's restore beside the backup verifications (kind `dr-drill` or `dr`).

    Returns an error result when it could not be written; None when written or nothing was restored.
    """
    if not record.get("backup"):
        return None
    kept = ("backup", "taken_at", "size_bytes", "sha256", "restore_seconds", "scratch_database")
    try:
        record_verification(
            config.history.url,
            kind="dr-drill" if drill else "dr",
            run_id=run_id,
            repository=target.repository,
            verified_at=finished,
            results=results,
            rpo_seconds=rpo,
            **{k: v for k, v in record.items() if k in kept},
        )
    except Exception as error:
        return DR_RECORD.result(
            target.name, Status.ERROR, message=f"DR record not written: {describe_exception(error)}"
        )
    return None


@task(name="drill-disaster-recovery", timeout_seconds=7200, cache_policy=NO_CACHE)
async def drill_disaster_recovery(config: EstateConfig, run_id: str) -> list[CheckResult]:
    """The monthly DR test: every DR target restored into a scratch copy and validated, no switch-over,
    each drill recorded (kind `dr-drill`) as the standalone DR flow records its own.

    Check ids are all `dr.*`, so the drill's backup checks never collide with the daily backup step's.
    """
    results: list[CheckResult] = []
    for target in config.backups.disaster_recovery.targets:
        started = utcnow()
        drilled, record = await asyncio.to_thread(restore_and_check, config, target, True)
        drilled = [r.model_copy(update={"check": _DRILLED.get(r.check, r.check)}) for r in drilled]
        rpo = rpo_seconds(started, record.get("newest"), record.get("taken_at"))
        problem = await asyncio.to_thread(
            record_dr_run,
            config,
            drill=True,
            run_id=run_id,
            target=target,
            record=record,
            results=drilled,
            rpo=rpo,
            finished=utcnow(),
        )
        results += drilled + ([problem] if problem else [])
    return results
