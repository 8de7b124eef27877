"""sshd and PAM lines from syslog (auth.log, secure) as a table of authentication events.

Classic syslog stamps carry no year and no zone: the year is inferred from a reference time
(the latest year that does not put the line more than a day in the future, so a December line
read in January is last year's) and the zone is configured. `message repeated N times: [ ... ]`
stands for N more copies of the message and is expanded into N events (a count of 0 is no repeat
at all, and a line standing for more than MAX_EVENTS_PER_LINE events is counted unparsed). Lines that are syslog but
not about authentication are parsed and kept as kind `other`; lines that are not syslog at all
are reported as unparsed.

PAM (pam_unix) writes its own record of a failed password, in two forms:
- classic (older Red Hat and the like): `sshd(pam_unix)[19939]: authentication failure; ...
  rhost=218.188.2.4  user=root`, `sshd(pam_unix)[19939]: check pass; user unknown`;
- modern: `sshd[123]: pam_unix(sshd:auth): authentication failure; ... rhost=... user=...`.
`rhost` is an address or a host name (sshd with UseDNS): either way it is the source. pam_unix
logs the first failure of a connection and, when the connection ends, `N more authentication
failures` for the rest; that line stands for N attempts. `check pass; user unknown` is evidence
(the user does not exist), not another attempt: it marks the failures of its process as
invalid-user ones.

Counting, never twice: a service's own lines (sshd `Failed password ...`) are the attempts. A
PAM failure is *paired* with them (kind `pam_paired`, kept as evidence, not counted) when the
same host and the same process (program and pid) wrote an own failure within `PAIR_SECONDS`
(sshd writes `Failed` 2 to 12 s after PAM, and a connection's authentication lasts at most
LoginGraceTime, 120 s by default), and their sources agree where both are addresses (PAM may
name a host where sshd names its address). An unpaired PAM failure is an attempt (kind
`failure`, method `pam:<service>`): logs with no sshd lines (the classic form), services with no
own lines (su, login), or a connection whose sshd line is not written yet.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from opsbook.tasks.security.logfile import ParsedLog, numbered_lines

# `ip` is the source: an address, or the host name PAM was given as `rhost`.
COLUMNS = ["ts", "line", "host", "program", "pid", "kind", "user", "ip", "method", "invalid_user", "repeated"]
PAIR_SECONDS = 300
# A line claiming more events than this (`message repeated 999999999 times`) is not believed: it is
# counted unparsed, with a sample, instead of becoming a table that exhausts memory.
MAX_EVENTS_PER_LINE = 10_000

_MONTHS = {
    m: i
    for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], start=1)
}
_CLASSIC = re.compile(
    r"^(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<time>\d\d:\d\d:\d\d) (?P<host>\S+) "
    r"(?P<program>[^\s\[:(]+)(?:\((?P<module>[^)]*)\))?(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)$"
)
_ISO = re.compile(
    r"^(?P<stamp>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) (?P<host>\S+) "
    r"(?P<program>[^\s\[:(]+)(?:\((?P<module>[^)]*)\))?(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)$"
)
_REPEATED = re.compile(r"^message repeated (?P<n>[1-9]\d{0,8}) times: \[\s?(?P<msg>.*?)\s?\]$")

# sshd: the authoritative record of each attempt.
_FAILED = re.compile(r"^Failed (?P<method>\S+) for (?P<invalid>invalid user )?(?P<user>.*?) from (?P<ip>\S+) port \d+")
_ACCEPTED = re.compile(r"^Accepted (?P<method>\S+) for (?P<user>\S+) from (?P<ip>\S+) port \d+")
_INVALID = re.compile(r"^Invalid user (?P<user>.*?) from (?P<ip>\S+?)(?: port \d+)?$")
# pam_unix, modern form: the module and service lead the message; `PAM N more ...` at the end.
_PAM_PREFIX = re.compile(r"^pam_unix\((?P<service>[^:)]+):auth\): (?P<rest>.*)$")
_PAM_MORE_PREFIX = re.compile(r"^PAM (?P<rest>[1-9]\d{0,8} more authentication failures?;.*)$")
# ... and what pam_unix says, in either form.
_PAM_FAILURE = re.compile(r"^authentication failure;(?P<fields>.*)$")
_PAM_MORE = re.compile(r"^(?P<n>[1-9]\d{0,8}) more authentication failures?;(?P<fields>.*)$")
_PAM_UNKNOWN = re.compile(r"^check pass; user unknown\s*$")


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


def iso_stamp(stamp: str, zone: ZoneInfo) -> datetime | None:
    """An RFC 3339-ish stamp (a zone-less one is in `zone`), or None when it names no time a frame can hold.

    Read the way classic stamps are (a local time in a DST gap or overlap takes the first
    offset), so an impossible date, an offset such as +99:99 or a year outside pandas' range is an
    unparsed line rather than an exception that costs the whole file.
    """
    try:
        moment = datetime.fromisoformat(stamp)
        moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
        pd.Timestamp(moment).as_unit("ns")  # raises when outside the range the events frame holds
    except ValueError:
        return None
    return moment


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


def _pam_message(message: str, program: str, module: str | None) -> tuple[str, str] | None:
    """(service, what pam_unix said) when the line is pam_unix's, in either form; else None."""
    if module == "pam_unix":  # classic: `sshd(pam_unix)[pid]: authentication failure; ...`
        return program, message
    if match := _PAM_PREFIX.match(message):
        return match["service"], match["rest"]
    if match := _PAM_MORE_PREFIX.match(message):  # written at pam_end, when no module is current
        return program, match["rest"]
    return None


