"""Severities and the runbook's escalation decision tree, as pure functions.

The tree is the runbook's `determine_escalation_level` exactly: the comparisons are strict
(`-gt`), so a high incident of exactly 30 minutes is still level 2.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta


class Severity(enum.StrEnum):
    """P0 critical, P1 high, P2 medium, P3 low (the runbook's severity table)."""

    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"

    @classmethod
    def parse(cls, value: str) -> Severity:
        """Accept `P0`/`p0` and the runbook's words (`critical`, `high`, `medium`, `low`)."""
        text = str(value).strip()
        words = {"critical": cls.P0, "high": cls.P1, "medium": cls.P2, "low": cls.P3}
        if text.lower() in words:
            return words[text.lower()]
        try:
            return cls(text.upper())
        except ValueError:
            raise ValueError(f"unknown severity {value!r}: use P0-P3 or critical/high/medium/low") from None

    @property
    def word(self) -> str:
        return {"P0": "critical", "P1": "high", "P2": "medium", "P3": "low"}[self.value]

    @property
    def rank(self) -> int:
        """0 is the most severe."""
        return int(self.value[1])

    def lower(self) -> Severity:
        """One step less severe (P3 stays P3)."""
        return Severity(f"P{min(3, self.rank + 1)}")


@dataclass(frozen=True)
class SeverityTimes:
    respond: timedelta
    escalate: timedelta


# The runbook's table: P0 < 5 min / immediate, P1 < 15 min / 30 min, P2 < 1 h / 2 h, P3 < 4 h / 24 h.
RUNBOOK_TIMES: dict[Severity, SeverityTimes] = {
    Severity.P0: SeverityTimes(timedelta(minutes=5), timedelta(0)),
    Severity.P1: SeverityTimes(timedelta(minutes=15), timedelta(minutes=30)),
    Severity.P2: SeverityTimes(timedelta(hours=1), timedelta(hours=2)),
    Severity.P3: SeverityTimes(timedelta(hours=4), timedelta(hours=24)),
}


def escalation_level(severity: Severity | str, duration: timedelta, business_impact: str = "normal") -> int:
    """The runbook's decision tree: which escalation level (1-4) an incident belongs to now.

    critical: level 4 when business impact is high, else 3; high: 3 after more than 30 min,
    else 2; medium: 2 after more than 1 h, else 1; low: 1.
    """
    severity = Severity.parse(severity) if isinstance(severity, str) else severity
    seconds = duration.total_seconds()
    if severity is Severity.P0:
        return 4 if business_impact == "high" else 3
    if severity is Severity.P1:
        return 3 if seconds > 1800 else 2
    if severity is Severity.P2:
        return 2 if seconds > 3600 else 1
    return 1
