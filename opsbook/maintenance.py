"""Maintenance windows: when failures are still reported but must not raise an alert.

A window has a start (wall-clock time in its own time zone), a duration and an optional
recurrence (`daily`, `weekly`, `monthly`, or an RFC 5545 RRULE such as `FREQ=WEEKLY;BYDAY=SU`,
at most hourly: see `opsbook.recurrence`). Occurrences follow the zone's wall clock, so a 02:00
window stays at 02:00 across daylight-saving changes. Checks mark what they find during a window with
`silence()`; alerting reads the mark and stays quiet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from opsbook import recurrence as recurrences
from opsbook.durations import POSITIVE, format_duration, parse_duration
from opsbook.results import CheckResult, Status

SILENCED = "silenced_by_maintenance"
_ONCE = "FREQ=DAILY;COUNT=1"
# Longer and a recurring window overlaps itself; bounded so "is now in a window" reads few occurrences.
MAX_RECURRING_DURATION = timedelta(days=31)


class MaintenanceWindow(BaseModel):
    """One planned window, e.g. Sundays 02:00-04:00 Europe/London.

    A config section like `opsbook.config.Section` (unknown keys are errors), defined here so
    that this core module does not depend on the config package that uses it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("maintenance", min_length=1, description="shown on silenced results")
    start: datetime = Field(description="first occurrence, wall-clock time in `timezone` (no offset)")
    duration: timedelta = Field(description="e.g. 2h, 90m, 1h30m, or ISO 8601 PT2H")
    timezone: str = Field("UTC", description="IANA zone name, e.g. Europe/London")
    recurrence: str | None = Field(None, description="daily, weekly, monthly or an RRULE; none = once")

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, value: str | float | timedelta) -> timedelta:
        return parse_duration(value, minimum=POSITIVE)

    @field_validator("start")
    @classmethod
    def _wall_clock(cls, value: datetime) -> datetime:
        if value.tzinfo is not None:
            raise ValueError("give a wall-clock time without an offset; the zone goes in `timezone`")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from opsbook.config.fields import known_zone  # imported here: opsbook.config imports this module

        return known_zone(value)

    @field_validator("recurrence")
    @classmethod
    def _known_rule(cls, value: str | None) -> str | None:
        if value is None:
            return None
        rule = recurrences.normalise(value)
        try:
            rrulestr(rule, dtstart=datetime(2000, 1, 1))
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"not a recurrence rule ({error}); use daily, weekly, monthly or an RRULE such as FREQ=WEEKLY;BYDAY=SU"
            ) from None
        return rule

    @model_validator(mode="after")
    def _rule_has_no_own_start(self) -> MaintenanceWindow:
        if self.recurrence and "DTSTART" in self.recurrence.upper():
            raise ValueError("recurrence: leave DTSTART out; the window's `start` is the first occurrence")
        if self.recurrence and self.duration > MAX_RECURRING_DURATION:
            raise ValueError(
                f"duration: a recurring window lasts at most {format_duration(MAX_RECURRING_DURATION)}; "
                "a longer freeze is a one-off window (no recurrence)"
            )
        if self.recurrence:
            try:
                recurrences.check(self.recurrence, self.start)
            except (ValueError, TypeError) as error:
                raise ValueError(f"recurrence: {error}") from None
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def covering(self, at: datetime) -> tuple[datetime, datetime] | None:
        """The (start, end) in UTC of the occurrence that covers `at`, if one does."""
        if at.tzinfo is None:
            raise ValueError("maintenance windows are checked against timezone-aware times")
        local = at.astimezone(self.zone).replace(tzinfo=None)
        # Starts within one duration (plus a day of slack for DST shifts) before `at` may cover it.
        since = local - self.duration - timedelta(days=1)
        for start in reversed(recurrences.occurrences_between(self.recurrence or _ONCE, self.start, since, local)):
            begins = start.replace(tzinfo=self.zone).astimezone(UTC)
            ends = begins + self.duration
            if begins <= at < ends:
                return begins, ends
        return None

    def covers(self, at: datetime) -> bool:
        return self.covering(at) is not None


def active_window(windows: Iterable[MaintenanceWindow], at: datetime) -> MaintenanceWindow | None:
    """The first window covering `at`, or None."""
    return next((window for window in windows if window.covers(at)), None)


def silence(result: CheckResult, window: MaintenanceWindow) -> CheckResult:
    """Mark a failure found during a window: still reported, flagged to raise no alert."""
    if result.status not in (Status.FAIL, Status.ERROR) or is_silenced(result):
        return result
    return result.model_copy(
        update={
            "details": {**result.details, SILENCED: True, "maintenance_window": window.name},
            "labels": {**result.labels, "maintenance": window.name},
            "message": f"{result.message} (maintenance window {window.name!r}: no alert)",
        }
    )


def silence_during(results: Iterable[CheckResult], windows: Sequence[MaintenanceWindow]) -> list[CheckResult]:
    """Mark every failure found during one of the windows (by when its check started)."""
    return [silence(r, window) if (window := active_window(windows, r.started_at)) else r for r in results]


def is_silenced(result: CheckResult) -> bool:
    """True when the result was found during a maintenance window (alerting skips it)."""
    return bool(result.details.get(SILENCED))
