"""Rendering a report: its template, its file name, and writing it with the directory's index."""

from __future__ import annotations

from pathlib import Path

from opsbook.reports.index import write_index
from opsbook.reports.model import Report
from opsbook.reports.pages import environment, write_html


def render_report(report: Report) -> str:
    """The report as one HTML document (inline CSS, no scripts, fonts or remote assets)."""
    template = environment().get_template(f"{report.kind}.html.j2")
    return template.render(report=report)


def report_filename(report: Report) -> str:
    stamp = report.started_at.strftime("%Y%m%dT%H%M%SZ")
    return f"{report.kind}-{stamp}-{report.run_id[:8]}.html"


def write_report(report: Report, directory: Path) -> Path:
    """Write the report, then refresh the directory's index page."""
    directory.mkdir(parents=True, exist_ok=True)
    path = write_html(directory / report_filename(report), render_report(report))
    write_index(directory)
    return path
