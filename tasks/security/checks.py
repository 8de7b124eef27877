"""The security health check's steps as Prefect tasks, each returning CheckResults.

One result per configured file, report, endpoint or URL; a file that cannot be read becomes an
`error` result for that file only. Findings are judged: a login that succeeded after a brute
force fails, and so does a brute force in an auth log seen within the last
`brute_force.active_minutes` (60 by default: under way); an older brute force in the window,
enumeration and attack traffic warn; a critical vulnerability fails. An auth log with no line in
the window is an `error` (nothing was measured: the file was rotated away, is the wrong one, or
its logger stopped), as is a file mostly not in syslog format.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from opsbook.checks import AlertType, Check, declare
from opsbook.config import EstateConfig
from opsbook.config.security import CertificateTarget, SecurityConfig
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, stopwatch, utcnow
from opsbook.tasks.security.accesslog import parse_access_log
from opsbook.tasks.security.authlog import parse_auth_log
from opsbook.tasks.security.certificates import CERTIFICATE, inspect_endpoint, judge_certificate
from opsbook.tasks.security.findings import (
    AuthFindings,
    Coverage,
    access_findings,
    auth_findings,
    coverage,
    in_window,
    web_login_failures,
)
from opsbook.tasks.security.headers import SECURITY_HEADERS, check_headers
from opsbook.tasks.security.logfile import ParsedLog
from opsbook.tasks.security.vulns import count_by_severity, read_report

AUTH_FAILURES = declare(
    "security.auth_failures",
    title="Failed authentications",
    component="security",
    alert_type=AlertType.SECURITY,
    severity=Severity.P1,
    unit="failures",
    on_fail=(
        "A login succeeded after a brute force: treat the account as compromised; lock it, rotate its keys and run "
        "`opsbook security incident --type brute_force --ip <source> --severity critical`. A brute force under way: "
        "block the source now (`opsbook security incident --type brute_force --ip <source>`, dry run first) and "
        "confirm fail2ban/sshd limits."
    ),
    on_warn=(
        "Brute force earlier in the window or user enumeration: confirm fail2ban/sshd limits, then block the source "
        "(`opsbook security incident --type brute_force --ip <source>`, dry run first)."
    ),
    runbook_steps=(
        "Security Health Check / Analyzing failed authentications",
        "System Health Validation (08:00 UTC) / Checking security status",
        "Monthly System Optimization / Reviewing security configurations",
    ),
)

WEB_LOGINS = declare(
    "security.web_logins",
    title="Failed web logins",
    component="security",
    alert_type=AlertType.SECURITY,
    severity=Severity.P1,
    unit="failures",
    on_fail="A web login succeeded after many failures: force a password reset and review the session.",
    on_warn="Repeated failed web logins: rate-limit the login path and block the source if it persists.",
    runbook_steps=(
        "Security Health Check / Analyzing failed authentications",
        "System Health Validation (08:00 UTC) / Checking security status",
        "Monthly System Optimization / Reviewing security configurations",
    ),
)

SUSPICIOUS_ACTIVITY = declare(
    "security.suspicious_activity",
    title="Suspicious activity",
    component="security",
    alert_type=AlertType.SECURITY,
    severity=Severity.P1,
    unit="requests",
    on_fail="Review the attack requests in the report and open a security incident for the source.",
    on_warn=(
        "Attack traffic, scanners or error bursts: check the targeted paths returned no data (`opsbook security "
        "incident --type injection_attempt --ip <source>`)."
    ),
    runbook_steps=(
        "Security Health Check / Reviewing suspicious activities",
        "System Health Validation (08:00 UTC) / Checking security status",
        "Monthly System Optimization / Reviewing security configurations",
    ),
)

VULNERABILITIES = declare(
    "security.vulnerabilities",
    title="Vulnerability status",
    component="security",
    alert_type=AlertType.SECURITY,
    severity=Severity.P1,
    unit="vulnerabilities",
    on_fail="Critical vulnerabilities: upgrade the named packages today and redeploy; re-run the audit.",
    on_warn="High or unrated vulnerabilities, or a stale report: plan the upgrades this week and re-run the audit.",
    runbook_steps=(
        "Security Health Check / Checking security scan results",
        "Security Health Check / Reviewing vulnerability status",
        "System Health Validation (08:00 UTC) / Checking security status",
        "Monthly System Optimization / Reviewing security configurations",
    ),
)

# The daily step's own id: it says so when no security check is configured at all.
SECURITY_STATUS = declare(
    "security.status",
    title="Security status",
    component="security",
    alert_type=AlertType.SECURITY,
    severity=Severity.P1,
)
MOSTLY_UNPARSED = 0.5  # above this share of unparsed lines the file is not the format we think


def _guarded(check: Check, target: str, measure: Callable[[], CheckResult]) -> CheckResult:
    """One target's result; its exception becomes an error result for that target only."""
    started = utcnow()
    try:
        with stopwatch() as timing:
            result = measure()
        return result.model_copy(update={"started_at": started, "duration_ms": timing["ms"]})
    except Exception as error:
        return check.error(target, error, started_at=started)


