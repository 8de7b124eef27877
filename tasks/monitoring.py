"""Monitoring of the monitor: opsbook's own Prefect server, its schedules, and a dead-man's switch.

A checklist that silently stops running is the failure an operations lead fears most, so the
weekly maintenance asks: is the server up, is every schedule of prefect.yaml active, and did the
daily checklist complete within `maintenance.deadman_hours` (26 by default)?
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import httpx
import yaml
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.settings import PREFECT_API_URL

from opsbook.checks import AlertType, declare
from opsbook.config import HttpSettings
from opsbook.deployments.serve import expected_schedule_slugs
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, describe_exception, utcnow
from opsbook.store import HistoryStore, open_store
from opsbook.tasks.http import FetchFailure, fetch, new_client

COMPONENT = "monitoring"

PREFECT_SERVER = declare(
    "monitoring.prefect_server",
    title="Prefect server",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    unit="ms",
    runbook_steps=("Weekly Monitoring System Check / Checking monitoring system health",),
)

SCHEDULES = declare(
    "monitoring.schedules",
    title="Deployment schedules",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    runbook_steps=("Weekly Monitoring System Check / Checking monitoring system health",),
)

DEADMAN = declare(
    "monitoring.deadman",
    title="Dead-man's switch",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    unit="h",
    runbook_steps=("Weekly Monitoring System Check / Checking monitoring system health",),
)


def _server_url() -> str | None:
    return PREFECT_API_URL.value() or None


async def check_prefect_server(settings: HttpSettings) -> CheckResult:
    url = _server_url()
    if url is None:
        return PREFECT_SERVER.result(
            "prefect", Status.SKIPPED, message="no PREFECT_API_URL: runs use a temporary server"
        )
    async with new_client(settings) as client:
        outcome = await fetch(client, f"{url.rstrip('/')}/health", settings)
    if isinstance(outcome, FetchFailure):
        return PREFECT_SERVER.result(
            url, Status.FAIL, message=f"Prefect server down: {outcome.reason}", attempts=outcome.attempts
        )
    healthy = outcome.status_code == 200
    return PREFECT_SERVER.result(
        url,
        Status.OK if healthy else Status.FAIL,
        value=round(outcome.elapsed_ms, 1),
        unit="ms",
        message=f"Prefect server {'healthy' if healthy else 'unhealthy'}: HTTP {outcome.status_code}",
    )


async def check_schedules(expected: dict[str, list[str]], settings: HttpSettings) -> list[CheckResult]:
    """Each deployment of prefect.yaml exists on the server with every declared schedule active."""
    url = _server_url()
    if url is None:
        return [SCHEDULES.result("prefect", Status.SKIPPED, message="no PREFECT_API_URL: nothing is scheduled")]
    async with httpx.AsyncClient(base_url=url, timeout=settings.timeout_s) as client:
        response = await client.post("/deployments/filter", json={})
        response.raise_for_status()
        deployed = {d["name"]: d for d in response.json()}
    results = []
    for name, slugs in expected.items():
        deployment = deployed.get(name)
        if deployment is None:
            results.append(SCHEDULES.result(name, Status.FAIL, message="deployment missing on the server"))
            continue
        active = {s.get("slug") for s in deployment.get("schedules", []) if s.get("active")}
        missing = [slug for slug in slugs if slug not in active]
        paused = deployment.get("paused", False)
        ok = not missing and not paused
        message = (
            "all schedules active"
            if ok
            else ("deployment paused" if paused else f"schedule(s) missing or inactive: {', '.join(missing)}")
        )
        results.append(SCHEDULES.result(name, Status.OK if ok else Status.FAIL, message=message))
    return results


def check_deadman(store: HistoryStore, flow: str, hours: float, now: datetime | None = None) -> CheckResult:
    """Fail when `flow` has not completed a run within `hours` (a dead-man's switch)."""
    now = now or utcnow()
    finished = [r.finished_at for r in store.latest_runs(flow, limit=50) if r.finished_at is not None]
    target = f"{flow} within {hours:g} h"
    if not finished:
        return DEADMAN.result(target, Status.FAIL, threshold=hours, unit="h", message=f"{flow} has never completed")
    latest = max(finished)
    age_h = (now - latest) / timedelta(hours=1)
    late = age_h > hours
    return DEADMAN.result(
        target,
        Status.FAIL if late else Status.OK,
        value=round(age_h, 2),
        unit="h",
        threshold=hours,
        message=(f"{flow} has not completed for {age_h:.1f} h" if late else f"{flow} last completed {age_h:.1f} h ago"),
        details={"last_completed": latest.isoformat()},
    )


@task(name="check-monitoring-system", cache_policy=NO_CACHE, timeout_seconds=300)
async def check_monitoring_system(
    history_url: str, prefect_yaml: Path, deadman_hours: float, settings: HttpSettings
) -> list[CheckResult]:
    """The runbook's `check-monitoring-health.sh`: server, schedules and the dead-man's switch.

    The schedules expected are those `prefect_yaml` declares, read here rather than while the
    flow builds its steps: a missing or broken file is an error of this check, and the rest of
    the weekly run and its report go on.
    """
    results = [await check_prefect_server(settings)]
    try:
        expected = expected_schedule_slugs(prefect_yaml)
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as error:
        cause = error.strerror if isinstance(error, OSError) and error.strerror else describe_exception(error)
        message = f"cannot read the expected schedules from {prefect_yaml}: {cause}"
        results.append(SCHEDULES.error(str(prefect_yaml), message))
    else:
        try:
            results += await check_schedules(expected, settings)
        except httpx.HTTPError as error:
            results.append(SCHEDULES.error("prefect", error))
    try:
        results.append(check_deadman(open_store(history_url), "daily-checklist", deadman_hours))
    except Exception as error:
        results.append(DEADMAN.error("daily-checklist", error))
    return results
