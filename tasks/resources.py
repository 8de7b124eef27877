"""The runbook's resource check: CPU, memory and disk per instance and mount point, warn above 80 %.

Figures come from Prometheus (node exporter) and/or the local host (psutil). A source that
cannot answer gives an `error` result per figure, never a silent ok: unreachable, a rejected
query (Prometheus' message verbatim), no series, a value that is not a percentage (NaN), or a
figure of a target that is down or no longer scraped (tasks/prometheus_freshness.py).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

from prefect import task
from prefect.cache_policies import NO_CACHE

from opsbook.checks import AlertType, Check, declare
from opsbook.config import EstateConfig, Limit
from opsbook.config.resources import HostSource, PrometheusSource
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, judge, stopwatch, utcnow
from opsbook.tasks.host import measure_host
from opsbook.tasks.http import new_client
from opsbook.tasks.prometheus import PrometheusError, Series, instant_query
from opsbook.tasks.prometheus_freshness import TargetFreshness, scrape_freshness

COMPONENT = "resources"
# The runbook alerts ("Resource utilization warning") as soon as a figure passes 80 %. Nothing is
# degraded yet, so by its severity table that is Low (P3: respond within 4 h, time to plan);
# past the critical level it is the declaration's P2 (slow performance is near).
RUNBOOK_WARN_SEVERITY = Severity.P3

CPU = declare(
    "resource.cpu",
    title="CPU",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P2,
    unit="%",
    on_fail="CPU is saturated: find the busiest processes or pods, scale out or up, and check for a runaway job.",
    on_warn="CPU is above 80 %: compare with the 7-day baseline and plan capacity before it turns critical.",
    runbook_steps=("System Resource Check",),
    monitored=True,
    warn_severity=RUNBOOK_WARN_SEVERITY,
)

MEMORY = declare(
    "resource.memory",
    title="Memory",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P2,
    unit="%",
    on_fail=(
        "Memory is nearly exhausted: look for leaks or oversized caches, restart or scale before the OOM killer acts."
    ),
    on_warn="Memory is above 80 %: check its growth over the last days and plan more headroom.",
    runbook_steps=("System Resource Check",),
    monitored=True,
    warn_severity=RUNBOOK_WARN_SEVERITY,
)

DISK = declare(
    "resource.disk",
    title="Disk",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P2,
    unit="%",
    on_fail="The disk is nearly full: clean old logs and backups (dry-run first) or grow the volume now.",
    on_warn="Disk is above 80 %: run the log cleanup and check the capacity projection for when it fills.",
    runbook_steps=("System Resource Check",),
    monitored=True,
    warn_severity=RUNBOOK_WARN_SEVERITY,
)

# The step when no resource source is configured.
UTILISATION = declare(
    "resource.utilisation",
    title="Resource utilisation",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P2,
    runbook_steps=("System Resource Check",),
)
# figure -> (check, words). The check ids double as the metric names of backfilled samples.
FIGURES: dict[str, tuple[Check, str]] = {
    "cpu_pct": (CPU, "CPU"),
    "memory_pct": (MEMORY, "memory"),
    "disk_pct": (DISK, "disk"),
}
_BY_ID = {check.id: (check, words) for check, words in FIGURES.values()}
_PERCENT_SLACK = 0.5  # rounding in a rate() may overshoot 100 % a little; more is bad data


@dataclass(frozen=True)
class Reading:
    """One figure of one instance (and mount point, for disk) from one source."""

    figure: str
    instance: str
    value: float
    source: str
    mountpoint: str | None = None
    details: dict[str, object] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return f"{self.instance} {self.mountpoint}" if self.mountpoint else self.instance

    @property
    def labels(self) -> dict[str, str]:
        labels = {"instance": self.instance, "source": self.source}
        return labels | ({"mountpoint": self.mountpoint} if self.mountpoint else {})


def limit_for(config: EstateConfig, figure: str) -> Limit:
    return getattr(config.thresholds.resources, figure)


def judge_reading(reading: Reading, limit: Limit) -> CheckResult:
    """A percentage against its limit; NaN, infinities and values outside 0-100 are errors."""
    check, words = FIGURES[reading.figure]
    common = dict(labels=reading.labels, details={"source": reading.source, **reading.details})
    if not math.isfinite(reading.value):
        return check.error(
            reading.target,
            f"{words} is {reading.value} from {reading.source}, not a number "
            "(a division by zero or a series without data?)",
            **common,
        )
    if not -_PERCENT_SLACK <= reading.value <= 100 + _PERCENT_SLACK:
        return check.error(
            reading.target, f"{words} is {reading.value:g} from {reading.source}, not a percentage", **common
        )
    value = round(min(max(reading.value, 0.0), 100.0), 2)
    status, threshold = judge(value, limit.warn, limit.fail, higher_is_worse=limit.higher_is_worse)
    where = f" on {reading.mountpoint}" if reading.mountpoint else ""
    level = {Status.WARN: "warning", Status.FAIL: "critical"}.get(status)
    above = f", above the {level} level of {threshold:g} %" if level else ""
    return check.result(
        reading.target,
        status,
        value=value,
        threshold=threshold,
        message=f"{words}{where} at {value:.1f} %{above}",
        **common,
    )


# -- Prometheus ---------------------------------------------------------------------------------


def readings_from_series(figure: str, series: list[Series], source: PrometheusSource) -> list[Reading]:
    """One reading per series; disk series outside the watched mount points are left out."""
    readings = []
    for one in series:
        mountpoint = one.labels.get("mountpoint") if figure == "disk_pct" else None
        if figure == "disk_pct" and source.mountpoints is not None and mountpoint not in source.mountpoints:
            continue
        ts, value = one.points[-1]
        instance = one.labels.get("instance") or one.labels.get("job") or "(no instance label)"
        details = {"labels": one.labels, "ts": ts}
        readings.append(Reading(figure, instance, value, "prometheus", mountpoint, details))
    return readings


async def prometheus_results(config: EstateConfig, source: PrometheusSource) -> list[CheckResult]:
    """CPU, memory and disk from one Prometheus, queried at once; per figure results or an error."""

    async def one(client, figure: str) -> list[CheckResult]:
        check, words = FIGURES[figure]
        promql = getattr(source.queries, figure)
        context = {"url": str(source.url), "query": promql}
        started_at = utcnow()
        with stopwatch() as timing:
            try:
                series = await instant_query(client, source, config.http, promql)
            except PrometheusError as error:
                return [
                    check.error(
                        "prometheus",
                        f"{words}: {error}",
                        details=context | {"failure": error.kind},
                        started_at=started_at,
                    )
                ]
        readings = readings_from_series(figure, series, source)
        if not readings:
            watched = f" for mount points {source.mountpoints}" if series and source.mountpoints else ""
            return [
                check.error(
                    "prometheus",
                    f"{words}: no series{watched} (query matched nothing: is node exporter scraped?)",
                    details=context | {"failure": "no_series"},
                    started_at=started_at,
                )
            ]
        results = [judge_reading(r, limit_for(config, figure)) for r in readings]
        return [
            r.model_copy(
                update={"started_at": started_at, "duration_ms": timing["ms"], "details": r.details | {"query": promql}}
            )
            for r in results
        ]

    async def freshness(client) -> list[TargetFreshness] | PrometheusError:
        try:
            return await scrape_freshness(client, source, config.http)
        except PrometheusError as error:
            return error

    trust = config.http.trust(source.ca_bundle)
    async with new_client(config.http, trust=trust, connections=len(FIGURES) + 1) as client:
        targets, batches = await asyncio.gather(
            freshness(client), asyncio.gather(*(one(client, figure) for figure in FIGURES))
        )
    results = [result for batch in batches for result in batch]
    return judge_freshness(results, targets, source, utcnow().timestamp())


def judge_freshness(
    results: list[CheckResult], targets: list[TargetFreshness] | PrometheusError, source: PrometheusSource, now: float
) -> list[CheckResult]:
    """A figure of a target that is down or no longer scraped is an `error` naming the target and the age.

    A figure query that matched nothing while targets are stale is one error per stale target
    (the usual cause: the exporter stopped, its instant series went stale). When freshness could
    not be read at all, the figures stand but say so.
    """
    if isinstance(targets, PrometheusError):
        note = f"freshness not checked: {targets}"
        return [
            r if r.status is Status.ERROR else r.model_copy(update={"details": r.details | {"freshness": note}})
            for r in results
        ]
    by_instance = {t.instance: t for t in targets}
    stale = {
        t.instance: (t, problem)
        for t in targets
        if (problem := t.problem(now, source.stale_after_scrapes, source.freshness_window_s))
    }
    judged: list[CheckResult] = []
    for result in results:
        check, words = _BY_ID[result.check]
        instance = result.labels.get("instance")
        if result.details.get("failure") == "no_series" and stale:
            judged += [
                check.error(
                    name,
                    f"{words}: no series; {problem}",
                    labels={"instance": name, "source": "prometheus"},
                    details=result.details | {"failure": "stale", "freshness": target.details},
                    started_at=result.started_at,
                )
                for name, (target, problem) in stale.items()
            ]
        elif instance in stale and result.status is not Status.ERROR:
            target, problem = stale[instance]
            judged.append(
                check.error(
                    result.target,
                    f"{words}: {problem}; the last value read ({result.value:g} %) is not current",
                    labels=result.labels,
                    details=result.details | {"failure": "stale", "freshness": target.details},
                    started_at=result.started_at,
                    duration_ms=result.duration_ms,
                )
            )
        elif instance is not None and result.status is not Status.ERROR:
            known = by_instance.get(instance)
            freshness = known.details if known else f"no {source.up_selector} series for this instance"
            judged.append(result.model_copy(update={"details": result.details | {"freshness": freshness}}))
        else:
            judged.append(result)
    return judged


# -- the local host -----------------------------------------------------------------------------


def host_results(config: EstateConfig, source: HostSource) -> list[CheckResult]:
    started_at = utcnow()
    with stopwatch() as timing:
        figures = measure_host(source)
    readings = [
        Reading("cpu_pct", figures.instance, figures.cpu_pct, "host"),
        Reading("memory_pct", figures.instance, figures.memory_pct, "host"),
    ]
    results = []
    for mountpoint, usage in figures.disk_pct.items():
        if isinstance(usage, str):
            results.append(
                DISK.error(
                    f"{figures.instance} {mountpoint}",
                    f"disk on {mountpoint}: {usage}",
                    started_at=started_at,
                    labels={"instance": figures.instance, "source": "host", "mountpoint": mountpoint},
                )
            )
        else:
            readings.append(Reading("disk_pct", figures.instance, usage, "host", mountpoint))
    results += [judge_reading(r, limit_for(config, r.figure)) for r in readings]
    return [r.model_copy(update={"started_at": started_at, "duration_ms": timing["ms"]}) for r in results]


async def measure_resources(config: EstateConfig) -> list[CheckResult]:
    """Every configured source, concurrently; results ordered CPU, memory, disk."""
    sources = config.resources
    jobs = []
    if sources.prometheus is not None:
        jobs.append(prometheus_results(config, sources.prometheus))
    if sources.host is not None:
        jobs.append(asyncio.to_thread(host_results, config, sources.host))
    batches = await asyncio.gather(*jobs)
    order = {check.id: index for index, (check, _) in enumerate(FIGURES.values())}
    return sorted((r for batch in batches for r in batch), key=lambda r: order[r.check])


@task(name="check-resource-utilisation", timeout_seconds=300, cache_policy=NO_CACHE)
async def check_resource_utilisation(config: EstateConfig) -> list[CheckResult]:
    """The runbook's resource check: CPU, memory and disk against `thresholds.resources`."""
    if not config.resources.configured:
        return [UTILISATION.skipped("no resource source configured (resources.prometheus or resources.host)")]
    return await measure_resources(config)
