"""The critical-incident steps that act: rollback rule, rollback action, disaster-recovery trigger.

The rollback action is dry-run unless asked otherwise, and the flow runs it only after a human
approved it in the Prefect UI.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta

from prefect import task
from prefect.cache_policies import NO_CACHE

from opsbook.config import EstateConfig
from opsbook.results import CheckResult, Status, describe_exception, utcnow
from opsbook.secrets import redact
from opsbook.store import open_store


@dataclass(frozen=True)
class Decision:
    recommended: bool
    reason: str


@task(name="evaluate-rollback-rule", cache_policy=NO_CACHE, timeout_seconds=60)
def evaluate_rollback(config: EstateConfig, now: datetime | None = None) -> Decision:
    """The configured rule: the metric's latest sample in the window above the level means roll back."""
    rule = config.incidents.rollback
    now = now or utcnow()
    samples = open_store(config.history.url).samples(rule.metric, since=now - timedelta(minutes=rule.window_minutes))
    if not samples:
        return Decision(False, f"no {rule.metric} samples in the last {rule.window_minutes:g} min: cannot judge")
    latest = samples[-1]
    if latest.value > rule.above:
        return Decision(True, f"{rule.metric} is {latest.value:g}, above {rule.above:g}")
    return Decision(False, f"{rule.metric} is {latest.value:g}, within {rule.above:g}")


@task(name="run-rollback-action", cache_policy=NO_CACHE, timeout_seconds=3600)
def run_rollback(config: EstateConfig, dry_run: bool) -> str:
    """Run the configured rollback command (never through a shell); say what happened."""
    command = config.incidents.rollback.command
    if not command:
        return "no rollback action configured (incidents.rollback.command)"
    shown = redact(" ".join(command))
    if dry_run:
        return f"dry run: would run `{shown}`"
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=config.incidents.rollback.timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return redact(f"rollback `{shown}` could not run: {describe_exception(error)}")
    tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or [""]
    verdict = "succeeded" if done.returncode == 0 else f"failed (exit {done.returncode})"
    return redact(f"rollback `{shown}` {verdict}" + (f": {tail[0][:200]}" if tail[0] else ""))


def disaster_recovery_needed(platform_results: list[CheckResult]) -> Decision:
    """The runbook's DR trigger: every platform is down (not merely slow)."""
    measured = [r for r in platform_results if r.status is not Status.SKIPPED]
    down = [r for r in measured if r.status in (Status.FAIL, Status.ERROR)]
    if measured and len(down) == len(measured):
        return Decision(True, f"all {len(measured)} platform(s) down: activate disaster recovery")
    return Decision(False, f"{len(down)} of {len(measured)} platform(s) down: no disaster recovery")
