"""Configured cache actions (purge or warm endpoints), run in the maintenance window."""

from __future__ import annotations

import httpx
from prefect import task
from prefect.cache_policies import NO_CACHE

from opsbook.checks import AlertType, declare
from opsbook.config import HttpSettings
from opsbook.config.maintenance import CacheAction
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, utcnow
from opsbook.tasks.http import FetchFailure, fetch, sweep

COMPONENT = "maintenance"

CACHE_ACTIONS = declare(
    "maintenance.cache",
    title="Cache actions",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P3,
    runbook_steps=("Weekly Maintenance Routine / Optimizing cache performance",),
)


async def run_cache_actions(actions: list[CacheAction], settings: HttpSettings, apply: bool) -> list[CheckResult]:
    async def act(client: httpx.AsyncClient, action: CacheAction) -> CheckResult:
        started = utcnow()
        if not apply:
            return CACHE_ACTIONS.result(
                action.name,
                Status.OK,
                started_at=started,
                message=f"would POST {action.url} (dry run)",
                details={"dry_run": True},
            )
        outcome = await fetch(client, str(action.url), settings, method="POST", headers=action.headers)
        if isinstance(outcome, FetchFailure):
            return CACHE_ACTIONS.result(
                action.name,
                Status.FAIL,
                started_at=started,
                attempts=outcome.attempts,
                message=f"failed: {outcome.reason}",
            )
        ok = 200 <= outcome.status_code < 300
        return CACHE_ACTIONS.result(
            action.name,
            Status.OK if ok else Status.FAIL,
            started_at=started,
            attempts=outcome.attempts,
            message=f"HTTP {outcome.status_code}",
            details={"dry_run": False},
        )

    return await sweep(actions, act, settings, on_error=lambda action, error: CACHE_ACTIONS.error(action.name, error))


@task(name="run-cache-actions", cache_policy=NO_CACHE, timeout_seconds=600)
async def optimize_caches(actions: list[CacheAction], settings: HttpSettings, apply: bool = False) -> list[CheckResult]:
    """The runbook's `optimize-cache.sh`: each configured action, dry-run unless applied."""
    if not actions:
        return [CACHE_ACTIONS.skipped("no cache actions configured")]
    return await run_cache_actions(actions, settings, apply)
