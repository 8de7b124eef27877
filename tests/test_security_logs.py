"""Auth and access logs: every line accounted for, findings that match independent counts.

The real files come from ../shared/data (loghub's OpenSSH_2k.log, elastic's apache_logs); the
expected figures are counted here with plain regular expressions, not copied from the parser.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsbook.config.security import BruteForceRule, BurstRule
from opsbook.results import Status
from opsbook.tasks.security.accesslog import parse_access_log
from opsbook.tasks.security.authlog import infer_year, parse_auth_log
from opsbook.tasks.security.checks import failed_authentication_results, suspicious_activity_results
from opsbook.tasks.security.findings import access_findings, auth_findings, web_login_failures
from tests.helpers import estate


def _shared_data() -> Path:
    """../shared/data beside the repository (parents[2] in a clone; one level up in a worktree)."""
    here = Path(__file__).resolve()
    for folder in (here.parents[2], *here.parents[3:]):
        if (folder / "shared" / "data").is_dir():
            return folder / "shared" / "data"
    return here.parents[2] / "shared" / "data"


SHARED = _shared_data()
OPENSSH = SHARED / "loghub" / "OpenSSH" / "OpenSSH_2k.log"
APACHE = SHARED / "weblogs" / "apache_logs"
REFERENCE = datetime(2026, 11, 27, tzinfo=UTC)


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not available: {path} (the shared data folder sits beside the repository)")
    return path


def _weighted_lines(path: Path, pattern: str) -> Counter[str]:
    """Occurrences of pattern's first group, a `message repeated N times` line counting N."""
    counts: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        if match := re.search(pattern, line):
            repeated = re.search(r"message repeated (\d+) times", line)
            counts[match.group(1)] += int(repeated.group(1)) if repeated else 1
    return counts


# --- real OpenSSH log --------------------------------------------------------------------------


def test_every_openssh_line_is_accounted_for() -> None:
    path = _need(OPENSSH)
    parsed = parse_auth_log(path, REFERENCE)
    total = len(path.read_text().splitlines())
    assert parsed.total_lines == total
    assert parsed.parsed_lines + parsed.unparsed_lines == total
    # Expanded events: one per line, plus N - 1 more for each `message repeated N times` line
    # and for each `PAM N more authentication failures` line (N attempts PAM did not log one by one).
    repeated = sum(int(n) - 1 for n in re.findall(r"message repeated (\d+) times", path.read_text()))
    more = sum(int(n) - 1 for n in re.findall(r"PAM (\d+) more authentication failures", path.read_text()))
    assert len(parsed.events) == parsed.parsed_lines + repeated + more
    assert repeated > 0 and more > 0


def test_openssh_failures_match_an_independent_count() -> None:
    path = _need(OPENSSH)
    found = auth_findings(parse_auth_log(path, REFERENCE).events, BruteForceRule())
    by_ip = _weighted_lines(path, r"Failed \S+ for (?:invalid user )?.*? from (\S+) port")
    by_user = _weighted_lines(path, r"Failed password for (root) from")
    # PAM's records count only for a process sshd wrote no `Failed` line for (here: the file
    # ends between the PAM line and sshd's); `PAM N more authentication failures` is N.
    text = path.read_text()
    with_sshd_line = set(re.findall(r"sshd\[(\d+)\]: Failed ", text))
    pam_only: Counter[str] = Counter()
    for pid, more, rhost, user in re.findall(
        r"sshd\[(\d+)\]: (?:pam_unix\(sshd:auth\): authentication failure|PAM (\d+) more authentication failures)"
        r";.*?rhost=(\S+)(?:\s+user=(\S+))?",
        text,
    ):
        if pid not in with_sshd_line:
            pam_only[rhost] += int(more or 1)
            by_user[user] += int(more or 1)
    assert sum(pam_only.values()) == found.pam_attempts == 1
    assert found.failures == sum(by_ip.values()) + sum(pam_only.values())
    by_source = by_ip + pam_only
    assert found.failures_by_ip[0] == [by_source.most_common(1)[0][0], by_source.most_common(1)[0][1]]
    assert dict(map(tuple, found.failures_by_user))["root"] == by_user["root"]
    top_ip = by_ip.most_common(1)[0][0]
    assert top_ip == "183.62.140.253"  # the file's busiest source of lines, counted with grep
    assert top_ip in {b["ip"] for b in found.brute_force}
    accepted = len(re.findall(r"Accepted password", path.read_text()))
    assert found.successes == accepted == 1
    assert found.compromised == []  # the one success came from an IP with no failures


