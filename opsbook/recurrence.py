"""Bounded RFC 5545 recurrences for maintenance windows: checked when the config loads, cheap to ask.

dateutil iterates a rule from its DTSTART, one candidate per period, until a candidate passes, so a
rule that validates can still hang whoever asks it: `FREQ=SECONDLY` from 1900 walks four billion
seconds to reach today, `INTERVAL=0` repeats the same instant for ever, a rule no date satisfies
walks to the year 9999. This module refuses those when the config loads and answers "which
occurrences fall near this moment" from a start moved forward by whole cycles of the rule, so an
answer costs a handful of occurrences however old the window's `start` is.

Chosen bounds (a maintenance window, not a cron): at most hourly (`SECONDLY` and `MINUTELY` are
refused, and at most 24 occurrences a day however BYHOUR/BYMINUTE/BYSECOND expand), `INTERVAL`
1 to 1000, `COUNT` 1 to 10 000 (not with UNTIL), one RRULE line (RDATE and EXDATE lines may add
or drop dates; EXRULE, deprecated by RFC 5545, is refused), and the rule must occur: its
pattern within 20 years, and at least once from `start` (COUNT and UNTIL considered).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from functools import lru_cache

from dateutil.rrule import rrule, rruleset, rrulestr

SHORTHAND = {"daily": "FREQ=DAILY", "weekly": "FREQ=WEEKLY", "monthly": "FREQ=MONTHLY"}
MAX_INTERVAL = 1000
MAX_COUNT = 10_000
MAX_PER_DAY = 24
PROBE_YEARS = 20  # a rule whose pattern does not occur within 20 years is a rule that never occurs
_HOURS = {"HOURLY": 1, "DAILY": 24, "WEEKLY": 24 * 7}
_MONTHS = {"MONTHLY": 1, "YEARLY": 12}
_DATE_LINES = ("RDATE", "EXDATE")


def normalise(text: str) -> str:
    """The rule as stored: a shorthand expanded, surrounding blanks dropped."""
    return SHORTHAND.get(text.strip().lower(), text.strip())


def rule_parts(text: str) -> dict[str, str]:
    """The RRULE line's properties (`FREQ`, `INTERVAL`, ...), upper-cased; ValueError names what is wrong."""
    rules, others = [], []
    for line in (line.strip() for line in text.splitlines() if line.strip()):
        name = line.split(":", 1)[0].split(";", 1)[0].upper() if ":" in line else "RRULE"
        if name == "RRULE":
            rules.append(line.split(":", 1)[1] if ":" in line else line)
        elif name in _DATE_LINES:
            others.append(line)
        else:
            raise ValueError(f"{name} lines are not supported; give one RRULE with optional RDATE/EXDATE lines")
    if len(rules) != 1:
        raise ValueError(f"give exactly one RRULE line, not {len(rules)}")
    parts: dict[str, str] = {}
    for part in rules[0].split(";"):
        key, _, value = part.partition("=")
        parts[key.strip().upper()] = value.strip().upper()
    return parts


def _bounded_int(parts: dict[str, str], key: str, low: int, high: int) -> None:
    if key not in parts:
        return
    try:
        value = int(parts[key])
    except ValueError:
        raise ValueError(f"{key}={parts[key]} is not a whole number") from None
    if not low <= value <= high:
        raise ValueError(f"{key}={value} is out of range; give {low} to {high}")


def _count_values(parts: dict[str, str], key: str) -> int:
    return len([v for v in parts.get(key, "").split(",") if v.strip()]) or 1


