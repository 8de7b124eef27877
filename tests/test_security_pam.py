"""Auth logs written by PAM: the classic and modern forms, mixed with sshd's own lines.

The logs are generated here the way real systems write them (shapes taken from loghub's Linux and
OpenSSH samples), and the expected figures are tallied by the generator as it writes each line,
never read back through the parser.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opsbook.results import Status
from opsbook.tasks.security.authlog import PAIR_SECONDS, parse_auth_log
from opsbook.tasks.security.checks import failed_authentication_results
from tests.helpers import estate

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
WINDOW = timedelta(hours=24)
CLASSIC_FIELDS = "logname= uid=0 euid=0 tty=NODEVssh ruser="
MODERN_FIELDS = "logname= uid=0 euid=0 tty=ssh ruser="


@dataclass
class AuthLog:
    """Writes syslog lines and tallies, as it goes, what a correct reader must find in the window."""

    now: datetime = NOW
    host: str = "combo"
    lines: list[tuple[datetime, str]] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)  # source -> failed attempts in the window
    attempt_times: dict[str, list[datetime]] = field(default_factory=dict)
    no_source: int = 0  # attempts in the window whose record names no source (su)
    pam_attempts: int = 0  # attempts known only from PAM records
    pam_paired: int = 0  # PAM records of attempts sshd logged too
    unparsed: int = 0

    def in_window(self, ts: datetime) -> bool:
        return self.now - WINDOW <= ts <= self.now

    def write(self, ts: datetime, program: str, message: str) -> None:
        self.lines.append((ts, f"{ts:%b} {ts.day:>2} {ts:%H:%M:%S} {self.host} {program}: {message}"))

    def attempt(self, ts: datetime, source: str | None, n: int = 1, *, from_pam: bool) -> None:
        if not self.in_window(ts):
            return
        if source is None:
            self.no_source += n
        else:
            self.attempts[source] += n
            self.attempt_times.setdefault(source, []).extend([ts] * n)
        if from_pam:
            self.pam_attempts += n

    def pam_evidence(self, ts: datetime, n: int = 1) -> None:
        if self.in_window(ts):
            self.pam_paired += n

    # --- the classic form: `sshd(pam_unix)[pid]: ...`, no sshd lines at all ---------------------

    def classic_failure(self, ts: datetime, pid: int, rhost: str, user: str | None) -> None:
        if user is None:
            self.write(ts, f"sshd(pam_unix)[{pid}]", "check pass; user unknown")
        tail = f"  user={user}" if user else " "
        self.write(ts, f"sshd(pam_unix)[{pid}]", f"authentication failure; {CLASSIC_FIELDS} rhost={rhost}{tail}")
        self.attempt(ts, rhost, from_pam=True)

    def classic_more(self, ts: datetime, pid: int, rhost: str, more: int, user: str = "root") -> None:
        self.write(
            ts,
            f"sshd(pam_unix)[{pid}]",
            f"{more} more authentication failures; {CLASSIC_FIELDS} rhost={rhost}  user={user}",
        )
        self.attempt(ts, rhost, more, from_pam=True)

    # --- the modern form: sshd's own lines and pam_unix(sshd:auth) side by side -----------------

    def modern_connection(self, ts: datetime, pid: int, ip: str, rhost: str, user: str, tries: int) -> datetime:
        """One sshd connection of `tries` wrong passwords; the second and later ones as `message repeated`."""
        self.write(
            ts,
            f"sshd[{pid}]",
            f"pam_unix(sshd:auth): authentication failure; {MODERN_FIELDS} rhost={rhost}  user={user}",
        )
        self.pam_evidence(ts)
        ts += timedelta(seconds=12)  # sshd's line comes after the failure delay, 12 s in loghub's sample
        self.write(ts, f"sshd[{pid}]", f"Failed password for {user} from {ip} port {40000 + pid} ssh2")
        self.attempt(ts, ip, from_pam=False)
        if tries > 1:
            ts += timedelta(seconds=6)
            self.write(
                ts,
                f"sshd[{pid}]",
                f"message repeated {tries - 1} times: [ Failed password for {user} from {ip} port {40000 + pid} ssh2]",
            )
            self.attempt(ts, ip, tries - 1, from_pam=False)
            self.write(
                ts,
                f"sshd[{pid}]",
                f"PAM {tries - 1} more authentication failures; {MODERN_FIELDS} rhost={rhost}  user={user}",
            )
            self.pam_evidence(ts, tries - 1)
        return ts

    def modern_invalid_user(self, ts: datetime, pid: int, ip: str, user: str) -> None:
        self.write(ts, f"sshd[{pid}]", f"Invalid user {user} from {ip}")
        self.write(ts, f"sshd[{pid}]", f"input_userauth_request: invalid user {user} [preauth]")
        self.write(ts, f"sshd[{pid}]", "pam_unix(sshd:auth): check pass; user unknown")
        self.write(ts, f"sshd[{pid}]", f"pam_unix(sshd:auth): authentication failure; {MODERN_FIELDS} rhost={ip} ")
        self.pam_evidence(ts)
        self.write(
            ts + timedelta(seconds=2), f"sshd[{pid}]", f"Failed password for invalid user {user} from {ip} port 22 ssh2"
        )
        self.attempt(ts + timedelta(seconds=2), ip, from_pam=False)

    def modern_pam_only(self, ts: datetime, pid: int, rhost: str, user: str) -> None:
        """A connection that ended before sshd wrote its `Failed` line: PAM's record is the attempt."""
        self.write(
            ts,
            f"sshd[{pid}]",
            f"pam_unix(sshd:auth): authentication failure; {MODERN_FIELDS} rhost={rhost}  user={user}",
        )
        self.write(ts, f"sshd[{pid}]", f"Connection closed by {rhost} [preauth]")
        self.attempt(ts, rhost, from_pam=True)

    def su_failure(self, ts: datetime, pid: int) -> None:
        self.write(
            ts,
            f"su[{pid}]",
            "pam_unix(su:auth): authentication failure; logname=bob uid=1000 euid=0 tty=pts/0 ruser=bob rhost= "
            " user=root",
        )
        self.attempt(ts, None, from_pam=True)

    def noise(self, ts: datetime, pid: int) -> None:
        self.write(ts, f"CRON[{pid}]", "pam_unix(cron:session): session opened for user root by (uid=0)")

    def garbage(self, ts: datetime) -> None:
        self.lines.append((ts, "### this is not syslog ###"))
        self.unparsed += 1

    # --- what a reader must find -------------------------------------------------------------------

    def save(self, path: Path) -> Path:
        path.write_text("\n".join(text for _, text in self.lines) + "\n")
        return path

    @property
    def failures(self) -> int:
        return sum(self.attempts.values()) + self.no_source

    @property
    def stamps(self) -> list[datetime]:
        return [ts for ts, text in self.lines if not text.startswith("###")]

    @property
    def outside(self) -> int:
        return sum(not self.in_window(ts) for ts in self.stamps)

    def brute_forces(self, failures: int, minutes: float, since: datetime | None = None) -> set[str]:
        """Sources with `failures` attempts less than `minutes` apart (since `since`), by trying every start."""
        span = timedelta(minutes=minutes)
        found = set()
        for source, times in self.attempt_times.items():
            times = sorted(t for t in times if since is None or t >= since)
            if any(sum(1 for t in times[i:] if t - start < span) >= failures for i, start in enumerate(times)):
                found.add(source)
        return found


