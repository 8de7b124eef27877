"""What a report is made of: a verdict, the sections of a checklist, and what needs attention."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from markupsafe import Markup

from opsbook.reports.advice import next_step
from opsbook.results import CheckResult, Status, Verdict, count_by_status, verdict_of


@dataclass
class Table:
    """A small table of figures shown under a section (cells are escaped when rendered)."""

    title: str
    columns: list[str]
    rows: list[list[object]]


@dataclass
class Section:
    """One checklist step: its title, the results it produced, and its trend charts and tables."""

    title: str
    results: list[CheckResult]
    intro: str = ""
    charts: list[Markup] = field(default_factory=list)  # from reports.charts, already escaped
    tables: list[Table] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        return verdict_of(self.results)


@dataclass
class AttentionItem:
    result: CheckResult
    next_step: str


@dataclass
class Report:
    kind: str  # daily, weekly, monthly, incident, security
    title: str
    estate: str
    run_id: str
    started_at: datetime
    finished_at: datetime
    sections: list[Section]
    notes: list[str] = field(default_factory=list)

    @property
    def results(self) -> list[CheckResult]:
        return [r for section in self.sections for r in section.results]

    @property
    def verdict(self) -> Verdict:
        return verdict_of(self.results)

    @property
    def counts(self) -> dict[str, int]:
        return count_by_status(self.results)

    @property
    def needs_attention(self) -> list[AttentionItem]:
        """Problems first (fail, error), then warnings; each with the step to take next."""
        flagged = sorted(
            (r for r in self.results if r.status.is_problem or r.status is Status.WARN),
            key=lambda r: -r.status.severity,
        )
        return [AttentionItem(r, next_step(r)) for r in flagged]

    @property
    def headline(self) -> str:
        """The verdict in one sentence."""
        counts = self.counts
        problems = counts["fail"] + counts["error"]
        checked = len(self.results) - counts["skipped"]
        if problems:
            return f"{problems} of {checked} checks need action now"
        if counts["warn"]:
            return f"{counts['warn']} of {checked} checks are past their warning level"
        return f"All {checked} checks are healthy"
