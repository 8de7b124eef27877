"""Writing the HTML report of a run."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from reports import Report, write_report


@task(name="write-html-report", cache_policy=NO_CACHE)
def write_html_report(report: Report, directory: Path) -> Path:
    return write_report(report, directory)