def _mixed_log() -> AuthLog:
    log = AuthLog()
    # Outside the window: yesterday's classic failures and a cron line.
    for i in range(8):
        log.classic_failure(NOW - timedelta(hours=30, seconds=-5 * i), 1000 + i, "198.51.100.20", "root")
    log.noise(NOW - timedelta(hours=26), 1100)
    # Classic form, 5 h ago: a brute force from a host name, one connection (pid) per attempt.
    start = NOW - timedelta(hours=5)
    for i in range(14):
        log.classic_failure(
            start + timedelta(seconds=3 * i), 6472 + 2 * i, "unknown.sagonet.net", None if i % 3 else "root"
        )
    # Classic form, 3 h ago: one connection of 3 tries, the last two as `2 more authentication failures`.
    log.classic_failure(NOW - timedelta(hours=3), 19939, "218.188.2.4", "root")
    log.classic_more(NOW - timedelta(hours=3, seconds=-20), 19939, "218.188.2.4", 2)
    # Modern form, under way: 4 connections of 3 tries from one address, PAM naming it by address or name.
    start = NOW - timedelta(minutes=40)
    for i in range(4):
        rhost = "203.0.113.9" if i % 2 else "203-0-113-9.dsl.example.net"
        log.modern_connection(start + timedelta(seconds=60 * i), 24200 + i, "203.0.113.9", rhost, "root", 3)
    # Modern form: invalid users (sshd and PAM both write), a connection cut before sshd wrote, su.
    for i, user in enumerate(["admin", "oracle", "test"]):
        log.modern_invalid_user(NOW - timedelta(minutes=90 - i), 24300 + i, "192.0.2.77", user)
    log.modern_pam_only(NOW - timedelta(minutes=20), 24400, "host99.example.org", "deploy")
    log.su_failure(NOW - timedelta(hours=2), 31000)
    for i in range(6):
        log.noise(NOW - timedelta(hours=4 * i, minutes=17), 1200 + i)
    log.write(
        NOW - timedelta(minutes=10), "sshd[24500]", "Accepted publickey for deploy from 192.0.2.10 port 50000 ssh2"
    )
    log.garbage(NOW - timedelta(minutes=5))
    log.lines.sort(key=lambda pair: pair[0])
    return log


