"""Backfill: Prometheus' past CPU, memory, disk and network figures into the history store.

Capacity analysis wants 30+ days of data from its first week, and Prometheus already has them.
Range queries are cut into windows of at most `max_points_per_query` points (Prometheus refuses
more than 11,000 per series), aligned to the step so a repeated backfill lands on the same
instants and `HistoryStore.add_samples` ignores what is already stored.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from opsbook.config import EstateConfig
from opsbook.config.resources import PrometheusSource
from opsbook.results import utcnow
from opsbook.store import HistoryStore, Sample, open_store
from opsbook.tasks.http import new_client
from opsbook.tasks.prometheus import PrometheusError, Series, aligned_chunks, range_query, to_datetime

SOURCE = "prometheus"
# query name -> (metric name in the history, unit). CPU, memory and disk share the check ids.
METRICS: dict[str, tuple[str, str]] = {
    "cpu_pct": ("resource.cpu", "%"),
    "memory_pct": ("resource.memory", "%"),
    "disk_pct": ("resource.disk", "%"),
    "network_rx_bytes_per_s": ("resource.network_rx", "B/s"),
    "network_tx_bytes_per_s": ("resource.network_tx", "B/s"),
}
# Only the labels that name a series: exporters' extra labels (job, device, fstype) would split
# one disk into several series whenever a relabelling changed.
_SERIES_LABELS = ("instance", "mountpoint")


@dataclass
class BackfillOutcome:
    start: datetime
    end: datetime
    step_s: float
    windows: int = 0
    points: int = 0
    inserted: int = 0
    not_a_number: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


Progress = Callable[[str, int, int], None]  # (metric, windows done, windows in all)


def samples_from(metric: str, unit: str, series: list[Series], source: PrometheusSource) -> tuple[list[Sample], int]:
    """Samples of a range answer, and how many points were NaN or infinite (not stored)."""
    samples, skipped = [], 0
    for one in series:
        labels = {k: one.labels[k] for k in _SERIES_LABELS if k in one.labels}
        if source.mountpoints is not None and "mountpoint" in labels and labels["mountpoint"] not in source.mountpoints:
            continue
        for ts, value in one.points:
            if not math.isfinite(value):
                skipped += 1
                continue
            samples.append(
                Sample(metric=metric, value=value, ts=to_datetime(ts), source=SOURCE, labels=labels, unit=unit)
            )
    return samples, skipped


async def backfill_resources(
    config: EstateConfig,
    *,
    days: float | None = None,
    step_s: float | None = None,
    end: datetime | None = None,
    store: HistoryStore | None = None,
    on_progress: Progress | None = None,
) -> BackfillOutcome:
    """Store `days` of every resource query at `step_s` resolution; a failed window is reported
    and the others still stored, so running it again fills the gaps without duplicates."""
    source = config.resources.prometheus
    if source is None:
        raise ValueError("resources.prometheus is not configured: nothing to backfill from")
    store = store or open_store(config.history.url)
    step = step_s or source.step_s
    end = end or utcnow()
    start = end - timedelta(days=days or source.backfill_days)
    windows = aligned_chunks(start, end, step, source.max_points_per_query)
    outcome = BackfillOutcome(start=start, end=end, step_s=step)
    async with new_client(config.http, trust=config.http.trust(source.ca_bundle)) as client:
        for name, (metric, unit) in METRICS.items():
            promql = getattr(source.queries, name)
            for done, (first, last) in enumerate(windows, start=1):
                try:
                    series = await range_query(client, source, config.http, promql, first, last, step)
                except PrometheusError as error:
                    outcome.errors.append(
                        f"{metric} {to_datetime(first):%Y-%m-%d %H:%M:%S}"
                        f"-{to_datetime(last):%Y-%m-%d %H:%M:%S}: {error}"
                    )
                else:
                    samples, skipped = samples_from(metric, unit, series, source)
                    outcome.points += len(samples)
                    outcome.not_a_number += skipped
                    outcome.inserted += store.add_samples(samples)
                outcome.windows += 1
                if on_progress:
                    on_progress(metric, done, len(windows))
    return outcome
