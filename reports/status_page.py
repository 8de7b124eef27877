"""The status page: one static, self-contained HTML file with components, incidents and uptime.

Regenerated after every checklist run and every incident change. What it shows is read from the
history by `opsbook.tasks.report_data.status_page_data` and handed here as a `StatusPageData`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from markupsafe import Markup

from opsbook.reports.charts import uptime_bars
from opsbook.reports.pages import environment, write_html
from opsbook.results import CheckResult, Status, worst_status

if TYPE_CHECKING:  # the dataclass only: opsbook.incidents itself reads and writes the store
    from opsbook.incidents import Incident

_UP = (Status.OK, Status.WARN)
# The page's level for a component's worst status (results.WORST_FIRST decides which is worst).
_RANK = {Status.OK: 0, Status.SKIPPED: 0, Status.WARN: 1, Status.ERROR: 2, Status.FAIL: 3}
_WORDS = {0: "Operational", 1: "Degraded performance", 2: "Unknown (could not measure)", 3: "Outage"}


@dataclass(frozen=True)
class StatusPageData:
    """What the page shows, as read from the history."""

    latest: list[CheckResult]  # the newest result of each (check, target) over the last runs
    incidents: list[Incident]  # the newest first
    uptime: list[CheckResult]  # the uptime check's results over the last `days`
    days: int  # how many days `uptime` covers, one bar each


@dataclass
class ComponentState:
    name: str
    rank: int
    results: list[CheckResult]

    @property
    def words(self) -> str:
        return _WORDS[self.rank]

    @property
    def css(self) -> str:
        return ["ok", "warn", "error", "fail"][self.rank]


def daily_uptime(results: list[CheckResult], days: int, today: date) -> list[tuple[str, float | None]]:
    """Per day, the share of checks that found the target up (ok or warn); None without data."""
    up: dict[date, list[bool]] = defaultdict(list)
    for r in results:
        up[r.started_at.date()].append(r.status in _UP)
    out = []
    for offset in range(days - 1, -1, -1):
        day = today - timedelta(days=offset)
        seen = up.get(day)
        out.append((day.isoformat(), 100.0 * sum(seen) / len(seen) if seen else None))
    return out


def components(latest: list[CheckResult]) -> list[ComponentState]:
    """The newest results grouped by component, each component as bad as its worst result."""
    grouped: dict[str, list[CheckResult]] = defaultdict(list)
    for result in latest:
        grouped[result.component].append(result)
    return [
        ComponentState(name, _RANK[worst_status(r.status for r in rs)], sorted(rs, key=lambda r: (r.check, r.target)))
        for name, rs in sorted(grouped.items())
    ]


def overall(states: list[ComponentState], incidents: list[Incident]) -> tuple[str, str]:
    open_ = [i for i in incidents if i.state != "resolved"]
    if any(i.severity == "P0" for i in open_) or any(s.rank == 3 for s in states):
        return "fail", "Major outage" if any(i.severity == "P0" for i in open_) else "Partial outage"
    if open_ or any(s.rank for s in states):
        return "warn", "Some systems are degraded"
    return "ok", "All systems operational"


def render_status_page(data: StatusPageData, estate: str, now: datetime) -> str:
    states = components(data.latest)
    incidents = data.incidents
    days = data.days
    shown = [
        i for i in incidents if i.state != "resolved" or (i.resolved_at and now - i.resolved_at <= timedelta(days=7))
    ]
    by_target: dict[str, list[CheckResult]] = defaultdict(list)
    for result in data.uptime:
        by_target[result.target].append(result)
    bars: list[tuple[str, float | None, Markup]] = []
    for target, results in sorted(by_target.items()):
        series = daily_uptime(results, days, now.date())
        measured = [v for _, v in series if v is not None]
        average = sum(measured) / len(measured) if measured else None
        bars.append((target, average, uptime_bars(f"{target}: {days}-day uptime", series)))
    css, words = overall(states, incidents)
    template = environment().get_template("status.html.j2")
    return template.render(
        estate=estate,
        now=now,
        components=states,
        incidents=shown,
        bars=bars,
        overall_css=css,
        overall_words=words,
        days=days,
    )


def write_status_page(data: StatusPageData, estate: str, path: Path, now: datetime) -> Path:
    """Write atomically, so a visitor never sees half a page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_html(path, render_status_page(data, estate, now))
