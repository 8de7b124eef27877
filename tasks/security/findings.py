"""What the parsed logs say: failed logins, brute force, enumeration, attacks, bursts (pandas).

Pure functions of event tables, so they are tested on generated and real logs alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import unquote_plus

import pandas as pd

from opsbook.config.security import BruteForceRule, BurstRule

TOP = 10

# Request signatures, matched on the twice-decoded path (attackers encode once or twice).
SIGNATURES: dict[str, re.Pattern[str]] = {
    "sql_injection": re.compile(
        r"(?i)(?:union(?:\s|/\*.*?\*/)+(?:all\s+)?select|'\s*or\s+'?\d+'?\s*=\s*'?\d|\bor\s+1\s*=\s*1|"
        r"\bsleep\s*\(\s*\d|benchmark\s*\(|information_schema|;\s*drop\s+table|'\s*--)"
    ),
    "xss": re.compile(r"(?i)(?:<\s*script|javascript:|\bon(?:error|load|mouseover)\s*=|<\s*svg[^>]*on\w+=|alert\s*\()"),
    "path_traversal": re.compile(r"(?:\.\./|\.\.\\)"),
    "sensitive_file": re.compile(r"(?i)(?:/etc/(?:passwd|shadow)|win\.ini|/proc/self/environ)"),
}
SCANNER_AGENTS = re.compile(
    r"(?i)(?:sqlmap|nikto|nmap|masscan|zgrab|wpscan|acunetix|nuclei|dirbuster|gobuster|nessus|openvas|"
    r"w3af|havij|zmeu|morfeus|jorgee)"
)
PROBE_PATHS = re.compile(
    r"(?i)^/(?:\.env|\.git/|\.aws/|wp-login\.php|wp-admin|xmlrpc\.php|phpmyadmin|pma/|myadmin|cgi-bin/|"
    r"admin\.php|server-status|actuator|vendor/phpunit|HNAP1|boaform)"
)


def in_window(events: pd.DataFrame, since: datetime | None, until: datetime | None) -> pd.DataFrame:
    mask = pd.Series(True, index=events.index)
    if since is not None:
        mask &= events["ts"] >= pd.Timestamp(since)
    if until is not None:
        mask &= events["ts"] <= pd.Timestamp(until)
    return events.loc[mask]


@dataclass
class Coverage:
    """Which part of a file the window saw: the file's time range and its lines either side.

    Counted in lines (a `message repeated` line is one line), so it adds up with the line account.
    """

    first_seen: str | None = None
    last_seen: str | None = None
    lines_in_window: int = 0
    lines_outside_window: int = 0

    def details(self) -> dict[str, object]:
        return dict(self.__dict__)


def coverage(events: pd.DataFrame, since: datetime | None, until: datetime | None) -> Coverage:
    """The time range of every parsed line of `events` (columns ts, line), and how many fell in the window."""
    if events.empty:
        return Coverage()
    lines = events.drop_duplicates("line")
    inside = len(in_window(lines, since, until))
    return Coverage(
        first_seen=lines["ts"].min().isoformat(),
        last_seen=lines["ts"].max().isoformat(),
        lines_in_window=inside,
        lines_outside_window=len(lines) - inside,
    )


def most_in_window(events: pd.DataFrame, key: str, minutes: float) -> pd.Series:
    """Per key (e.g. source IP), the most events inside any `minutes`-long window."""
    if events.empty:
        return pd.Series(dtype="int64")
    ordered = events[[key, "ts"]].dropna().sort_values("ts").assign(n=1).set_index("ts")
    rolled = ordered.groupby(key)["n"].rolling(pd.Timedelta(minutes=minutes)).sum()
    return rolled.groupby(level=0).max().astype("int64").sort_values(ascending=False)


def _top(series: pd.Series, n: int = TOP) -> list[list[object]]:
    return [[str(k), int(v)] for k, v in series.head(n).items()]


@dataclass
class AuthFindings:
    failures: int = 0
    pam_attempts: int = 0  # failures known from PAM records alone (no service line for them)
    pam_paired: int = 0  # PAM records of failures the service logged too: evidence, not counted again
    successes: int = 0
    failures_by_ip: list[list[object]] = field(default_factory=list)
    failures_by_user: list[list[object]] = field(default_factory=list)
    brute_force: list[dict[str, object]] = field(default_factory=list)
    enumeration: list[dict[str, object]] = field(default_factory=list)
    compromised: list[dict[str, object]] = field(default_factory=list)

    def details(self) -> dict[str, object]:
        return dict(self.__dict__)


def auth_findings(events: pd.DataFrame, rule: BruteForceRule, active_since: datetime | None = None) -> AuthFindings:
    """Failures per source and user, brute force, invalid-user enumeration, success after failures.

    `events` has columns ts, kind, ip (the source: an address or a host name), user,
    invalid_user: sshd/PAM events, and web logins answered 401/403 as kind `failure`. A brute
    force is `active` when the rule's N failures within M minutes happened since `active_since`
    (without it, none is).
    """
    failures = events.loc[events["kind"] == "failure"]
    successes = events.loc[events["kind"] == "success"]
    from_pam = failures["method"].fillna("").str.startswith("pam:") if "method" in failures else None
    found = AuthFindings(
        failures=len(failures),
        pam_attempts=int(from_pam.sum()) if from_pam is not None else 0,
        pam_paired=int((events["kind"] == "pam_paired").sum()),
        successes=len(successes),
        failures_by_ip=_top(failures["ip"].value_counts()),
        failures_by_user=_top(failures["user"].value_counts()),
    )
    peaks = most_in_window(failures, "ip", rule.minutes)
    recent = failures.loc[failures["ts"] >= pd.Timestamp(active_since)] if active_since else failures.iloc[:0]
    recent_peaks = most_in_window(recent, "ip", rule.minutes)
    totals = failures["ip"].value_counts()
    for ip, peak in peaks[peaks >= rule.failures].items():
        mine = failures.loc[failures["ip"] == ip, "ts"]
        found.brute_force.append(
            {
                "ip": ip,
                "peak": int(peak),
                "failures": int(totals[ip]),
                "first": mine.min().isoformat(),
                "last": mine.max().isoformat(),
                "active": int(recent_peaks.get(ip, 0)) >= rule.failures,
            }
        )
    invalid = events.loc[events["invalid_user"].fillna(False).astype(bool) & events["ip"].notna()]
    users = invalid.groupby("ip")["user"].nunique().sort_values(ascending=False)
    for ip, count in users[users >= rule.enumeration_users].items():
        sample = sorted(invalid.loc[invalid["ip"] == ip, "user"].dropna().unique())[:10]
        found.enumeration.append({"ip": ip, "invalid_users": int(count), "sample": sample})
    for success in successes.itertuples():
        before = failures.loc[(failures["ip"] == success.ip) & (failures["ts"] <= success.ts)]
        if len(before) >= rule.failures:
            found.compromised.append(
                {"ip": success.ip, "user": success.user, "at": success.ts.isoformat(), "failures_before": len(before)}
            )
    return found


def web_login_failures(requests: pd.DataFrame, login_paths: list[str]) -> pd.DataFrame:
    """401/403 answers on login paths, as auth events (kind failure) for `auth_findings`."""
    if requests.empty:
        return pd.DataFrame(columns=["ts", "kind", "ip", "user", "invalid_user"])
    path = requests["path"].str.split("?", n=1).str[0]
    hits = requests.loc[path.isin(login_paths) & requests["status"].isin([401, 403])]
    return pd.DataFrame(
        {"ts": hits["ts"], "kind": "failure", "ip": hits["ip"], "user": hits["user"], "invalid_user": False}
    )


def _decoded(path: str) -> str:
    return unquote_plus(unquote_plus(path))


@dataclass
class AccessFindings:
    requests: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    attack_requests: int = 0
    attacks: dict[str, int] = field(default_factory=dict)
    attack_ips: list[list[object]] = field(default_factory=list)
    attack_samples: list[dict[str, object]] = field(default_factory=list)
    scanners: list[list[object]] = field(default_factory=list)
    scanner_sources: int = 0
    probes: list[list[object]] = field(default_factory=list)
    probe_sources: int = 0
    bursts: list[dict[str, object]] = field(default_factory=list)

    def details(self) -> dict[str, object]:
        return dict(self.__dict__)


def access_findings(requests: pd.DataFrame, burst: BurstRule) -> AccessFindings:
    """Injection and traversal signatures, scanner agents, probe paths and 4xx/5xx bursts per IP."""
    found = AccessFindings(requests=len(requests))
    if requests.empty:
        return found
    found.errors_4xx = int(requests["status"].between(400, 499).sum())
    found.errors_5xx = int(requests["status"].between(500, 599).sum())
    decoded = requests["path"].fillna("").map(_decoded)
    matched = pd.DataFrame({name: decoded.str.contains(pattern) for name, pattern in SIGNATURES.items()})
    attacked = matched.any(axis=1)
    found.attack_requests = int(attacked.sum())
    found.attacks = {name: int(count) for name, count in matched.sum().items() if count}
    found.attack_ips = _top(requests.loc[attacked, "ip"].value_counts())
    for row in requests.loc[attacked].head(TOP).itertuples():
        found.attack_samples.append(
            {
                "ip": row.ip,
                "at": row.ts.isoformat(),
                "path": row.path[:200],
                "status": row.status,
                "signatures": [n for n in SIGNATURES if matched.at[row.Index, n]],
            }
        )
    scanners = requests.loc[requests["agent"].fillna("").str.contains(SCANNER_AGENTS), "ip"].value_counts()
    probes = requests.loc[decoded.str.contains(PROBE_PATHS), "ip"].value_counts()
    found.scanners, found.scanner_sources = _top(scanners), len(scanners)
    found.probes, found.probe_sources = _top(probes), len(probes)
    errors = requests.loc[requests["status"] >= 400]
    peaks = most_in_window(errors, "ip", burst.minutes)
    found.bursts = [
        {"ip": ip, "errors": int(peak), "minutes": burst.minutes}
        for ip, peak in peaks[peaks >= burst.errors].head(TOP).items()
    ]
    return found