def _skipped(check: Check, what: str) -> list[CheckResult]:
    return [check.skipped(f"no {what} configured")]


def _unreadable(parsed: ParsedLog) -> str | None:
    if parsed.total_lines and parsed.unparsed_lines / parsed.total_lines > MOSTLY_UNPARSED:
        return (
            f"{parsed.unparsed_lines} of {parsed.total_lines} lines are not in the expected format "
            f"(first: {parsed.unparsed_samples[0][1][:80]!r}); wrong file or log format?"
        )
    return None


def _window(config: SecurityConfig, now: datetime) -> tuple[datetime, str]:
    return now - timedelta(hours=config.window_hours), f"{config.window_hours:g} h"


def _when(iso: str | None) -> str:
    return f"{datetime.fromisoformat(iso):%Y-%m-%d %H:%M} UTC" if iso else "?"


def _nothing_in_window(parsed: ParsedLog, seen: Coverage, span: str) -> str:
    """Why an auth log measured nothing: empty, or every line outside the window (and how old)."""
    if not parsed.total_lines:
        return f"no line in the last {span}: the file is empty (log rotated or logger stopped?)"
    return (
        f"no line in the last {span}: the file's {seen.lines_outside_window} lines run from {_when(seen.first_seen)} "
        f"to {_when(seen.last_seen)} (log rotated away, wrong file or logger stopped?)"
    )


def judge_auth(
    check: Check,
    target: str,
    parsed: ParsedLog,
    found: AuthFindings,
    span: str,
    seen: Coverage | None = None,
    active_span: str = "",
) -> CheckResult:
    """Success after brute force fails; brute force or user enumeration warns; else ok.

    With `seen` (auth logs): a brute force marked active (within `active_span`) fails too, a file
    with no line in the window is an error, and the message states the file's time range and how
    many lines fell outside the window.
    """
    if problem := _unreadable(parsed):
        return check.error(target, problem, details=parsed.account())
    if seen is not None and not seen.lines_in_window:
        message = _nothing_in_window(parsed, seen, span)
        return check.error(target, message, details={**seen.details(), "window": span, "lines": parsed.account()})
    active = [b for b in found.brute_force if b.get("active")] if seen is not None else []
    earlier = [b for b in found.brute_force if b not in active]
    flagged = found.brute_force or found.enumeration
    status = Status.FAIL if found.compromised or active else Status.WARN if flagged else Status.OK
    sources = len(found.failures_by_ip)
    parts = [
        f"{found.failures} failed logins in {span}"
        + (f" ({found.pam_attempts} known from PAM records alone)" if found.pam_attempts else "")
        + (f", most from {found.failures_by_ip[0][0]} ({found.failures_by_ip[0][1]})" if sources else "")
    ]
    if found.compromised:
        first = found.compromised[0]
        parts.insert(
            0, f"LOGIN SUCCEEDED for {first['user']} from {first['ip']} after {first['failures_before']} failures"
        )
    if active:
        parts.insert(
            1 if found.compromised else 0,
            f"BRUTE FORCE UNDER WAY (last {active_span}) from {len(active)} source(s): "
            + ", ".join(str(b["ip"]) for b in active[:3]),
        )
    if earlier:
        parts.append(
            f"brute force {'earlier ' if seen is not None else ''}from {len(earlier)} "
            f"{'source' if seen is not None else 'IP'}(s): " + ", ".join(str(b["ip"]) for b in earlier[:3])
        )
    if found.enumeration:
        parts.append(f"user enumeration from {len(found.enumeration)} IP(s)")
    if seen is not None:
        parts.append(
            f"file covers {_when(seen.first_seen)} to {_when(seen.last_seen)}"
            + (
                f", {seen.lines_outside_window} of {parsed.parsed_lines} lines outside the window"
                if seen.lines_outside_window
                else ""
            )
        )
    if parsed.unparsed_lines:
        parts.append(f"{parsed.unparsed_lines} of {parsed.total_lines} lines not parsed")
    details = {**found.details(), "window": span, "lines": parsed.account()}
    if seen is not None:
        details |= seen.details() | {"active_window": active_span}
    return check.result(
        target, status, value=found.failures, unit="failures", message="; ".join(parts), details=details
    )


