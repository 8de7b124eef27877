"""Writing the HTML report of a run, and sending its digest to the channels that want it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urljoin

from markupsafe import Markup
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.asyncutils import run_coro_as_sync

from opsbook.config import EstateConfig
from opsbook.reports import Report, write_report
from opsbook.reports.messages import render_message
from opsbook.reports.render import render_report
from opsbook.results import Verdict
from opsbook.tasks.notify import Delivery, deliver

DIGEST_ITEMS = 5  # what needs attention, most urgent first; the rest is in the report
_AT_LEAST = {"always": Verdict.GREEN, "amber": Verdict.AMBER, "red": Verdict.RED}
_RANK = {Verdict.GREEN: 0, Verdict.AMBER: 1, Verdict.RED: 2}


@task(name="write-html-report", cache_policy=NO_CACHE)
def write_html_report(report: Report, directory: Path) -> Path:
    return write_report(report, directory)


@task(name="send-report-digest", cache_policy=NO_CACHE, timeout_seconds=300)
def send_report_digest(config: EstateConfig, report: Report, path: Path | None) -> list[str]:
    """The verdict, what needs attention and a link, to `notifications.reports`; email carries the
    whole report. Returns one problem per channel that could not be reached (none: all sent)."""
    notifications = config.notifications
    if not notifications.reports or _RANK[report.verdict] < _RANK[_AT_LEAST[notifications.reports_when]]:
        return []
    if path is None:
        link = "not written (see the run's notes)"
    elif config.reports.base_url is not None:
        link = urljoin(str(config.reports.base_url).rstrip("/") + "/", path.name)
    else:
        link = str(path)
    attention = report.needs_attention
    # Email readers get the report itself, verdict first (msg_report.html.j2 embeds it).
    message = render_message(
        "report",
        "report",
        {
            "report": report,
            "counts": report.counts,
            "link": link,
            "attention": attention[:DIGEST_ITEMS],
            "more": max(0, len(attention) - DIGEST_ITEMS),
            "report_html": Markup(render_report(report)),
        },
        notifications.templates_dir,
        {
            "flow": report.kind,
            "title": report.title,
            "estate": report.estate,
            "run_id": report.run_id,
            "verdict": report.verdict.value,
            "headline": report.headline,
            "counts": report.counts,
            "report": link,
        },
    )
    deliveries: list[Delivery] | None = run_coro_as_sync(
        deliver(config, notifications.reports, message, refs={"run": report.run_id})
    )
    return [f"report not sent to {d.channel}: {d.error}" for d in deliveries or [] if not d.ok]
