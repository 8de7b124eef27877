"""sshd and PAM lines from syslog (auth.log, secure) as a table of authentication events.

Classic syslog stamps carry no year and no zone: the year is inferred from a reference time
(the latest year that does not put the line more than a day in the future) and the zone is
configured. `message repeated N times: [ ... ]` stands for N more copies of the message and is
expanded into N events. Lines that are syslog but not about authentication are parsed and kept
as kind `other`; lines that are not syslog at all are reported as unparsed.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from opsbook.tasks.security.logfile import ParsedLog, numbered_lines

COLUMNS = ["ts", "line", "host", "program", "kind", "user", "ip", "method", "invalid_user", "repeated"]

_MONTHS = {
    m: i
    for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], start=1)
}
_CLASSIC = re.compile(
    r"^(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<time>\d\d:\d\d:\d\d) (?P<host>\S+) "
    r"(?P<program>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)$"
)
_ISO = re.compile(
    r"^(?P<stamp>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) (?P<host>\S+) "
    r"(?P<program>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)$"
)
_REPEATED = re.compile(r"^message repeated (?P<n>\d+) times: \[\s?(?P<msg>.*?)\s?\]$")

# sshd: the authoritative record of each attempt.
_FAILED = re.compile(r"^Failed (?P<method>\S+) for (?P<invalid>invalid user )?(?P<user>.*?) from (?P<ip>\S+) port \d+")
_ACCEPTED = re.compile(r"^Accepted (?P<method>\S+) for (?P<user>\S+) from (?P<ip>\S+) port \d+")
_INVALID = re.compile(r"^Invalid user (?P<user>.*?) from (?P<ip>\S+?)(?: port \d+)?$")
# PAM: for sshd it repeats what sshd says; for other services (sudo, login, su) it is the record.
_PAM_FAILURE = re.compile(r"^pam_unix\((?P<service>[^:)]+):auth\): authentication failure;(?P<fields>.*)$")


def infer_year(month: int, day: int, clock: str, reference: datetime, zone: ZoneInfo) -> datetime:
    """The stamp's datetime in the latest year that is not more than a day after `reference`."""
    hour, minute, second = (int(part) for part in clock.split(":"))
    limit = reference + timedelta(days=1)
    for year in range(reference.year + 1, reference.year - 8, -1):
        try:
            candidate = datetime(year, month, day, hour, minute, second, tzinfo=zone)
        except ValueError:  # 29 February in a common year
            continue
        if candidate <= limit:
            return candidate
    raise ValueError(f"no year puts {month:02d}-{day:02d} before {reference:%Y-%m-%d}")


_ADDRESS_LIKE = re.compile(r"[0-9A-Fa-f:.]{2,45}")


def first_address(message: str) -> str | None:
    """The first IP address mentioned in a message (for lines that are evidence, not attempts)."""
    for token in _ADDRESS_LIKE.findall(message):
        try:
            return str(ipaddress.ip_address(token.rstrip(".:")))
        except ValueError:
            continue
    return None


class _YearCache:
    """infer_year per line is costly; one answer per calendar day serves every line but the edge."""

    def __init__(self, reference: datetime, zone: ZoneInfo) -> None:
        self.reference, self.zone = reference, zone
        self.years: dict[tuple[int, int], int | None] = {}

    def stamp(self, month: int, day: int, clock: str) -> datetime:
        key = (month, day)
        if key not in self.years:
            first = infer_year(month, day, "00:00:00", self.reference, self.zone).year
            last = infer_year(month, day, "23:59:59", self.reference, self.zone).year
            self.years[key] = first if first == last else None  # the day the limit falls in
        year = self.years[key]
        if year is None:
            return infer_year(month, day, clock, self.reference, self.zone)
        hour, minute, second = (int(part) for part in clock.split(":"))
        return datetime(year, month, day, hour, minute, second, tzinfo=self.zone)


def _pam_fields(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split() if "=" in part)


def classify(message: str) -> dict[str, object]:
    """The authentication meaning of one sshd/PAM message (kind `other` when it has none)."""
    if match := _FAILED.match(message):
        return {
            "kind": "failure",
            "user": match["user"],
            "ip": match["ip"],
            "method": match["method"],
            "invalid_user": bool(match["invalid"]),
        }
    if match := _ACCEPTED.match(message):
        return {"kind": "success", "user": match["user"], "ip": match["ip"], "method": match["method"]}
    if match := _INVALID.match(message):
        return {"kind": "invalid_user", "user": match["user"], "ip": match["ip"], "invalid_user": True}
    if match := _PAM_FAILURE.match(message):
        fields = _pam_fields(match["fields"])
        service = match["service"]
        return {
            "kind": "pam_failure" if service == "sshd" else "failure",
            "user": fields.get("user"),
            "ip": fields.get("rhost") or None,
            "method": f"pam:{service}",
        }
    return {"kind": "other", "ip": first_address(message)}


def parse_auth_log(path: Path, reference: datetime, zone: str = "UTC") -> ParsedLog:
    """Every line of an auth log, as events with UTC times; non-syslog lines are counted unparsed."""
    tz = ZoneInfo(zone)
    reference = reference.astimezone(tz)
    parsed = ParsedLog(str(path), pd.DataFrame(columns=COLUMNS))
    years = _YearCache(reference, tz)
    rows: list[dict[str, object]] = []
    for number, line in numbered_lines(path):
        parsed.total_lines += 1
        if match := _CLASSIC.match(line):
            month = _MONTHS.get(match["mon"])
            try:
                ts = years.stamp(month, int(match["day"]), match["time"]) if month else None
            except ValueError:
                ts = None
        elif match := _ISO.match(line):
            ts = pd.Timestamp(match["stamp"])
            ts = (ts.tz_localize(tz) if ts.tzinfo is None else ts).to_pydatetime()
        else:
            ts = None
        if ts is None:
            parsed.reject(number, line)
            continue
        assert match is not None  # a time was read from it
        parsed.parsed_lines += 1
        message, copies, repeated = match["msg"], 1, False
        if again := _REPEATED.match(message):
            message, copies, repeated = again["msg"], int(again["n"]), True
        event = {
            "ts": ts,
            "line": number,
            "host": match["host"],
            "program": match["program"],
            "user": None,
            "ip": None,
            "method": None,
            "invalid_user": False,
            "repeated": repeated,
            **classify(message),
        }
        rows.extend([event] * copies)
    if rows:
        frame = pd.DataFrame(rows, columns=COLUMNS)
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        parsed.events = frame
    return parsed
