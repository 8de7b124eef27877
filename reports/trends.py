"""Trend charts: what the last weeks looked like, next to today's figures.

The points come from the history, read by `opsbook.tasks.report_data.trend_points`; this module
only draws them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from markupsafe import Markup

from opsbook.config import Limit
from opsbook.reports.charts import LineChart, Series, line_chart

TrendPoints = Mapping[str, Sequence[tuple[datetime, float]]]
"""One check's figures per target: (time, value) pairs, oldest first."""


def check_trend_chart(points: TrendPoints, title: str, unit: str, limit: Limit | None = None) -> Markup:
    """A line per target (in name order), with the limit's warn and fail levels as threshold lines."""
    chart = LineChart(
        title=title,
        unit=f" {unit}" if unit else "",
        series=[Series(target, list(values)) for target, values in sorted(points.items())],
    )
    if limit is not None:
        chart.thresholds = {
            name: value for name, value in (("warn", limit.warn), ("fail", limit.fail)) if value is not None
        }
    return line_chart(chart)