def test_openssh_enumeration_matches_distinct_invalid_users() -> None:
    path = _need(OPENSSH)
    rule = BruteForceRule(enumeration_users=5)
    found = auth_findings(parse_auth_log(path, REFERENCE).events, rule)
    users: dict[str, set[str]] = {}
    for user, ip in re.findall(r"Invalid user (.*?) from (\S+)", path.read_text()):
        users.setdefault(ip, set()).add(user)
    for user, ip in re.findall(r"Failed \S+ for invalid user (.*?) from (\S+) port", path.read_text()):
        users.setdefault(ip, set()).add(user)
    expected = {ip: len(names) for ip, names in users.items() if len(names) >= 5}
    assert {e["ip"]: e["invalid_users"] for e in found.enumeration} == expected


def test_syslog_year_is_inferred_from_the_reference_time() -> None:
    zone = UTC
    january = datetime(2026, 1, 2, 12, tzinfo=UTC)
    assert infer_year(12, 31, "23:00:00", january, zone).year == 2025  # last year's December
    assert infer_year(1, 2, "11:00:00", january, zone).year == 2026
    assert infer_year(1, 3, "11:00:00", january, zone).year == 2026  # within a day ahead: clock skew
    assert infer_year(2, 29, "00:00:00", datetime(2026, 3, 1, tzinfo=UTC), zone).year == 2024


# --- real Apache log ---------------------------------------------------------------------------


def test_every_apache_line_is_accounted_for_and_statuses_match() -> None:
    path = _need(APACHE)
    parsed = parse_access_log(path)
    lines = path.read_text().splitlines()
    assert parsed.total_lines == len(lines)
    assert parsed.parsed_lines + parsed.unparsed_lines == len(lines)
    statuses = Counter(m.group(1) for line in lines if (m := re.search(r'" (\d{3}) (?:\d+|-)', line)))
    assert parsed.events["status"].astype(str).value_counts().to_dict() == dict(statuses)
    assert statuses["200"] == 9126 and statuses["500"] == 3
    top_ip, top_count = Counter(line.split(" ", 1)[0] for line in lines).most_common(1)[0]
    assert parsed.events["ip"].value_counts().head(1).to_dict() == {top_ip: top_count}


def test_real_checks_account_for_lines_in_their_details(tmp_path: Path) -> None:
    config = estate(
        tmp_path,
        security={"auth_logs": [str(_need(OPENSSH))], "access_logs": [str(_need(APACHE))], "window_hours": 24 * 90},
    )
    auth = failed_authentication_results(config, now=datetime(2026, 1, 1, tzinfo=UTC))
    ssh = next(r for r in auth if r.check == "security.auth_failures")
    assert ssh.status is Status.WARN and "183.62.140.253" in ssh.message
    assert ssh.details["lines"]["total_lines"] == ssh.details["lines"]["parsed_lines"] == 2000
    (activity,) = suspicious_activity_results(config, now=datetime(2015, 5, 21, tzinfo=UTC))
    assert activity.details["lines"]["parsed_lines"] == 10000
    assert activity.details["requests"] == 10000


# --- generated logs ------------------------------------------------------------------------------


def _syslog(ts: datetime, message: str, program: str = "sshd[4242]") -> str:
    return f"{ts:%b} {ts.day:>2} {ts:%H:%M:%S} web1 {program}: {message}"


def _combined(ts: datetime, ip: str, request: str, status: int, agent: str = "Mozilla/5.0") -> str:
    return f'{ip} - - [{ts:%d/%b/%Y:%H:%M:%S +0000}] "{request}" {status} 512 "-" "{agent}"'


NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def test_generated_brute_force_then_success_is_flagged_high(tmp_path: Path) -> None:
    start = NOW - timedelta(hours=2)
    lines = [
        _syslog(start + timedelta(seconds=10 * i), f"Failed password for root from 203.0.113.9 port {4000 + i} ssh2")
        for i in range(12)
    ]
    lines.append(
        _syslog(
            start + timedelta(minutes=3),
            "message repeated 3 times: [ Failed password for root from 203.0.113.9 port 1 ssh2]",
        )
    )
    lines.append(_syslog(start + timedelta(minutes=4), "Accepted password for root from 203.0.113.9 port 5000 ssh2"))
    lines.append(_syslog(start + timedelta(minutes=5), "Failed password for alice from 198.51.100.7 port 1 ssh2"))
    lines.append(
        _syslog(
            start, "authentication failure; logname= uid=0 euid=0 tty=pts/0 ruser=bob rhost=  user=root", program="sudo"
        )
    )
    lines.append("this is not syslog")
    log = tmp_path / "auth.log"
    log.write_text("\n".join(lines) + "\n")
    config = estate(tmp_path, security={"auth_logs": [str(log)], "brute_force": {"failures": 10, "minutes": 5}})
    (result,) = failed_authentication_results(config, now=NOW)
    assert result.status is Status.FAIL
    assert result.value == 16  # 12 + 3 repeated + alice; the sudo line is not pam_unix and stays `other`
    assert result.details["compromised"][0]["ip"] == "203.0.113.9"
    assert result.details["compromised"][0]["failures_before"] == 15
    assert result.details["lines"]["unparsed_lines"] == 1
    assert result.details["lines"]["parsed_lines"] + 1 == result.details["lines"]["total_lines"]


def test_failures_spread_wider_than_the_rule_are_not_brute_force(tmp_path: Path) -> None:
    start = NOW - timedelta(hours=20)
    lines = [
        _syslog(start + timedelta(minutes=30 * i), f"Failed password for root from 203.0.113.9 port {i} ssh2")
        for i in range(20)
    ]
    log = tmp_path / "auth.log"
    log.write_text("\n".join(lines))
    config = estate(tmp_path, security={"auth_logs": [str(log)], "brute_force": {"failures": 10, "minutes": 10}})
    (result,) = failed_authentication_results(config, now=NOW)
    assert result.status is Status.OK and result.value == 20
    assert result.details["brute_force"] == []


def test_events_outside_the_window_are_not_counted(tmp_path: Path) -> None:
    old = NOW - timedelta(hours=30)
    lines = [
        _syslog(old + timedelta(seconds=i), f"Failed password for root from 203.0.113.9 port {i} ssh2")
        for i in range(30)
    ]
    log = tmp_path / "auth.log"
    log.write_text("\n".join(lines))
    config = estate(tmp_path, security={"auth_logs": [str(log)]})
    (result,) = failed_authentication_results(config, now=NOW)
    # Nothing in the window measured nothing: an error naming the file's range, never a plain ok.
    assert result.status is Status.ERROR and result.value is None
    assert result.message == (
        "no line in the last 24 h: the file's 30 lines run from 2026-11-26 02:00 UTC to 2026-11-26 02:00 UTC "
        "(log rotated away, wrong file or logger stopped?)"
    )
    assert result.details["lines"]["parsed_lines"] == 30
    assert result.details["lines_in_window"] == 0 and result.details["lines_outside_window"] == 30


def _access_log(tmp_path: Path, lines: list[str]) -> Path:
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines) + "\n")
    return log


def _clean_traffic(start: datetime) -> list[str]:
    pages = ["/", "/courses", "/api/health", "/search?q=union+station", "/static/app.js", "/login"]
    return [
        _combined(
            start + timedelta(seconds=i),
            f"192.0.2.{i % 20}",
            f"GET {pages[i % len(pages)]} HTTP/1.1",
            200 if i % 17 else 404,
        )
        for i in range(300)
    ]


def test_clean_access_log_is_not_flagged(tmp_path: Path) -> None:
    log = _access_log(tmp_path, _clean_traffic(NOW - timedelta(hours=1)))
    config = estate(tmp_path, security={"access_logs": [str(log)]})
    (activity,) = suspicious_activity_results(config, now=NOW)
    (logins,) = failed_authentication_results(config, now=NOW)
    assert activity.status is Status.OK and activity.value == 0, activity.message
    assert logins.status is Status.OK


