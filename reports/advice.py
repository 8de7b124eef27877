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
    "capacity.projection": (
        "The trend reaches the critical level within the horizon: schedule the recommended scaling now.",
        "The trend reaches the warning level within the horizon: plan the recommended scaling.",
    ),
    "performance.review": (
        "p95 rose past the fail level against the 7-day baseline: check recent deploys and run a performance "
        "investigation.",
        "A regression or anomaly against the 7-day baseline: read the evidence in the details and watch tomorrow's review.",
    ),
    "slo.error_budget": (
        "The error budget is burning fast (page) or spent: stop risky changes and work the incident.",
        "The error budget burns slowly or is low: open a ticket and prioritise reliability work.",
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