def failed_authentication_results(config: EstateConfig, now: datetime | None = None) -> list[CheckResult]:
    """sshd/PAM failures per auth log, and 401/403 on login paths per access log, in the window."""
    security = config.security
    now = now or utcnow()
    since, span = _window(security, now)
    rule = security.brute_force

    def from_auth_log(path: Path) -> CheckResult:
        parsed = parse_auth_log(path, now, security.syslog_timezone)
        active_since = now - timedelta(minutes=rule.active_minutes)
        found = auth_findings(in_window(parsed.events, since, now), rule, active_since)
        seen = coverage(parsed.events, since, now)
        return judge_auth(AUTH_FAILURES, str(path), parsed, found, span, seen, f"{rule.active_minutes:g} min")

    def from_access_log(path: Path) -> CheckResult:
        parsed = parse_access_log(path)
        logins = web_login_failures(in_window(parsed.events, since, now), security.login_paths)
        return judge_auth(WEB_LOGINS, str(path), parsed, auth_findings(logins, rule), span)

    results = [_guarded(AUTH_FAILURES, str(p), partial(from_auth_log, p)) for p in security.auth_logs]
    results += [_guarded(WEB_LOGINS, str(p), partial(from_access_log, p)) for p in security.access_logs]
    return results or _skipped(AUTH_FAILURES, "auth_logs or access_logs")


def suspicious_activity_results(config: EstateConfig, now: datetime | None = None) -> list[CheckResult]:
    """Attack signatures, scanners, probes and error bursts per access log, in the window."""
    security = config.security
    now = now or utcnow()
    since, span = _window(security, now)

    def review(path: Path) -> CheckResult:
        parsed = parse_access_log(path)
        if problem := _unreadable(parsed):
            return SUSPICIOUS_ACTIVITY.error(str(path), problem, details=parsed.account())
        found = access_findings(in_window(parsed.events, since, now), security.error_burst)
        flagged = bool(found.attack_requests or found.scanners or found.probes or found.bursts)
        parts = [f"{found.requests} requests in {span}"]
        if found.attack_requests:
            kinds = ", ".join(f"{name} {count}" for name, count in found.attacks.items())
            parts.append(f"{found.attack_requests} attack requests ({kinds}), top source {found.attack_ips[0][0]}")
        if found.scanners:
            parts.append(f"scanner agents from {found.scanner_sources} IP(s)")
        if found.probes:
            parts.append(f"probe paths from {found.probe_sources} IP(s)")
        if found.bursts:
            parts.append(f"4xx/5xx bursts from {len(found.bursts)} IP(s)")
        if parsed.unparsed_lines:
            parts.append(f"{parsed.unparsed_lines} of {parsed.total_lines} lines not parsed")
        return SUSPICIOUS_ACTIVITY.result(
            str(path),
            Status.WARN if flagged else Status.OK,
            value=found.attack_requests,
            unit="requests",
            message="; ".join(parts),
            details={**found.details(), "window": span, "lines": parsed.account()},
        )

    results = [_guarded(SUSPICIOUS_ACTIVITY, str(p), partial(review, p)) for p in security.access_logs]
    return results or _skipped(SUSPICIOUS_ACTIVITY, "access_logs")


