"""Reading the history for reports: trend points and what the status page shows.

Reports render what they are handed and never open the store; these are the reads that feed them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from opsbook.incidents import list_incidents
from opsbook.reports.status_page import StatusPageData
from opsbook.reports.trends import TrendPoints
from opsbook.results import CheckResult
from opsbook.store import open_store

UPTIME_CHECK = "platform.health"  # the check whose results make the status page's uptime bars
STATUS_RUNS = 20  # the components show the newest result of each (check, target) over this many runs
STATUS_INCIDENTS = 100  # the newest incidents read; the page shows the open and the recently resolved
UPTIME_DAYS = 90


def trend_points(
    history_url: str,
    check: str,
    current: Sequence[CheckResult],
    days: int = 30,
    now: datetime | None = None,
) -> TrendPoints:
    """Per target, one check's figures over `days` up to `now` (default: the newest current result),
    the current run's results included: they are not stored yet when the report is drawn."""
    since = (now or max((r.started_at for r in current), default=datetime.now().astimezone())) - timedelta(days=days)
    points: dict[str, dict[datetime, float]] = defaultdict(dict)
    for result in open_store(history_url).result_history(check, since=since) + list(current):
        if result.value is not None and result.check == check:
            points[result.target][result.started_at] = result.value
    return {target: sorted(values.items()) for target, values in points.items()}


def status_page_data(history_url: str, now: datetime, days: int = UPTIME_DAYS) -> StatusPageData:
    """The newest result of each (check, target) over the last runs, the newest incidents, and the
    uptime check's results over `days`."""
    store = open_store(history_url)
    latest: dict[tuple[str, str], CheckResult] = {}
    for run in reversed(store.latest_runs(limit=STATUS_RUNS)):
        for result in run.results:
            latest[result.key] = result
    return StatusPageData(
        latest=list(latest.values()),
        incidents=list_incidents(store, limit=STATUS_INCIDENTS),
        uptime=store.result_history(UPTIME_CHECK, since=now - timedelta(days=days)),
        days=days,
    )