def check(text: str, start: datetime) -> None:
    """Refuse a rule that would hang or flood whoever asks it (ValueError says why)."""
    parts = rule_parts(text)
    freq = parts.get("FREQ", "")
    if freq in ("SECONDLY", "MINUTELY"):
        raise ValueError(f"FREQ={freq} is too frequent for a maintenance window; the shortest is FREQ=HOURLY")
    if freq not in _HOURS and freq not in _MONTHS:
        raise ValueError(f"FREQ={freq or '(missing)'}: give HOURLY, DAILY, WEEKLY, MONTHLY or YEARLY")
    _bounded_int(parts, "INTERVAL", 1, MAX_INTERVAL)
    _bounded_int(parts, "COUNT", 1, MAX_COUNT)
    if "COUNT" in parts and "UNTIL" in parts:
        raise ValueError("give COUNT or UNTIL, not both (RFC 5545)")
    per_hour = _count_values(parts, "BYMINUTE") * _count_values(parts, "BYSECOND")
    per_day = per_hour * (24 if freq == "HOURLY" and "BYHOUR" not in parts else _count_values(parts, "BYHOUR"))
    if per_hour > 1 or per_day > MAX_PER_DAY:
        raise ValueError(
            f"BYHOUR/BYMINUTE/BYSECOND expand to {per_day} occurrences a day; a window recurs at most hourly"
        )
    parsed = rrulestr(text, dtstart=start)  # ValueError/TypeError for bad syntax: the caller words it
    if not _occurs_within_horizon(parts, start) or parsed.after(start, inc=True) is None:
        raise ValueError("the rule never occurs on or after `start` (check COUNT, UNTIL and the BY... parts)")


def _occurs_within_horizon(parts: dict[str, str], start: datetime) -> bool:
    """Whether the rule's pattern (COUNT and UNTIL aside) occurs within `PROBE_YEARS` of a start.

    dateutil walks a rule no date satisfies to the year 9999 (seconds for FREQ=HOURLY), so the
    probe asks from the start moved forward by whole cycles to `PROBE_YEARS` before 9999: the
    same pattern, a bounded walk. Once it passes, asking from the real start stops at the
    first occurrence (or the first one past UNTIL).
    """
    pattern = {key: value for key, value in parts.items() if key not in ("COUNT", "UNTIL")}
    probe = cycle_start(pattern, start, datetime(datetime.max.year - PROBE_YEARS, 1, 1))
    rule = "RRULE:" + ";".join(f"{key}={value}" for key, value in pattern.items())
    return rrulestr(rule, dtstart=probe).after(probe, inc=True) is not None


def cycle_start(parts: dict[str, str], start: datetime, before: datetime) -> datetime:
    """The latest start, no later than `before`, from which the rule recurs exactly as from `start`.

    Moving DTSTART by whole cycles keeps every default dateutil derives from it (minute, hour,
    weekday, day of month, month) and the grid of periods INTERVAL steps over.
    """
    if before <= start or "COUNT" in parts:  # COUNT counts from the first start: never moved
        return start
    interval = int(parts.get("INTERVAL", "1"))
    freq = parts["FREQ"]
    if freq in _HOURS:
        cycle = timedelta(hours=_HOURS[freq] * interval)
        return start + cycle * ((before - start) // cycle)
    leap_day = (start.month, start.day) == (2, 29)
    years = math.lcm(_MONTHS[freq] * interval, 48 if leap_day else 12) // 12
    steps = (before.year - start.year) // years
    while steps > 0:
        try:
            moved = start.replace(year=start.year + steps * years)
        except ValueError:  # 29 February in a century year that is not a leap year
            moved = None
        if moved is not None and moved <= before:
            return moved
        steps -= 1
    return start


@lru_cache(maxsize=256)
def _parsed(text: str, start: datetime) -> rrule | rruleset:
    """Parsed once per (rule, start): a COUNT rule is always asked from its first start."""
    return rrulestr(text, dtstart=start, cache=True)


def occurrences_between(text: str, start: datetime, after: datetime, before: datetime) -> list[datetime]:
    """Occurrence starts in [after, before] (naive wall-clock times) of a rule that passed `check`."""
    parts = rule_parts(text)
    return list(_parsed(text, cycle_start(parts, start, after)).between(after, before, inc=True))
