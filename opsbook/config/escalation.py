"""The escalation matrix (levels 1-4) and the severity response times, runbook defaults."""

from __future__ import annotations

from pydantic import Field, field_validator

from opsbook.config.thresholds import Section


class Contact(Section):
    """How to reach one level: email is used by email channels (with `email_contacts`); phone and slack are shown."""

    email: str | None = None
    phone: str | None = None
    slack: str | None = None


class EscalationLevel(Section):
    name: str = Field(min_length=1)
    response_minutes: float = Field(gt=0, description="how fast this level must respond")
    contacts: list[Contact] = Field(default_factory=list)
    responsibilities: list[str] = Field(default_factory=list)


class SeverityTiming(Section):
    respond_minutes: float = Field(ge=0, description="response-time SLA")
    escalate_minutes: float = Field(ge=0, description="when an unacknowledged incident escalates")


def _level(name: str, minutes: float, email: str, slack: str | None, duties: list[str]) -> EscalationLevel:
    return EscalationLevel(
        name=name, response_minutes=minutes, contacts=[Contact(email=email, slack=slack)], responsibilities=duties
    )


def _runbook_levels() -> dict[int, EscalationLevel]:
    return {
        1: _level(
            "Operations Team",
            15,
            "ops-team@company.com",
            "#operations",
            ["Initial incident response", "Basic troubleshooting", "System monitoring", "User support"],
        ),
        2: _level(
            "Technical Team",
            30,
            "tech-lead@company.com",
            "#technical-team",
            ["Complex technical issues", "Performance optimization", "Security incidents", "Database issues"],
        ),
        3: _level(
            "Engineering Leadership",
            60,
            "engineering-director@company.com",
            None,
            [
                "Critical system failures",
                "Architecture decisions",
                "Resource allocation",
                "Major incident coordination",
            ],
        ),
        4: _level(
            "Executive Team",
            120,
            "cto@company.com",
            None,
            [
                "Business-critical outages",
                "Data breach incidents",
                "Regulatory compliance issues",
                "Public communication",
            ],
        ),
    }


def _runbook_severities() -> dict[str, SeverityTiming]:
    return {
        "P0": SeverityTiming(respond_minutes=5, escalate_minutes=0),
        "P1": SeverityTiming(respond_minutes=15, escalate_minutes=30),
        "P2": SeverityTiming(respond_minutes=60, escalate_minutes=120),
        "P3": SeverityTiming(respond_minutes=240, escalate_minutes=1440),
    }


class EscalationConfig(Section):
    levels: dict[int, EscalationLevel] = Field(
        default_factory=_runbook_levels, description="the runbook's matrix, levels 1-4"
    )
    severities: dict[str, SeverityTiming] = Field(default_factory=_runbook_severities)
    commander: str = Field("on-call engineer", description="incident commander named in messages")
    email_contacts: bool = Field(
        False,
        description="also email the contacts of an incident's escalation level "
        "(off by default: the runbook's contacts are placeholders at company.com)",
    )

    @field_validator("levels")
    @classmethod
    def _four_levels(cls, levels: dict[int, EscalationLevel]) -> dict[int, EscalationLevel]:
        if sorted(levels) != [1, 2, 3, 4]:
            raise ValueError(f"must define levels 1, 2, 3 and 4 (the runbook's matrix), got {sorted(levels)}")
        return levels

    @field_validator("severities")
    @classmethod
    def _p0_to_p3(cls, severities: dict[str, SeverityTiming]) -> dict[str, SeverityTiming]:
        merged = {**_runbook_severities(), **severities}
        if unknown := sorted(set(merged) - {"P0", "P1", "P2", "P3"}):
            raise ValueError(f"unknown severities {unknown}: use P0, P1, P2, P3")
        return merged
