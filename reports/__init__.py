"""Reports: Jinja2 HTML that a manager reads in two minutes. Reports read results; they never run checks."""

from opsbook.reports.model import Report, Section, Table
from opsbook.reports.render import render_report, write_report

__all__ = ["Report", "Section", "Table", "render_report", "write_report"]
