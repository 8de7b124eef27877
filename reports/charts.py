"""Charts as inline SVG: no scripts, no fonts, no files beside the report.

Every label is escaped here, so a chart is safe to drop into a template as Markup. Each chart has
a `<title>` and a text summary for readers who cannot see it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 240
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 56, 16, 16, 36
PALETTE = ["#0969da", "#8250df", "#1a7f37", "#bf3989", "#9a6700", "#57606a"]
THRESHOLD_COLOURS = {"warn": "#9a6700", "fail": "#cf222e"}


@dataclass
class Series:
    name: str
    points: Sequence[tuple[datetime, float]]
    dashed: bool = False


@dataclass
class Band:
    """A shaded interval around a line, e.g. a projection's prediction interval."""

    name: str
    points: Sequence[tuple[datetime, float, float]]  # (time, low, high)


@dataclass
class LineChart:
    title: str
    unit: str = ""
    series: list[Series] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    thresholds: dict[str, float] = field(default_factory=dict)  # label -> value; "warn"/"fail" get colours


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"


def line_chart(chart: LineChart) -> Markup:
    """Time series with threshold lines (and optional bands) as one SVG element."""
    times = [t for s in chart.series for t, _ in s.points] + [t for b in chart.bands for t, _, _ in b.points]
    values = (
        [v for s in chart.series for _, v in s.points]
        + [v for b in chart.bands for _, lo, hi in b.points for v in (lo, hi)]
        + list(chart.thresholds.values())
    )
    if not times:
        return Markup('<p class="chart-empty">{}: no data yet.</p>').format(chart.title)
    t0, t1 = min(times).timestamp(), max(times).timestamp()
    v0, v1 = min(0.0, min(values)), max(values)
    if v1 == v0:
        v1 = v0 + 1
    v1 += (v1 - v0) * 0.05
    span_t = (t1 - t0) or 1.0
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(t: datetime) -> float:
        return PAD_LEFT + (t.timestamp() - t0) / span_t * plot_w

    def y(v: float) -> float:
        return PAD_TOP + (1 - (v - v0) / (v1 - v0)) * plot_h

    parts: list[str] = []
    for i in range(5):  # gridlines and y labels
        value = v0 + (v1 - v0) * i / 4
        parts.append(
            f'<line x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="#eaeef2"/><text x="{PAD_LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="#57606a">{escape(_fmt(value))}</text>'
        )
    for moment, when in ((min(times), "start"), (max(times), "end")):
        parts.append(
            f'<text x="{x(moment):.1f}" y="{HEIGHT - 12}" text-anchor="{when}" font-size="11" '
            f'fill="#57606a">{escape(moment.strftime("%Y-%m-%d %H:%M"))}</text>'
        )
    for index, band in enumerate(chart.bands):
        upper = " ".join(f"{x(t):.1f},{y(hi):.1f}" for t, _, hi in band.points)
        lower = " ".join(f"{x(t):.1f},{y(lo):.1f}" for t, lo, _ in reversed(band.points))
        parts.append(
            f'<polygon points="{upper} {lower}" fill="{PALETTE[index % len(PALETTE)]}" '
            f'fill-opacity="0.15"><title>{escape(band.name)}</title></polygon>'
        )
    for label, value in chart.thresholds.items():
        colour = THRESHOLD_COLOURS.get(label, "#57606a")
        parts.append(
            f'<line x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="{colour}" stroke-dasharray="6 4"/><text x="{WIDTH - PAD_RIGHT}" '
            f'y="{y(value) - 4:.1f}" text-anchor="end" font-size="11" fill="{colour}">'
            f"{escape(label)} {escape(_fmt(value))}{escape(chart.unit)}</text>"
        )
    legend: list[str] = []
    for index, series in enumerate(chart.series):
        colour = PALETTE[index % len(PALETTE)]
        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in series.points)
        dash = ' stroke-dasharray="4 3"' if series.dashed else ""
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}>'
            f"<title>{escape(series.name)}</title></polyline>"
        )
        legend.append(f'<span style="color:{colour}">&#9632; {escape(series.name)}</span>')
    summary = "; ".join(
        f"{s.name}: last {_fmt(s.points[-1][1])}{chart.unit}, max {_fmt(max(v for _, v in s.points))}{chart.unit}"
        for s in chart.series
        if s.points
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'width="100%" preserveAspectRatio="xMidYMid meet"><title>{escape(chart.title)}</title>'
        + "".join(parts)
        + "</svg>"
    )
    return Markup(
        f'<figure class="chart"><figcaption>{escape(chart.title)} '
        f'<span class="legend">{" ".join(legend)}</span></figcaption>{svg}'
        f'<p class="chart-summary">{escape(summary)}</p></figure>'
    )


def bar_chart(title: str, bars: Sequence[tuple[str, float]], unit: str = "") -> Markup:
    """Horizontal bars, largest first: cost by service, incidents by component, ..."""
    if not bars:
        return Markup('<p class="chart-empty">{}: no data yet.</p>').format(title)
    ordered = sorted(bars, key=lambda bar: bar[1], reverse=True)
    top = max(value for _, value in ordered) or 1.0
    row, label_w = 22, 200
    height = row * len(ordered) + 8
    parts = []
    for index, (label, value) in enumerate(ordered):
        top_y = 4 + index * row
        width = max(1.0, (WIDTH - label_w - 90) * value / top)
        parts.append(
            f'<text x="{label_w - 6}" y="{top_y + 15}" text-anchor="end" font-size="12">'
            f'{escape(label[:32])}</text><rect x="{label_w}" y="{top_y + 3}" width="{width:.1f}" '
            f'height="{row - 6}" fill="{PALETTE[0]}"><title>{escape(label)}</title></rect>'
            f'<text x="{label_w + width + 6:.1f}" y="{top_y + 15}" font-size="12">'
            f"{escape(_fmt(value))}{escape(unit)}</text>"
        )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" width="100%">'
        f"<title>{escape(title)}</title>" + "".join(parts) + "</svg>"
    )
    return Markup(f'<figure class="chart"><figcaption>{escape(title)}</figcaption>{svg}</figure>')


def uptime_bars(title: str, days: Sequence[tuple[str, float | None]]) -> Markup:
    """One bar per day coloured by uptime (status-page style); None means no data that day."""
    width = 8
    parts = []
    for index, (day, uptime) in enumerate(days):
        if uptime is None:
            colour, words = "#d0d7de", "no data"
        elif uptime >= 99.9:
            colour, words = "#1a7f37", f"{uptime:.2f}%"
        elif uptime >= 99.0:
            colour, words = "#9a6700", f"{uptime:.2f}%"
        else:
            colour, words = "#cf222e", f"{uptime:.2f}%"
        parts.append(
            f'<rect x="{index * (width + 2)}" y="0" width="{width}" height="30" fill="{colour}">'
            f"<title>{escape(day)}: {escape(words)}</title></rect>"
        )
    total = max(1, len(days)) * (width + 2)
    return Markup(
        f'<figure class="chart"><figcaption>{escape(title)}</figcaption>'
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {total} 30" role="img" width="100%" '
        f'height="30" preserveAspectRatio="none"><title>{escape(title)}</title>{"".join(parts)}</svg>'
        f"</figure>"
    )
