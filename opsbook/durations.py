"""The one duration grammar: config files, the CLI and maintenance windows all read `1h30m`.

A duration is one or more `<number><unit>` parts, largest unit first, each unit at most
once: `90s`, `30m`, `1h30m`, `1.5h`, `2d`, `1w2d`. Units: `w` (7 days), `d`, `h`, `m`
(minutes), `s`. Lower-case only, so `M` is never mistaken for months. A bare number is
seconds (YAML's `max_age: 3600`), and ISO 8601 without years or months (`PT2H`, `P1DT6H`)
is read as well, since maintenance windows have always accepted it.

Durations are bounded: never negative, at most `MAXIMUM` (100 years), so `timedelta` never
overflows on a typo such as `99999999999d`. A caller that needs more than zero says so with
`minimum=POSITIVE` (or any other floor).
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

ZERO = timedelta(0)
POSITIVE = timedelta(microseconds=1)  # pass as `minimum` to refuse zero
MAXIMUM = timedelta(days=36525)  # 100 years: anything longer is a typo
EXAMPLES = "26h, 90m, 1h30m or 2d"

_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_NUMBER = r"\d+(?:\.\d+)?"
_COMPOUND = re.compile(r"\s*".join(rf"(?:(?P<{unit}>{_NUMBER})\s*{unit})?" for unit in _UNIT_SECONDS))
_ISO = re.compile(
    rf"P(?:(?P<w>{_NUMBER})W)?(?:(?P<d>{_NUMBER})D)?"
    rf"(?:T(?:(?P<h>{_NUMBER})H)?(?:(?P<m>{_NUMBER})M)?(?:(?P<s>{_NUMBER})S)?)?"
)
_BARE_SECONDS = re.compile(_NUMBER)


def parse_duration(
    value: str | float | timedelta, *, minimum: timedelta = ZERO, maximum: timedelta = MAXIMUM
) -> timedelta:
    """`1h30m`, `2d`, `90s`, `1w2d`, `1.5h`, `PT2H`, a number of seconds, or a timedelta.

    Raises ValueError with a message that reads after a field name ("max_age: must be ..."),
    so pydantic validators and CLI options can pass it on as it is.
    """
    seconds = _seconds(value)
    if not math.isfinite(seconds) or seconds > maximum.total_seconds():
        raise ValueError(f"must be at most {format_duration(maximum)}")
    if seconds < 0:
        raise ValueError("must not be negative")
    duration = timedelta(seconds=seconds)
    if duration < minimum:
        raise ValueError(
            "must be longer than zero" if minimum <= POSITIVE else f"must be at least {format_duration(minimum)}"
        )
    return duration


def format_duration(duration: timedelta) -> str:
    """The grammar's own spelling, largest unit first: `1h30m`, `3d`, `45s`, `0s`.

    Days are the largest unit written (`14d` reads better than `2w`); what this writes,
    `parse_duration` reads back to the same value.
    """
    if duration < ZERO:
        return "-" + format_duration(-duration)
    whole, fraction = divmod(duration, timedelta(seconds=1))
    parts = []
    for unit in ("d", "h", "m"):
        count, whole = divmod(whole, _UNIT_SECONDS[unit])
        if count:
            parts.append(f"{count}{unit}")
    seconds = whole + fraction.total_seconds()
    if seconds or not parts:
        parts.append(f"{seconds:g}s")
    return "".join(parts)


def _seconds(value: str | float | timedelta) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bool):  # True is an int, but never a duration
        raise ValueError(f"must be a duration such as {EXAMPLES}")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if _BARE_SECONDS.fullmatch(text):
        return float(text)
    match = _ISO.fullmatch(text) if text.startswith("P") else _COMPOUND.fullmatch(text)
    if not text or match is None or not any(match.groups()):
        raise ValueError(f"must be a duration such as {EXAMPLES} (largest unit first: w d h m s), not {text!r}")
    return sum(float(number) * _UNIT_SECONDS[unit] for unit, number in match.groupdict().items() if number)
