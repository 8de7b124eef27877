"""Inline SVG charts: data drawn, thresholds drawn, labels escaped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opsbook.reports.charts import LineChart, Series, bar_chart, line_chart, uptime_bars

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_line_chart_draws_each_series_and_threshold() -> None:
    chart = line_chart(
        LineChart(
            "Latency",
            " ms",
            [Series("fly", [(T0, 10.0), (T0 + timedelta(days=1), 30.0)]), Series("render", [(T0, 5.0)])],
            thresholds={"warn": 1000, "fail": 2000},
        )
    )
    assert chart.count("<polyline") == 2
    assert "warn 1,000 ms" in chart and "fail 2,000 ms" in chart
    assert "fly: last 30 ms, max 30 ms" in chart


def test_labels_are_escaped() -> None:
    hostile = "<script>alert(1)</script>"
    svg = (
        line_chart(LineChart(hostile, "", [Series(hostile, [(T0, 1.0)])]))
        + bar_chart(hostile, [(hostile, 1.0)])
        + uptime_bars(hostile, [(hostile, 99.0)])
    )
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg


def test_empty_chart_says_no_data() -> None:
    assert "no data yet" in line_chart(LineChart("Latency"))
    assert "no data yet" in bar_chart("Cost", [])
