"""Trend charts built from the history: what the last weeks looked like, next to today's figures."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from markupsafe import Markup

from opsbook.config import Limit
from opsbook.reports.charts import LineChart, Series, line_chart
from opsbook.results import CheckResult
from opsbook.store import HistoryStore


def check_trend_chart(
    store: HistoryStore,
    check: str,
    title: str,
    unit: str,
    current: list[CheckResult],
    limit: Limit | None = None,
    days: int = 30,
    now: datetime | None = None,
) -> Markup:
    """A line per target of one check over `days`, today's results included, with threshold lines."""
    since = (now or max((r.started_at for r in current), default=datetime.now().astimezone())) - timedelta(days=days)
    points: dict[str, dict[datetime, float]] = defaultdict(dict)
    for result in store.result_history(check, since=since) + list(current):
        if result.value is not None and result.check == check:
            points[result.target][result.started_at] = result.value
    chart = LineChart(
        title=title,
        unit=f" {unit}" if unit else "",
        series=[Series(target, sorted(values.items())) for target, values in sorted(points.items())],
    )
    if limit is not None:
        chart.thresholds = {
            name: value for name, value in (("warn", limit.warn), ("fail", limit.fail)) if value is not None
        }
    return line_chart(chart)
