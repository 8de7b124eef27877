"""Maintenance windows: one-off and recurring, in their own time zone, across DST; and the mark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dateutil.rrule import rrulestr
from pydantic import ValidationError

from opsbook.maintenance import MaintenanceWindow, active_window, is_silenced, silence
from opsbook.recurrence import cycle_start, rule_parts
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


@pytest.mark.parametrize(
    ("recurrence", "problem"),
    [
        ("FREQ=SECONDLY;INTERVAL=7", "FREQ=SECONDLY is too frequent"),
        ("FREQ=MINUTELY", "FREQ=MINUTELY is too frequent"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL=0 is out of range"),
        ("FREQ=DAILY;INTERVAL=-3", "INTERVAL=-3 is out of range"),
        ("FREQ=DAILY;COUNT=0", "COUNT=0 is out of range"),
        ("FREQ=DAILY;COUNT=99999999", "COUNT=99999999 is out of range"),
        ("FREQ=DAILY;UNTIL=18990101T000000", "never occurs"),
        ("FREQ=DAILY;COUNT=2;UNTIL=20300101T000000", "COUNT or UNTIL, not both"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "never occurs"),
        ("FREQ=HOURLY;BYEASTER=0;BYYEARDAY=366", "never occurs"),  # found by hypothesis: 13 s to say so before
        ("FREQ=HOURLY;INTERVAL=2;BYHOUR=1,3", "generates an empty set"),  # even hours only, from midnight
        ("FREQ=DAILY;BYHOUR=1;BYMINUTE=0,30", "occurrences a day"),
        ("FREQ=HOURLY;BYSECOND=0,1", "occurrences a day"),
        ("RRULE:FREQ=DAILY\nEXRULE:FREQ=WEEKLY", "EXRULE lines are not supported"),
        ("RRULE:FREQ=DAILY\nRRULE:FREQ=WEEKLY", "exactly one RRULE"),
    ],
)
def test_recurrences_that_would_hang_or_flood_are_refused_when_the_config_loads(recurrence: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        window(start="1900-01-01T00:00", recurrence=recurrence)


def test_a_recurring_window_longer_than_a_month_is_refused_but_a_one_off_freeze_is_not() -> None:
    with pytest.raises(ValidationError, match="a recurring window lasts at most 31d"):
        window(duration="40d", recurrence="weekly")
    assert window(duration="40d").covers(utc(2026, 4, 1))


def test_the_bad_rule_is_named_by_its_key_in_the_config() -> None:
    from opsbook.config import ConfigError, parse_config

    bad = {"name": "x", "start": "1900-01-01T00:00", "duration": "1h", "recurrence": "FREQ=SECONDLY;INTERVAL=7"}
    with pytest.raises(ConfigError, match=r"maintenance\.windows\[0\]: recurrence: FREQ=SECONDLY"):
        parse_config({"maintenance": {"windows": [bad]}})


@pytest.mark.parametrize(
    ("recurrence", "at", "covered"),
    [
        ("FREQ=HOURLY", utc(2026, 5, 17, 13, 0, 30), True),  # :00-:01 every hour since 1900
        ("FREQ=HOURLY", utc(2026, 5, 17, 13, 1, 30), False),
        ("FREQ=HOURLY;INTERVAL=5", utc(2026, 5, 16, 1, 0, 30), True),  # 1900-01-01 + 5 h * 221,186
        ("FREQ=HOURLY;INTERVAL=5", utc(2026, 5, 16, 2, 0, 30), False),
        ("FREQ=DAILY;BYHOUR=0,12", utc(2026, 5, 17, 12, 0, 30), True),
        ("FREQ=WEEKLY;INTERVAL=3", utc(2026, 5, 11, 0, 0, 30), False),  # 1900-01-01 was a Monday
        ("FREQ=WEEKLY;INTERVAL=3", utc(2026, 5, 18, 0, 0, 30), True),  # 6,594 weeks later, a multiple of 3
        ("FREQ=MONTHLY;INTERVAL=5", utc(2026, 9, 1, 0, 0, 30), True),  # 1,520 months after Jan 1900
        ("FREQ=MONTHLY;INTERVAL=5", utc(2026, 6, 1, 0, 0, 30), False),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", utc(2028, 2, 29, 0, 0, 30), True),
        ("FREQ=DAILY;UNTIL=20260101T000000", utc(2026, 5, 17, 0, 0, 30), False),
    ],
)
def test_old_starts_are_answered_exactly_as_dateutil_would(recurrence: str, at: datetime, covered: bool) -> None:
    # Expected values from dateutil iterating from 1900 (seconds per answer for FREQ=HOURLY).
    assert window(start="1900-01-01T00:00", duration="1m", recurrence=recurrence).covers(at) is covered


@pytest.mark.parametrize(
    ("rule", "cycle"),
    [
        ("FREQ=HOURLY", timedelta(hours=1)),
        ("FREQ=HOURLY;INTERVAL=5", timedelta(hours=5)),
        ("FREQ=DAILY;INTERVAL=2", timedelta(days=2)),
        ("FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,FR", timedelta(weeks=3)),
        ("FREQ=MONTHLY;INTERVAL=5", timedelta(days=366 * 5)),  # whole years: lcm(5, 12) months
        ("FREQ=YEARLY;INTERVAL=2", timedelta(days=366 * 2)),
    ],
)
def test_dateutil_is_asked_from_a_start_moved_forward_by_whole_cycles(rule: str, cycle: timedelta) -> None:
    start, now = datetime(2000, 1, 1, 2, 7), datetime(2026, 5, 17, 3, 0)
    moved = cycle_start(rule_parts(rule), start, now)
    assert now - cycle <= moved <= now
    assert (moved.minute, moved.second) == (start.minute, start.second)
    assert list(rrulestr(rule, dtstart=moved).between(now - cycle, now + cycle)) == [
        t for t in rrulestr(rule, dtstart=start).between(moved, now + cycle, inc=True)
    ]
    assert cycle_start(rule_parts(rule + ";COUNT=3"), start, now) == start  # COUNT counts from the start


def test_a_day_of_month_start_keeps_its_day_when_moved_forward() -> None:
    # Monthly on the 31st (months without one are skipped), from 1950: still the 31st in 2026.
    w = window(start="1950-01-31T02:00", recurrence="monthly")
    assert w.covers(utc(2026, 3, 31, 2, 30))
    assert not w.covers(utc(2026, 4, 30, 2, 30))
    leap = window(start="1904-02-29T02:00", recurrence="FREQ=YEARLY")
    assert leap.covers(utc(2028, 2, 29, 2, 30))
    assert not leap.covers(utc(2100, 3, 1, 2, 30))


def test_count_rules_are_counted_from_the_first_start() -> None:
    w = window(start="1990-01-01T02:00", recurrence="FREQ=YEARLY;COUNT=40")
    assert w.covers(utc(2029, 1, 1, 2, 30))  # the 40th
    assert not w.covers(utc(2030, 1, 1, 2, 30))