def _when(ts: datetime) -> str:
    return f"{ts:%Y-%m-%d %H:%M} UTC"


def test_mixed_pam_and_sshd_log_counts_each_attempt_once(tmp_path: Path) -> None:
    log = _mixed_log()
    config = estate(tmp_path, security={"auth_logs": [str(log.save(tmp_path / "secure"))]})
    (result,) = failed_authentication_results(config, now=NOW)

    expected_sources = log.brute_forces(10, 10)
    assert expected_sources == {"203.0.113.9", "unknown.sagonet.net"}  # the generator's own view
    assert result.status is Status.FAIL  # 203.0.113.9 is at it within the hour
    assert result.value == log.failures == 14 + 3 + 12 + 3 + 1 + 1
    d = result.details
    assert d["pam_attempts"] == log.pam_attempts == 14 + 3 + 1 + 1
    assert d["pam_paired"] == log.pam_paired == 4 * 3 + 3
    assert dict(map(tuple, d["failures_by_ip"])) == dict(log.attempts)
    assert {b["ip"]: b["active"] for b in d["brute_force"]} == {"203.0.113.9": True, "unknown.sagonet.net": False}
    assert d["lines_outside_window"] == log.outside == 8 + 1
    assert d["lines_in_window"] + d["lines_outside_window"] == d["lines"]["parsed_lines"] == len(log.stamps)
    assert d["first_seen"] == min(log.stamps).isoformat() and d["last_seen"] == max(log.stamps).isoformat()
    assert d["lines"]["unparsed_lines"] == log.unparsed == 1
    assert result.message == (
        "BRUTE FORCE UNDER WAY (last 60 min) from 1 source(s): 203.0.113.9; "
        f"{log.failures} failed logins in 24 h ({log.pam_attempts} known from PAM records alone), "
        "most from unknown.sagonet.net (14); "
        "brute force earlier from 1 source(s): unknown.sagonet.net; "
        f"file covers {_when(min(log.stamps))} to {_when(max(log.stamps))}, "
        f"9 of {len(log.stamps)} lines outside the window; "
        f"1 of {len(log.lines)} lines not parsed"
    )


def test_the_same_log_an_hour_later_is_amber_not_red(tmp_path: Path) -> None:
    log = _mixed_log()
    config = estate(tmp_path, security={"auth_logs": [str(log.save(tmp_path / "secure"))]})
    (result,) = failed_authentication_results(config, now=NOW + timedelta(hours=1))
    assert result.status is Status.WARN
    assert all(not b["active"] for b in result.details["brute_force"])
    assert "; brute force earlier from 2 source(s): unknown.sagonet.net, 203.0.113.9;" in result.message


