"""The runbook's KPI review from the application's own JSON API: web vitals, API performance,
engagement, security dashboard, resources, RUM and the 24-hour error rate, one task per step.

One fetch per endpoint (bounded body, deadline, retries only when transient), read by
`tasks.json_api`; a fault in one endpoint never stops the others. Every figure read is stored as
a metric sample. Failures then pass flap control and maintenance windows before they return.
"""

from __future__ import annotations

import httpx
from prefect import task
from prefect.cache_policies import NO_CACHE

from opsbook.config import EstateConfig
from opsbook.config.app_metrics import AppStep, Endpoint, JsonApiSource
from opsbook.flapping import settle_flaps
from opsbook.maintenance import active_window, silence
from opsbook.results import CheckResult, describe_exception, utcnow
from opsbook.store import HistoryStore, open_store
from opsbook.tasks.http import fetch, sweep
from opsbook.tasks.json_api import APP_CHECKS, Reading, read_response

# step -> (task name, section title), in the runbook's order.
STEPS: dict[AppStep, tuple[str, str]] = {
    "web_vitals": ("check-web-vitals", "Core Web Vitals"),
    "api_performance": ("check-api-performance", "API performance"),
    "engagement": ("check-user-engagement", "User engagement"),
    "security": ("check-security-dashboard", "Security dashboard"),
    "resources": ("check-app-resources", "Resource utilisation (application API)"),
    "rum": ("check-real-user-monitoring", "Real User Monitoring"),
    "error_rate": ("check-error-rate-24h", "Error rate, last 24 h"),
}


def settle(result: CheckResult, source: JsonApiSource, endpoint: Endpoint, store: HistoryStore | None) -> CheckResult:
    """Flap control from the history, then the maintenance mark; both only touch failures."""
    result = settle_flaps(result, store, endpoint.failure_threshold or source.failure_threshold)
    if window := active_window(source.maintenance, result.started_at):
        result = silence(result, window)
    return result


async def read_step(config: EstateConfig, step: AppStep) -> list[CheckResult]:
    """Read every endpoint of one daily step from every json_api source, concurrently.

    With no `metrics_sources` at all the step has nothing to say (no results, no section); with
    sources that feed other steps only, it is reported as skipped.
    """
    if not config.metrics_sources:
        return []
    jobs = [
        (source, endpoint)
        for source in config.metrics_sources
        for endpoint in source.endpoints
        if endpoint.step == step
    ]
    if not jobs:
        return [APP_CHECKS[step].skipped("no metrics_sources endpoint feeds this step")]

    readings = await read_endpoints(config, jobs)
    results: list[CheckResult] = []
    problems: list[CheckResult] = []
    store: HistoryStore | None = None
    try:
        store = open_store(config.history.url)
        store.add_samples([s for reading in readings for s in reading.samples])
    except Exception as error:
        store = None
        problems.append(APP_CHECKS[step].error("(history)", f"figures not stored: {describe_exception(error)}"))
    for (source, endpoint), reading in zip(jobs, readings, strict=True):
        results.extend(settle(result, source, endpoint, store) for result in reading.results)
    return results + problems


async def read_endpoints(config: EstateConfig, jobs: list[tuple[JsonApiSource, Endpoint]]) -> list[Reading]:
    """Fetch and read each (source, endpoint) concurrently; readings keep the order of `jobs`."""

    async def probe(client: httpx.AsyncClient, job: tuple[JsonApiSource, Endpoint]) -> Reading:
        source, endpoint = job
        started_at = utcnow()
        outcome = await fetch(
            client,
            source.url(endpoint),
            config.http,
            headers={**source.headers, **endpoint.headers},
            timeout_s=source.timeout_s,
            max_redirects=source.max_redirects if source.follow_redirects else 0,
        )
        return read_response(source, endpoint, outcome, config.thresholds, started_at)

    def failed(job: tuple[JsonApiSource, Endpoint], error: Exception) -> Reading:
        source, endpoint = job
        return Reading([APP_CHECKS[endpoint.step].error(f"{source.name}/{endpoint.name}", error)])

    return await sweep(
        jobs,
        probe,
        config.http,
        on_error=failed,
        trust=lambda job: config.http.trust(job[0].ca_bundle, verify=job[0].verify_tls),
    )


async def try_mapping(
    config: EstateConfig, source: str | None = None, endpoint: str | None = None
) -> list[CheckResult]:
    """Read the chosen endpoints as the daily steps would, and keep nothing: for trying a mapping.

    No history is written and no flap control or maintenance window applies: what the API says now.
    Raises LookupError naming what exists when `source` or `endpoint` matches nothing.
    """
    sources = [s for s in config.metrics_sources if source in (None, s.name)]
    if not sources:
        known = ", ".join(s.name for s in config.metrics_sources) or "none configured (metrics_sources)"
        raise LookupError(f"no metrics source {source!r}; known: {known}")
    jobs = [(s, e) for s in sources for e in s.endpoints if endpoint in (None, e.name)]
    if not jobs:
        known = ", ".join(e.name for s in sources for e in s.endpoints)
        raise LookupError(f"no endpoint {endpoint!r}; known: {known}")
    return [result for reading in await read_endpoints(config, jobs) for result in reading.results]


def _step_task(step: AppStep):
    name, title = STEPS[step]

    async def run(config: EstateConfig) -> list[CheckResult]:
        return await read_step(config, step)

    run.__name__ = run.__qualname__ = name.replace("-", "_")
    run.__doc__ = f"The runbook's KPI review: {title}, from the application's JSON API."
    return task(name=name, timeout_seconds=300, cache_policy=NO_CACHE)(run)


check_web_vitals = _step_task("web_vitals")
check_api_performance = _step_task("api_performance")
check_user_engagement = _step_task("engagement")
check_security_dashboard = _step_task("security")
check_app_resources = _step_task("resources")
check_real_user_monitoring = _step_task("rum")
check_error_rate_24h = _step_task("error_rate")
