"""Is what Prometheus answers still current? Each scrape target's `up` samples say.

A rate over a range keeps answering for minutes after its exporter stopped (the last points are
still in the range), so a figure alone cannot tell a live value from an old one. Prometheus
writes one `up` sample per target per scrape attempt: 1 when it worked, 0 when it did not. The
raw samples of the last `freshness_window_s` (an instant query of `up[window]`, so the real
sample times, not evaluation times) give per target: whether the last scrape worked, when the
newest successful one was, and the scrape interval (the spacing of the samples, so nothing
needs configuring). A target is stale when it is down, or when its newest sample is older than
`stale_after_scrapes` intervals (Prometheus itself stopped scraping it).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import timedelta

import httpx

from opsbook.config import HttpSettings
from opsbook.config.resources import PrometheusSource
from opsbook.durations import format_duration
from opsbook.tasks.prometheus import instant_query_raw


def _age(seconds: float) -> str:
    return format_duration(timedelta(seconds=round(max(seconds, 0.0))))


@dataclass(frozen=True)
class TargetFreshness:
    """One scrape target's `up` samples within the window, summarised."""

    instance: str
    job: str
    up: bool  # the newest scrape worked
    last_scrape: float  # unix seconds of the newest `up` sample
    last_success: float | None  # ... of the newest `up == 1` sample; None: none in the window
    interval_s: float | None  # median spacing of the samples; None with a single sample

    def problem(self, now: float, stale_after_scrapes: int, window_s: float) -> str | None:
        """Why this target's figures are not current, naming it and the age; None when they are."""
        who = f"target {self.instance} (job {self.job})"
        newest = (
            f"newest sample {_age(now - self.last_success)} old"
            if self.last_success is not None
            else f"no successful scrape in the last {_age(window_s)}"
        )
        if not self.up:
            return f"{who} is down (up == 0), {newest}"
        since = now - self.last_scrape
        if self.interval_s and since > stale_after_scrapes * self.interval_s:
            return (
                f"{who} not scraped for {_age(since)} (every {self.interval_s:g} s expected): "
                f"newest sample {_age(since)} old"
            )
        return None

    @property
    def details(self) -> dict[str, object]:
        return {
            "instance": self.instance,
            "job": self.job,
            "up": self.up,
            "last_scrape": self.last_scrape,
            "last_success": self.last_success,
            "scrape_interval_s": self.interval_s,
        }


def summarise(labels: dict[str, str], points: list[tuple[float, float]]) -> TargetFreshness:
    """A target's freshness from its raw `up` points (oldest first)."""
    successes = [ts for ts, value in points if value == 1]
    gaps = [later - earlier for (earlier, _), (later, _) in zip(points, points[1:], strict=False)]
    return TargetFreshness(
        instance=labels.get("instance", "(no instance label)"),
        job=labels.get("job", "(no job label)"),
        up=points[-1][1] == 1,
        last_scrape=points[-1][0],
        last_success=successes[-1] if successes else None,
        interval_s=round(statistics.median(gaps), 1) if gaps else None,  # scrapes jitter by milliseconds
    )


async def scrape_freshness(
    client: httpx.AsyncClient, source: PrometheusSource, settings: HttpSettings
) -> list[TargetFreshness]:
    """Every target the `up` selector matches, with its samples of the freshness window.

    Raises PrometheusError as any query does; a target without samples in the window is absent.
    """
    promql = f"{source.up_selector}[{source.freshness_window_s:g}s]"
    series = await instant_query_raw(client, source, settings, promql)
    return [summarise(one.labels, one.points) for one in series if one.points]