def vulnerability_results(config: EstateConfig, now: datetime | None = None) -> list[CheckResult]:
    """Counts by severity per report; fail_on severities fail, warn_on warn, a stale report warns."""
    policy = config.security.vulnerabilities
    now = now or utcnow()

    def ingest(path: Path) -> CheckResult:
        kind, found = read_report(path)
        counts = count_by_severity(found)
        age_days = (now.timestamp() - path.stat().st_mtime) / 86400
        failing = sum(counts.get(s, 0) for s in policy.fail_on)
        warning = sum(counts.get(s, 0) for s in policy.warn_on)
        status = Status.FAIL if failing else Status.WARN if warning or age_days > policy.max_age_days else Status.OK
        summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"
        message = f"{len(found)} vulnerabilities ({summary}) in a {kind} report"
        if age_days > policy.max_age_days:
            message += f"; report is {age_days:.0f} days old"
        return VULNERABILITIES.result(
            str(path),
            status,
            value=len(found),
            unit="vulnerabilities",
            message=message,
            details={
                "format": kind,
                "by_severity": counts,
                "age_days": round(age_days, 1),
                "findings": [v.__dict__ for v in found[:50]],
            },
        )

    results = [_guarded(VULNERABILITIES, str(p), partial(ingest, p)) for p in policy.reports]
    return results or _skipped(VULNERABILITIES, "vulnerabilities.reports")


async def certificate_results(config: EstateConfig) -> list[CheckResult]:
    """Every configured endpoint's certificate, handshakes in threads, concurrently."""
    security = config.security

    def one(target: CertificateTarget) -> CheckResult:
        return _guarded(
            CERTIFICATE,
            target.endpoint,
            lambda: judge_certificate(
                target,
                security.certificate_policy,
                inspect_endpoint(target, security.certificate_policy, config.http.ca_bundle),
            ),
        )

    results = await asyncio.gather(*(asyncio.to_thread(one, t) for t in security.certificates))
    return list(results) or _skipped(CERTIFICATE, "certificates")


def header_urls(config: EstateConfig) -> list[str]:
    policy = config.security.headers
    urls = [str(p.url) for p in config.platforms] if policy.check_platforms else []
    return list(dict.fromkeys([*urls, *policy.urls]))


async def header_results(config: EstateConfig) -> list[CheckResult]:
    urls = header_urls(config)
    if not urls:
        return _skipped(SECURITY_HEADERS, "platforms or headers.urls")
    return await check_headers(urls, config.security.headers, config.http)


@task(name="analyze-failed-authentication", timeout_seconds=600, cache_policy=NO_CACHE)
def analyze_failed_authentication(config: EstateConfig) -> list[CheckResult]:
    """Runbook step 2: failed logins per IP and user, brute force, enumeration."""
    return failed_authentication_results(config)


@task(name="review-suspicious-activity", timeout_seconds=600, cache_policy=NO_CACHE)
def review_suspicious_activity(config: EstateConfig) -> list[CheckResult]:
    """Runbook step 3: injection, traversal, scanners, probes and error bursts."""
    return suspicious_activity_results(config)


@task(name="check-vulnerability-status", timeout_seconds=300, cache_policy=NO_CACHE)
def check_vulnerability_status(config: EstateConfig) -> list[CheckResult]:
    """Runbook steps 4-5: the latest dependency-audit reports, by severity."""
    return vulnerability_results(config)


@task(name="check-tls-certificates", timeout_seconds=300, cache_policy=NO_CACHE)
async def check_tls_certificates(config: EstateConfig) -> list[CheckResult]:
    """Runbook step 6 (certificate policy): expiry, name, chain, protocol, signature."""
    return await certificate_results(config)


@task(name="check-security-headers", timeout_seconds=300, cache_policy=NO_CACHE)
async def check_security_headers(config: EstateConfig) -> list[CheckResult]:
    """Runbook step 6 (header policy): HSTS, CSP, X-Content-Type-Options, X-Frame-Options."""
    return await header_results(config)


@task(name="check-security-status", timeout_seconds=900, cache_policy=NO_CACHE)
async def check_security_status(config: EstateConfig) -> list[CheckResult]:
    """The daily checklist's security step: every security check, in one step."""
    now = utcnow()
    logs = await asyncio.to_thread(
        lambda: (
            failed_authentication_results(config, now)
            + suspicious_activity_results(config, now)
            + vulnerability_results(config, now)
        )
    )
    certificates, headers = await asyncio.gather(certificate_results(config), header_results(config))
    return [r for r in [*logs, *certificates, *headers] if r.status is not Status.SKIPPED] or _skipped(
        SECURITY_STATUS, "security checks"
    )
