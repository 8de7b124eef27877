"""Security headers on platform URLs: HSTS, CSP, X-Content-Type-Options, X-Frame-Options.

Fetched with `opsbook.tasks.http.fetch` like every HTTP call; a missing required header fails, a weak
value (a short HSTS max-age, a framing policy that allows anyone) warns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import httpx

from opsbook.checks import AlertType, declare
from opsbook.config import HttpSettings
from opsbook.config.security import HeaderPolicy
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, utcnow
from opsbook.tasks.http import FetchFailure, fetch, sweep

COMPONENT = "security"

SECURITY_HEADERS = declare(
    "security.headers",
    title="Security headers",
    component=COMPONENT,
    alert_type=AlertType.SECURITY,
    severity=Severity.P1,
    unit="missing",
    on_fail="Add the missing security headers in the web server or application and redeploy.",
    on_warn="Strengthen the weak header values (HSTS max-age of at least 180 days, nosniff, DENY/SAMEORIGIN).",
    runbook_steps=(
        "Security Health Check / Checking security policy compliance",
        "System Health Validation (08:00 UTC) / Checking security status",
        "Monthly System Optimization / Reviewing security configurations",
    ),
)
_MAX_AGE = re.compile(r"max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


def header_problems(headers: Mapping[str, str], policy: HeaderPolicy) -> tuple[list[str], list[str]]:
    """(missing, weak): the required headers absent, and the present ones with weak values."""
    lower = {k.lower(): v for k, v in headers.items()}
    missing = [name for name in policy.required if name.lower() not in lower]
    weak = []
    if (hsts := lower.get("strict-transport-security")) is not None:
        age = _MAX_AGE.search(hsts)
        if age is None or int(age.group(1)) < policy.hsts_min_max_age_s:
            weak.append(f"HSTS max-age below {policy.hsts_min_max_age_s} s")
    if (nosniff := lower.get("x-content-type-options")) is not None and nosniff.strip().lower() != "nosniff":
        weak.append(f"X-Content-Type-Options is {nosniff!r}, not 'nosniff'")
    if (frames := lower.get("x-frame-options")) is not None and frames.strip().upper() not in ("DENY", "SAMEORIGIN"):
        weak.append(f"X-Frame-Options is {frames!r}")
    if (csp := lower.get("content-security-policy")) is not None and re.search(r"default-src[^;]*\*", csp):
        weak.append("CSP default-src allows any origin")
    return missing, weak


def judge_headers(url: str, outcome, policy: HeaderPolicy) -> CheckResult:
    started_at = utcnow()
    if isinstance(outcome, FetchFailure):
        return SECURITY_HEADERS.result(
            url,
            Status.ERROR,
            message=f"could not fetch: {outcome.reason}",
            attempts=outcome.attempts,
            started_at=started_at,
        )
    missing, weak = header_problems(outcome.headers, policy)
    status = Status.FAIL if missing else Status.WARN if weak else Status.OK
    parts = ([f"missing {', '.join(missing)}"] if missing else []) + weak
    return SECURITY_HEADERS.result(
        url,
        status,
        value=len(missing),
        unit="missing",
        message="; ".join(parts) or "all required headers present",
        details={
            "status_code": outcome.status_code,
            "missing": missing,
            "weak": weak,
            "present": {k: v for k, v in outcome.headers.items() if k in {n.lower() for n in policy.required}},
        },
        attempts=outcome.attempts,
        started_at=started_at,
    )


async def check_headers(urls: list[str], policy: HeaderPolicy, settings: HttpSettings) -> list[CheckResult]:
    async def probe(client: httpx.AsyncClient, url: str) -> CheckResult:
        return judge_headers(url, await fetch(client, url, settings), policy)

    return await sweep(urls, probe, settings, on_error=SECURITY_HEADERS.error)