def test_a_classic_log_of_hundreds_of_pam_failures_is_not_zero(tmp_path: Path) -> None:
    """The issue's case: PAM lines only, many sources (addresses and host names), over a day."""
    rng = random.Random(21)
    sources = [f"61.{rng.randrange(256)}.{rng.randrange(256)}.{i}" for i in range(30)]
    sources += [f"host{i}.dynamic.example.net" for i in range(10)]
    log = AuthLog(host="combo")
    pid = 19000
    for _ in range(400):
        ts = NOW - timedelta(seconds=rng.randrange(int(WINDOW.total_seconds()) + 6 * 3600))  # some too old
        pid += 2
        log.classic_failure(ts, pid, rng.choice(sources), rng.choice(["root", None, "guest"]))
        if rng.random() < 0.1:
            log.classic_more(ts + timedelta(seconds=1), pid, rng.choice(sources), rng.randrange(1, 5))
    burst = NOW - timedelta(hours=3)
    for i in range(25):  # and one source hammering for two minutes
        log.classic_failure(burst + timedelta(seconds=5 * i), 30000 + 2 * i, "220-135-151-1.hinet.net", "root")
    log.lines.sort(key=lambda pair: pair[0])
    config = estate(tmp_path, security={"auth_logs": [str(log.save(tmp_path / "messages"))]})
    (result,) = failed_authentication_results(config, now=NOW)
    assert result.value == log.failures == log.pam_attempts and log.failures > 300
    assert result.details["pam_paired"] == 0
    assert dict(map(tuple, result.details["failures_by_ip"])) == dict(log.attempts.most_common(10))
    assert result.details["lines_outside_window"] == log.outside > 0
    brute = log.brute_forces(10, 10)
    active = log.brute_forces(10, 10, since=NOW - timedelta(hours=1))
    assert "220-135-151-1.hinet.net" in brute and not active
    assert {b["ip"] for b in result.details["brute_force"]} == brute
    assert result.status is Status.WARN


def test_december_lines_read_in_january_belong_to_last_year(tmp_path: Path) -> None:
    now = datetime(2027, 1, 1, 0, 30, tzinfo=UTC)
    log = AuthLog(now=now)
    for i in range(12):  # a brute force across midnight, 23:55 to 00:00:30
        log.classic_failure(
            datetime(2026, 12, 31, 23, 55, tzinfo=UTC) + timedelta(seconds=30 * i), 500 + i, "218.188.2.4", "root"
        )
    log.classic_failure(datetime(2026, 12, 30, 12, 0, tzinfo=UTC), 400, "198.51.100.1", "root")  # outside 24 h
    config = estate(tmp_path, security={"auth_logs": [str(log.save(tmp_path / "secure"))]})
    (result,) = failed_authentication_results(config, now=now)
    assert result.details["first_seen"] == "2026-12-30T12:00:00+00:00"
    assert result.details["last_seen"] == "2027-01-01T00:00:30+00:00"
    assert result.value == log.failures == 12 and result.details["lines_outside_window"] == 1
    assert result.status is Status.FAIL and result.details["brute_force"][0]["ip"] == "218.188.2.4"


def test_pam_lines_pair_only_within_their_process_and_time(tmp_path: Path) -> None:
    log = AuthLog()
    ts = NOW - timedelta(hours=1)
    log.modern_connection(ts, 700, "192.0.2.5", "192.0.2.5", "root", 1)  # paired: same pid, 12 s apart
    # The same pid again later (pids wrap): PAM only, too far from the earlier sshd line to pair.
    log.modern_pam_only(ts + timedelta(seconds=PAIR_SECONDS + 60), 700, "192.0.2.5", "root")
    # Another process at the same second: sshd's line for pid 700 does not cover it.
    log.modern_pam_only(ts, 701, "192.0.2.6", "alice")
    log.lines.sort(key=lambda pair: pair[0])
    events = parse_auth_log(log.save(tmp_path / "auth.log"), NOW).events
    assert Counter(events["kind"])["pam_paired"] == log.pam_paired == 1
    failures = events.loc[events["kind"] == "failure"]
    assert Counter(failures["ip"]) == log.attempts == Counter({"192.0.2.5": 2, "192.0.2.6": 1})
    assert sorted(failures["method"]) == ["pam:sshd", "pam:sshd", "password"]


def test_an_empty_auth_log_is_an_error_not_zero(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("")
    (result,) = failed_authentication_results(estate(tmp_path, security={"auth_logs": [str(log)]}), now=NOW)
    assert result.status is Status.ERROR
    assert result.message == "no line in the last 24 h: the file is empty (log rotated or logger stopped?)"
