"""Maintenance windows: one-off and recurring, in their own time zone, across DST; and the mark."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from opsbook.maintenance import MaintenanceWindow, active_window, is_silenced, silence
from opsbook.results import CheckResult, Status


def window(**fields: object) -> MaintenanceWindow:
    return MaintenanceWindow.model_validate({"start": "2026-03-01T02:00", "duration": "2h", **fields})


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_one_off_window_covers_its_start_but_not_its_end() -> None:
    w = window()
    assert not w.covers(utc(2026, 3, 1, 1, 59))
    assert w.covers(utc(2026, 3, 1, 2, 0))
    assert w.covers(utc(2026, 3, 1, 3, 59))
    assert not w.covers(utc(2026, 3, 1, 4, 0))
    assert not w.covers(utc(2026, 3, 2, 2, 30))  # no recurrence: once only


def test_weekly_rrule_in_a_local_zone_follows_the_wall_clock_across_dst() -> None:
    # Sundays 02:00-04:00 London: 02:00 GMT in winter, 01:00 UTC in summer (BST).
    w = window(start="2026-03-01T02:00", timezone="Europe/London", recurrence="FREQ=WEEKLY;BYDAY=SU")
    assert w.covers(utc(2026, 3, 8, 2, 30))  # winter Sunday
    assert not w.covers(utc(2026, 3, 9, 2, 30))  # Monday
    assert w.covers(utc(2026, 4, 5, 1, 30))  # summer Sunday, 02:30 BST
    assert not w.covers(utc(2026, 4, 5, 3, 30))  # 04:30 BST: over
    begins, ends = w.covering(utc(2026, 4, 5, 1, 30))
    assert (begins, ends) == (utc(2026, 4, 5, 1, 0), utc(2026, 4, 5, 3, 0))


@pytest.mark.parametrize(
    ("recurrence", "at", "covered"),
    [
        ("daily", utc(2026, 5, 17, 2, 15), True),
        ("daily", utc(2026, 5, 17, 5, 0), False),
        ("monthly", utc(2026, 6, 1, 3, 0), True),
        ("monthly", utc(2026, 6, 2, 3, 0), False),
        ("FREQ=MONTHLY;BYMONTHDAY=1;COUNT=2", utc(2026, 5, 1, 3, 0), False),  # ended after two
    ],
)
def test_recurrence_shorthands_and_rules(recurrence: str, at: datetime, covered: bool) -> None:
    assert window(recurrence=recurrence).covers(at) is covered


def test_a_window_longer_than_a_day_covers_the_next_morning() -> None:
    w = window(start="2026-03-01T22:00", duration="1d2h", recurrence="weekly")
    assert w.covers(utc(2026, 3, 2, 23, 30))  # Sunday 22:00 + 26 h = Tuesday 00:00
    assert not w.covers(utc(2026, 3, 3, 0, 30))
    assert w.covers(utc(2026, 3, 9, 12, 0))  # the next week's Monday


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"duration": "0m"}, "longer than zero"),
        ({"duration": "soon"}, "duration"),
        ({"recurrence": "FREQ=SOMETIMES"}, "not a recurrence rule"),
        ({"recurrence": "DTSTART:20260101T000000\nRRULE:FREQ=DAILY"}, "leave DTSTART out"),
        ({"start": "2026-03-01T02:00+01:00"}, "without an offset"),
    ],
)
def test_bad_windows_are_rejected(fields: dict, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        window(**fields)


def test_silence_marks_failures_only_and_active_window_finds_the_first() -> None:
    quiet, other = window(name="db upgrade"), window(name="later", start="2026-03-02T02:00")
    at = utc(2026, 3, 1, 2, 30)
    assert active_window([other, quiet], at) is quiet
    assert active_window([other], at) is None
    failed = CheckResult(check="app.rum", target="app/x", component="application", status=Status.FAIL, message="bad")
    ok = failed.model_copy(update={"status": Status.OK})
    marked = silence(failed, quiet)
    assert is_silenced(marked) and marked.status is Status.FAIL
    assert marked.labels["maintenance"] == "db upgrade"
    assert "maintenance window 'db upgrade': no alert" in marked.message
    assert silence(ok, quiet) is ok and not is_silenced(ok)


def test_the_old_single_weekly_window_keys_name_their_replacement() -> None:
    from opsbook.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match=r"maintenance: day, start, timezone: replaced by `windows`"):
        parse_config({"maintenance": {"day": "sunday", "start": "02:00", "timezone": "UTC"}})
    config = parse_config(
        {
            "maintenance": {
                "windows": [
                    {
                        "name": "weekly",
                        "start": "2026-01-04T02:00",
                        "duration": "2h",
                        "recurrence": "FREQ=WEEKLY;BYDAY=SU",
                    }
                ]
            }
        }
    )
    assert config.maintenance.windows[0].covers(datetime(2026, 11, 29, 3, 0, tzinfo=UTC))  # a Sunday
    assert not config.maintenance.windows[0].covers(datetime(2026, 11, 30, 3, 0, tzinfo=UTC))