def test_generated_injection_scanner_and_burst_are_flagged(tmp_path: Path) -> None:
    start = NOW - timedelta(hours=1)
    attacks = [
        _combined(
            start, "203.0.113.50", "GET /search?q=1%27%20UNION%20SELECT%20password%20FROM%20users-- HTTP/1.1", 500
        ),
        _combined(start, "203.0.113.50", "GET /static/..%2f..%2f..%2fetc%2fpasswd HTTP/1.1", 400),
        _combined(start, "203.0.113.51", "GET /comment?text=%3Cscript%3Ealert(1)%3C/script%3E HTTP/1.1", 200),
        _combined(start, "203.0.113.52", "GET /.env HTTP/1.1", 404, agent="sqlmap/1.7.2#stable"),
    ]
    burst = [_combined(start + timedelta(seconds=i), "203.0.113.53", f"GET /x{i} HTTP/1.1", 404) for i in range(60)]
    logins = [_combined(start + timedelta(seconds=i), "203.0.113.54", "POST /login HTTP/1.1", 401) for i in range(12)]
    log = _access_log(tmp_path, _clean_traffic(start) + attacks + burst + logins + ["garbage line"])
    config = estate(
        tmp_path,
        security={
            "access_logs": [str(log)],
            "brute_force": {"failures": 10, "minutes": 5},
            "error_burst": {"errors": 50, "minutes": 5},
        },
    )
    (activity,) = suspicious_activity_results(config, now=NOW)
    assert activity.status is Status.WARN
    assert activity.details["attacks"] == {"sql_injection": 1, "path_traversal": 1, "sensitive_file": 1, "xss": 1}
    assert activity.value == 3  # three requests carry signatures (one carries two)
    assert activity.details["attack_ips"][0] == ["203.0.113.50", 2]
    assert [ip for ip, _ in activity.details["scanners"]] == ["203.0.113.52"]
    assert [b["ip"] for b in activity.details["bursts"]] == ["203.0.113.53"]
    assert activity.details["lines"]["unparsed_lines"] == 1
    (web,) = failed_authentication_results(config, now=NOW)
    assert web.check == "security.web_logins" and web.status is Status.WARN
    assert [b["ip"] for b in web.details["brute_force"]] == ["203.0.113.54"]


def test_a_file_in_the_wrong_format_is_an_error_not_ok(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("\n".join(['{"json": true}'] * 10))
    config = estate(tmp_path, security={"auth_logs": [str(log)], "access_logs": [str(log)]})
    results = failed_authentication_results(config, now=NOW) + suspicious_activity_results(config, now=NOW)
    assert [r.status for r in results] == [Status.ERROR] * 3
    assert "not in the expected format" in results[0].message


def test_web_login_failures_only_count_login_paths() -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "ts": pd.to_datetime([NOW] * 3, utc=True),
            "ip": ["a", "b", "c"],
            "user": [None] * 3,
            "path": ["/login?next=/", "/api/data", "/login"],
            "status": [401, 401, 200],
        }
    )
    assert web_login_failures(frame, ["/login"])["ip"].tolist() == ["a"]
    assert access_findings(frame.assign(agent="", method="GET"), BurstRule()).attack_requests == 0


def test_real_apache_log_has_probes_but_no_attacks_as_grep_says() -> None:
    path = _need(APACHE)
    text = path.read_text()
    found = access_findings(parse_access_log(path).events, BurstRule())
    assert (
        found.attack_requests
        == len(re.findall(r"(?i)union.{0,5}select|etc/passwd|<script|%3cscript|\.\./|\.\.%2f", text))
        == 0
    )
    probing = re.findall(
        r'^(\S+) .*?"(?:GET|POST|HEAD) /(?:xmlrpc\.php|wp-login\.php|wp-admin|admin\.php)', text, re.MULTILINE
    )
    assert probing and found.probe_sources == len(set(probing))
    assert all(Counter(probing)[ip] == count for ip, count in found.probes)