def _classify_pam(service: str, said: str) -> tuple[dict[str, object], int] | None:
    """What pam_unix said: a failure (and how many attempts it stands for), or an unknown user."""
    if match := _PAM_FAILURE.match(said):
        fields, copies = _pam_fields(match["fields"]), 1
    elif match := _PAM_MORE.match(said):
        fields, copies = _pam_fields(match["fields"]), int(match["n"])
    elif _PAM_UNKNOWN.match(said):
        return {"kind": "pam_unknown_user", "method": f"pam:{service}", "invalid_user": True}, 1
    else:
        return None
    event: dict[str, object] = {"kind": "pam_failure", "method": f"pam:{service}"}
    return event | {"user": fields.get("user") or None, "ip": fields.get("rhost") or None}, copies


def classify(message: str, program: str = "", module: str | None = None) -> tuple[dict[str, object], int]:
    """The authentication meaning of one sshd/PAM message (kind `other` when it has none), and
    how many attempts it stands for (`N more authentication failures` stands for N)."""
    if match := _FAILED.match(message):
        event = {
            "kind": "failure",
            "user": match["user"],
            "ip": match["ip"],
            "method": match["method"],
            "invalid_user": bool(match["invalid"]),
        }
        return event, 1
    if match := _ACCEPTED.match(message):
        return {"kind": "success", "user": match["user"], "ip": match["ip"], "method": match["method"]}, 1
    if match := _INVALID.match(message):
        return {"kind": "invalid_user", "user": match["user"], "ip": match["ip"], "invalid_user": True}, 1
    if (pam := _pam_message(message, program, module)) and (found := _classify_pam(*pam)):
        return found
    return {"kind": "other", "ip": first_address(message)}, 1


def _is_address(source: object) -> bool:
    try:
        ipaddress.ip_address(str(source))
    except ValueError:
        return False
    return True


def _nearest_in_process(rows: pd.DataFrame, others: pd.DataFrame) -> pd.DataFrame:
    """For each row, the nearest of `others` from the same host and process within PAIR_SECONDS."""
    keys = ["host", "program", "pid"]
    left = rows[["ts", *keys, "ip"]].reset_index().sort_values("ts")
    right = others[["ts", *keys, "ip"]].rename(columns={"ip": "other_ip"}).assign(other_ts=others["ts"])
    merged = pd.merge_asof(
        left,
        right.sort_values("ts"),
        on="ts",
        by=keys,
        direction="nearest",
        tolerance=pd.Timedelta(seconds=PAIR_SECONDS),
    )
    return merged.set_index("index")


def pair_pam_records(events: pd.DataFrame) -> pd.DataFrame:
    """PAM failures become attempts (`failure`) unless a service's own line is the attempt (`pam_paired`).

    The rule is the module docstring's: same host, same process, within PAIR_SECONDS, sources
    agreeing where both are addresses. A PAM failure whose process said `check pass; user
    unknown` nearby is an invalid-user failure.
    """
    pam = events["kind"] == "pam_failure"
    if not pam.any():
        return events
    events = events.copy()
    own = events.loc[events["kind"] == "failure"]
    paired = pd.Series(False, index=events.index[pam])
    if not own.empty:
        near = _nearest_in_process(events.loc[pam], own)
        agree = [
            not (_is_address(mine) and _is_address(theirs))
            or ipaddress.ip_address(mine) == ipaddress.ip_address(theirs)
            for mine, theirs in zip(near["ip"], near["other_ip"], strict=True)
        ]
        paired = near["other_ts"].notna() & pd.Series(agree, index=near.index)
    events.loc[paired.index, "kind"] = ["pam_paired" if p else "failure" for p in paired]
    unknown = events.loc[events["kind"] == "pam_unknown_user"]
    if not unknown.empty:
        near = _nearest_in_process(events.loc[pam], unknown)
        marked = near.index[near["other_ts"].notna()]
        events.loc[marked, "invalid_user"] = True
    return events


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
            ts = iso_stamp(match["stamp"], tz)
        else:
            ts = None
        if ts is None:
            parsed.reject(number, line)
            continue
        assert match is not None  # a time was read from it
        message, copies, repeated = match["msg"], 1, False
        if again := _REPEATED.match(message):
            message, copies, repeated = again["msg"], int(again["n"]), True
        meaning, attempts = classify(message, match["program"], match["module"])
        if copies * attempts > MAX_EVENTS_PER_LINE:
            parsed.reject(number, f"stands for {copies * attempts} events, more than {MAX_EVENTS_PER_LINE}: {line}")
            continue
        parsed.parsed_lines += 1
        event = {
            "ts": ts,
            "line": number,
            "host": match["host"],
            "program": match["program"],
            "pid": match["pid"] or "",
            "user": None,
            "ip": None,
            "method": None,
            "invalid_user": False,
            "repeated": repeated,
        }
        rows.extend([event | meaning] * (copies * attempts))
    if rows:
        frame = pd.DataFrame(rows, columns=COLUMNS)
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        parsed.events = pair_pam_records(frame)
    return parsed
