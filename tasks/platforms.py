"""Platform health: is each hosting platform's health endpoint up, correct and fast enough?"""

from __future__ import annotations

import httpx
from prefect import task
from prefect.cache_policies import NO_CACHE

from opsbook.checks import AlertType, declare
from opsbook.config import EstateConfig, Limit, Platform
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, judge, utcnow
from opsbook.tasks.http import FetchFailure, fetch, sweep

PLATFORM_HEALTH = declare(
    "platform.health",
    title="Platform health",
    component="platforms",
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P1,
    unit="ms",
    on_fail=(
        "Open the platform's dashboard and recent deploys; if it stays down for 15 minutes, open a P1 incident "
        "(`opsbook incident open`) and follow the escalation matrix."
    ),
    on_warn="Latency is above target: compare with the 7-day baseline and run a performance investigation.",
    runbook_steps=(
        "System Health Validation (08:00 UTC) / Checking platform health",
        "Monthly System Optimization / Performing comprehensive system health audit",
    ),
    monitored=True,
)
_EXCERPT_CHARS = 200
_MESSAGE_EXCERPT_CHARS = 120


def _excerpt(text: str, limit: int) -> str:
    """The start of a body on one line, to show an operator what the target said."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def judge_platform(platform: Platform, latency: Limit, outcome, started_at) -> CheckResult:
    """Turn one fetch outcome into a result: down or wrong status is fail, slow is warn or fail."""
    common = dict(started_at=started_at, labels={"url": str(platform.url)})
    if isinstance(outcome, FetchFailure):
        details: dict[str, object] = {"url": str(platform.url), "failure": outcome.kind}
        message = f"down: {outcome.reason}"
        if outcome.last_response is not None:
            details["status_code"] = outcome.last_response.status_code
            details["body_excerpt"] = _excerpt(outcome.last_response.text, _EXCERPT_CHARS)
            if said := _excerpt(outcome.last_response.text, _MESSAGE_EXCERPT_CHARS):
                message += f": {said}"
        return PLATFORM_HEALTH.result(
            platform.name,
            Status.FAIL,
            message=message,
            duration_ms=outcome.elapsed_ms,
            attempts=outcome.attempts,
            details=details,
            **common,
        )
    details = {"url": str(platform.url), "status_code": outcome.status_code}
    if outcome.status_code not in platform.expected_status:
        details["body_excerpt"] = _excerpt(outcome.text, _EXCERPT_CHARS)
        expected = ", ".join(map(str, platform.expected_status))
        message = f"HTTP {outcome.status_code}, expected {expected}"
        if said := _excerpt(outcome.text, _MESSAGE_EXCERPT_CHARS):
            message += f": {said}"
        return PLATFORM_HEALTH.result(
            platform.name,
            Status.FAIL,
            value=outcome.elapsed_ms,
            duration_ms=outcome.elapsed_ms,
            attempts=outcome.attempts,
            details=details,
            message=message,
            **common,
        )
    status, threshold = judge(outcome.elapsed_ms, latency.warn, latency.fail)
    words = {Status.OK: "healthy", Status.WARN: "slow", Status.FAIL: "too slow"}[status]
    return PLATFORM_HEALTH.result(
        platform.name,
        status,
        value=round(outcome.elapsed_ms, 1),
        threshold=threshold,
        duration_ms=outcome.elapsed_ms,
        attempts=outcome.attempts,
        details=details,
        message=f"{words}: HTTP {outcome.status_code} in {outcome.elapsed_ms:.0f} ms",
        **common,
    )


async def probe_platforms(config: EstateConfig) -> list[CheckResult]:
    """Check every configured platform concurrently; one result per platform, in config order."""
    default_latency = config.thresholds.http.latency_ms

    async def probe(client: httpx.AsyncClient, platform: Platform) -> CheckResult:
        started_at = utcnow()
        outcome = await fetch(
            client,
            str(platform.url),
            config.http,
            method=platform.method,
            headers=platform.headers,
            timeout_s=platform.timeout_s,
        )
        return judge_platform(platform, platform.latency_ms or default_latency, outcome, started_at)

    return await sweep(
        config.platforms,
        probe,
        config.http,
        on_error=lambda p, error: PLATFORM_HEALTH.error(p.name, error),
        verify=lambda p: p.verify_tls,
    )


@task(name="check-platform-health", timeout_seconds=900, cache_policy=NO_CACHE)
async def check_platform_health(config: EstateConfig) -> list[CheckResult]:
    """The runbook's step 1: every platform's health endpoint, checked at once.

    Async so that Prefect's task timeout can interrupt it (a worker thread cannot be).
    """
    if not config.platforms:
        return [PLATFORM_HEALTH.skipped("no platforms configured")]
    return await probe_platforms(config)
