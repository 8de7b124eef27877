"""Web access logs in the combined (or common) log format as a table of requests.

The request line is kept even when it is not `METHOD path PROTOCOL` (scanners send garbage):
such a line is parsed, with `method` empty and the raw request as its path, because garbage
requests are exactly what the security check looks for.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from opsbook.tasks.security.logfile import ParsedLog, numbered_lines

COLUMNS = ["ts", "line", "ip", "user", "method", "path", "status", "size", "referer", "agent"]

_QUOTED = r'"(?P<{}>(?:[^"\\]|\\.)*)"'
_COMBINED = re.compile(
    r"^(?P<ip>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "
    + _QUOTED.format("request")
    + r" (?P<status>\d{3}) (?P<size>\d+|-)"
    # A truncated line may lose the agent's closing quote: keep the request, it is still evidence.
    + r"(?: "
    + _QUOTED.format("referer")
    + r' "(?P<agent>(?:[^"\\]|\\.)*)"?'
    + r")?\s*$"
)
_REQUEST = re.compile(r"^(?P<method>[A-Z]{3,10}) (?P<path>\S+)(?: HTTP/\d(?:\.\d)?)?$")
TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"


def parse_access_log(path: Path) -> ParsedLog:
    """Every line of an access log, as requests with UTC times; other lines are counted unparsed."""
    parsed = ParsedLog(str(path), pd.DataFrame(columns=COLUMNS))
    rows: list[dict[str, object]] = []
    for number, line in numbered_lines(path):
        parsed.total_lines += 1
        match = _COMBINED.match(line)
        if match is None:
            parsed.reject(number, line)
            continue
        request = _REQUEST.match(match["request"])
        rows.append(
            {
                "ts": match["time"],
                "line": number,
                "ip": match["ip"],
                "user": None if match["user"] == "-" else match["user"],
                "method": request["method"] if request else None,
                "path": request["path"] if request else match["request"],
                "status": int(match["status"]),
                "size": None if match["size"] == "-" else int(match["size"]),
                "referer": match["referer"],
                "agent": match["agent"] or "",
            }
        )
    if rows:
        frame = pd.DataFrame(rows, columns=COLUMNS)
        times = pd.to_datetime(frame["ts"], format=TIME_FORMAT, errors="coerce", utc=True)
        bad = times.isna()
        for number, text in zip(frame.loc[bad, "line"], frame.loc[bad, "ts"], strict=True):
            parsed.reject(int(number), f"bad time [{text}]")
        frame = frame.loc[~bad].assign(ts=times[~bad]).reset_index(drop=True)
        parsed.events = frame
    parsed.parsed_lines = len(parsed.events)
    return parsed
