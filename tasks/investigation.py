"""The runbook's performance investigation: figures against their baseline, recent deploys and
external dependencies, each as results for the investigation report."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from prefect import task
from prefect.cache_policies import NO_CACHE

from opsbook.checks import AlertType, declare
from opsbook.config import EstateConfig, Platform
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, judge, utcnow
from opsbook.store import Sample, open_store
from opsbook.tasks.http import FetchFailure, fetch, new_client, sweep
from opsbook.tasks.platforms import judge_platform

BASELINE = declare(
    "investigation.baseline",
    title="Against the baseline",
    component="performance",
    alert_type=AlertType.PERFORMANCE,
    severity=Severity.P3,
    unit="x",
)

RECENT_DEPLOYS = declare(
    "investigation.deploys",
    title="Recent deployments",
    component="performance",
    alert_type=AlertType.PERFORMANCE,
    severity=Severity.P3,
    unit="deploys",
)

DEPENDENCY_HEALTH = declare(
    "dependency.health",
    title="External dependency",
    component="dependencies",
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P3,
    unit="ms",
)

RECENT = timedelta(hours=1)
# Current against baseline median: 1.5x is worth a look, 2x is a regression.
RATIO_WARN, RATIO_FAIL = 1.5, 2.0


def compare_to_baseline(metric: str, samples: list[Sample], now: datetime, days: int) -> list[CheckResult]:
    """Per target: mean of the last hour against the median of the days before it."""
    by_target: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_target[s.labels.get("target", "(all)")].append(s)
    results = []
    for target, series in sorted(by_target.items()):
        recent = [s.value for s in series if s.ts >= now - RECENT]
        older = [s.value for s in series if now - timedelta(days=days) <= s.ts < now - RECENT]
        if not recent or len(older) < 3:
            results.append(
                BASELINE.result(
                    f"{metric} {target}",
                    Status.SKIPPED,
                    message=f"insufficient data: {len(recent)} recent, {len(older)} baseline sample(s)",
                )
            )
            continue
        current, baseline = statistics.fmean(recent), statistics.median(older)
        ratio = current / baseline if baseline else float("inf")
        status, threshold = judge(ratio, RATIO_WARN, RATIO_FAIL)
        results.append(
            BASELINE.result(
                f"{metric} {target}",
                status,
                value=round(ratio, 2),
                threshold=threshold,
                message=f"now {current:.1f} against a {days}-day median of {baseline:.1f}",
                details={"current": current, "baseline": baseline, "baseline_samples": len(older)},
            )
        )
    return results


@task(name="compare-with-baseline", cache_policy=NO_CACHE, timeout_seconds=300)
def baseline_comparison(
    config: EstateConfig, metrics: list[str], current: list[CheckResult], now: datetime | None = None
) -> list[CheckResult]:
    now = now or utcnow()
    store = open_store(config.history.url)
    results = []
    for metric in metrics:
        samples = store.samples(metric, since=now - timedelta(days=config.incidents.baseline_days))
        samples += [
            Sample(r.check, r.value, r.started_at, labels={"target": r.target})
            for r in current
            if r.check == metric and r.value is not None
        ]
        results += compare_to_baseline(metric, samples, now, config.incidents.baseline_days)
    return results or [BASELINE.skipped("no metrics asked for")]


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@task(name="check-recent-deployments", cache_policy=NO_CACHE, timeout_seconds=120)
async def recent_deployments(config: EstateConfig, now: datetime | None = None) -> list[CheckResult]:
    """Deploys in the last 24 h from the configured deploy log (JSON list of {at, version, ...})."""
    now = now or utcnow()
    source = config.incidents.deploy_log
    target = "deploy log"
    if not source:
        return [RECENT_DEPLOYS.skipped("no deploy log configured (incidents.deploy_log)", target)]
    try:
        if source.startswith(("http://", "https://")):
            async with new_client(config.http) as client:
                outcome = await fetch(client, source, config.http)
            if isinstance(outcome, FetchFailure) or outcome.status_code != 200:
                reason = outcome.reason if isinstance(outcome, FetchFailure) else f"HTTP {outcome.status_code}"
                return [RECENT_DEPLOYS.error(target, f"deploy log: {reason}")]
            text = outcome.text
        else:
            text = Path(source).read_text(encoding="utf-8")
        deploys = [d for d in json.loads(text) if now - timedelta(hours=24) <= _parse_time(str(d["at"])) <= now]
    except (OSError, ValueError, KeyError, TypeError) as error:
        return [RECENT_DEPLOYS.error(target, error)]
    deploys.sort(key=lambda d: _parse_time(str(d["at"])))
    last = f"; last {deploys[-1].get('version', '?')} at {deploys[-1]['at']}" if deploys else ""
    return [
        RECENT_DEPLOYS.result(
            target,
            Status.WARN if deploys else Status.OK,
            value=len(deploys),
            message=f"{len(deploys)} deploy(s) in the last 24 h{last}",
            details={"deploys": deploys},
        )
    ]


@task(name="check-external-dependencies", cache_policy=NO_CACHE, timeout_seconds=300)
async def external_dependencies(config: EstateConfig) -> list[CheckResult]:
    """Each configured dependency's URL, judged like a platform health endpoint."""
    if not config.incidents.dependencies:
        return [DEPENDENCY_HEALTH.skipped("no dependencies configured (incidents.dependencies)")]
    latency = config.thresholds.http.latency_ms

    async def probe(client: httpx.AsyncClient, platform: Platform) -> CheckResult:
        started = utcnow()
        outcome = await fetch(client, str(platform.url), config.http)
        result = judge_platform(platform, latency, outcome, started)
        return result.model_copy(update={"check": DEPENDENCY_HEALTH.id, "component": DEPENDENCY_HEALTH.component})

    targets = [Platform(name=d.name, url=d.url) for d in config.incidents.dependencies]
    return await sweep(targets, probe, config.http, on_error=lambda p, error: DEPENDENCY_HEALTH.error(p.name, error))
