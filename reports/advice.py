"""The next step an operator should take for a flagged result, in the runbook's words."""

from __future__ import annotations

from opsbook.results import CheckResult, Status

# check id -> (what to do on fail, what to do on warn). Later checks add their own lines.
_ADVICE: dict[str, tuple[str, str]] = {
    "platform.health": (
        "Open the platform's dashboard and recent deploys; if it stays down for 15 minutes, "
        "open a P1 incident (`opsbook incident open`) and follow the escalation matrix.",
        "Latency is above target: compare with the 7-day baseline and run a performance investigation.",
    ),
    "security.auth_failures": (
        "A login succeeded after a brute force: treat the account as compromised; lock it, rotate its keys and run "
        "`opsbook security incident --type brute_force --ip <source> --severity critical`.",
        "Brute force or user enumeration: confirm fail2ban/sshd limits, then block the source "
        "(`opsbook security incident --type brute_force --ip <source>`, dry run first).",
    ),
    "security.web_logins": (
        "A web login succeeded after many failures: force a password reset and review the session.",
        "Repeated failed web logins: rate-limit the login path and block the source if it persists.",
    ),
    "security.suspicious_activity": (
        "Review the attack requests in the report and open a security incident for the source.",
        "Attack traffic, scanners or error bursts: check the targeted paths returned no data "
        "(`opsbook security incident --type injection_attempt --ip <source>`).",
    ),
    "security.vulnerabilities": (
        "Critical vulnerabilities: upgrade the named packages today and redeploy; re-run the audit.",
        "High or unrated vulnerabilities, or a stale report: plan the upgrades this week and re-run the audit.",
    ),
    "security.certificate": (
        "Renew or fix the certificate now (expiry under 7 days, wrong name, untrusted chain, old TLS or weak hash).",
        "The certificate expires within 30 days: renew it and check the automation (certbot/ACME) is running.",
    ),
    "security.headers": (
        "Add the missing security headers in the web server or application and redeploy.",
        "Strengthen the weak header values (HSTS max-age of at least 180 days, nosniff, DENY/SAMEORIGIN).",
    ),
}

_GENERIC_ERROR = "The check could not measure: fix the cause in the message (config, credentials, reachability)."
_GENERIC_FAIL = "Past the critical threshold: investigate now and escalate per the matrix."
_GENERIC_WARN = "Past the warning threshold: watch the trend and plan a fix."


def next_step(result: CheckResult) -> str:
    advice = _ADVICE.get(result.check)
    if result.status is Status.ERROR:
        return _GENERIC_ERROR
    if result.status is Status.FAIL:
        return advice[0] if advice else _GENERIC_FAIL
    return advice[1] if advice else _GENERIC_WARN
