"""The runbook's resource check: CPU, memory and disk per instance and mount point, warn above 80 %.

Figures come from Prometheus (node exporter) and/or the local host (psutil). A source that
cannot answer gives an `error` result per figure, never a silent ok: unreachable, a rejected
query (Prometheus' message verbatim), no series, or a value that is not a percentage (NaN).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

from prefect import task
from prefect.cache_policies import NO_CACHE

from opsbook.config import EstateConfig, Limit
from opsbook.config.resources import HostSource, PrometheusSource
from opsbook.results import CheckResult, Status, error_result, judge, stopwatch, utcnow
from opsbook.tasks.host import measure_host
from opsbook.tasks.http import new_client
from opsbook.tasks.prometheus import PrometheusError, Series, instant_query

COMPONENT = "resources"
# figure -> (check id, words). The check ids double as the metric names of backfilled samples.
FIGURES: dict[str, tuple[str, str]] = {
    "cpu_pct": ("resource.cpu", "CPU"),
    "memory_pct": ("resource.memory", "memory"),
    "disk_pct": ("resource.disk", "disk"),
}
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
    common = dict(
        check=check,
        target=reading.target,
        component=COMPONENT,
        labels=reading.labels,
        details={"source": reading.source, **reading.details},
    )
    if not math.isfinite(reading.value):
        return error_result(
            check,
            reading.target,
            COMPONENT,
            f"{words} is {reading.value} from {reading.source}, not a number "
            "(a division by zero or a series without data?)",
            labels=reading.labels,
            details=common["details"],
        )
    if not -_PERCENT_SLACK <= reading.value <= 100 + _PERCENT_SLACK:
        return error_result(
            check,
            reading.target,
            COMPONENT,
            f"{words} is {reading.value:g} from {reading.source}, not a percentage",
            labels=reading.labels,
            details=common["details"],
        )
    value = round(min(max(reading.value, 0.0), 100.0), 2)
    status, threshold = judge(value, limit.warn, limit.fail, higher_is_worse=limit.higher_is_worse)
    where = f" on {reading.mountpoint}" if reading.mountpoint else ""
    level = {Status.WARN: "warning", Status.FAIL: "critical"}.get(status)
    above = f", above the {level} level of {threshold:g} %" if level else ""
    return CheckResult(
        status=status,
        value=value,
        unit="%",
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
                    error_result(
                        check,
                        "prometheus",
                        COMPONENT,
                        f"{words}: {error}",
                        details=context | {"failure": error.kind},
                        started_at=started_at,
                    )
                ]
        readings = readings_from_series(figure, series, source)
        if not readings:
            watched = f" for mount points {source.mountpoints}" if series and source.mountpoints else ""
            return [
                error_result(
                    check,
                    "prometheus",
                    COMPONENT,
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

    async with new_client(config.http, connections=len(FIGURES)) as client:
        batches = await asyncio.gather(*(one(client, figure) for figure in FIGURES))
    return [result for batch in batches for result in batch]


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
                error_result(
                    "resource.disk",
                    f"{figures.instance} {mountpoint}",
                    COMPONENT,
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
    order = {check: index for index, (check, _) in enumerate(FIGURES.values())}
    return sorted((r for batch in batches for r in batch), key=lambda r: order[r.check])


@task(name="check-resource-utilisation", timeout_seconds=300, cache_policy=NO_CACHE)
async def check_resource_utilisation(config: EstateConfig) -> list[CheckResult]:
    """The runbook's resource check: CPU, memory and disk against `thresholds.resources`."""
    if not config.resources.configured:
        return [
            CheckResult(
                check="resource.utilisation",
                target="(none)",
                component=COMPONENT,
                status=Status.SKIPPED,
                message="no resource source configured (resources.prometheus or resources.host)",
            )
        ]
    return await measure_resources(config)
