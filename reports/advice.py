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
    "app.web_vitals": (
        "Core Web Vitals are poor: check the last frontend deploy and the largest assets; roll back if it regressed.",
        "A Core Web Vital is past its 'good' level: compare with the 7-day trend and plan a frontend fix.",
    ),
    "app.api_performance": (
        "API response time or error rate is critical: start a performance investigation and check the database.",
        "API performance is past its target: compare with the baseline and look at the slowest endpoints.",
    ),
    "app.engagement": ("Engagement figures are past their configured limit: tell the product owner.",
                       "Engagement is past its warning level: watch the trend."),
    "app.security": (
        "The security dashboard is critical: follow the security incident runbook now.",
        "Threat level or open vulnerabilities are up: review the security events and patch plan today.",
    ),
    "app.resources": (
        "A resource is nearly exhausted: scale up or free space now, then find what grew.",
        "A resource is above 80 %: plan capacity (scale, clean up logs, archive data) before it becomes critical.",
    ),
    "app.rum": (
        "Real users see poor page loads (p75): check the last frontend deploy and the CDN.",
        "RUM p75 is past its 'good' level: compare with lab vitals and the 7-day trend.",
    ),
    "app.error_rate": (
        "The 24-hour error rate is critical: open an incident and check recent deploys for a rollback.",
        "The 24-hour error rate is above 1 %: read the top errors in the logs and fix the largest source.",
    ),
    "cost.export_gate": (
        "Fix or re-export the named file (missing FOCUS column, wrong type, unconverted currency); "
        "it is left out of the review until then.",
        "Read the named rows with the provider: negative usage that is not a credit, or charges outside "
        "their billing period, usually mean a late correction.",
    ),
    "cost.export_overlap": (
        "Remove the older of the two exports of the same month from costs.exports.",
        "Remove the older of the two exports of the same month from costs.exports.",
    ),
    "cost.budget": (
        "The month is over budget: review the top movers with the service owners and agree cuts or a new budget.",
        "The month is close to its budget: check the top movers and the anomalous days before month end.",
    ),
    "cost.month_over_month": (
        "Cost grew sharply: find the top movers' owners and confirm the growth was planned.",
        "Cost grew past the warning level: confirm the top movers with their owners.",
    ),
    "cost.anomalies": (
        "Find what started on the flagged days (deploys, scaling, data transfer) in the service breakdown.",
        "Find what started on the flagged days (deploys, scaling, data transfer) in the service breakdown.",
    ),
    "cost.idle_resources": (
        "Stop, downsize or schedule the idle resources listed (dry-run first).",
        "Stop, downsize or schedule the idle resources listed (dry-run first).",
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
