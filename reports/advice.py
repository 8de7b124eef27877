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
    "backup.completion": (
        "The newest backup is missing, empty, stale or much smaller than the last: check the backup job's log "
        "and run `opsbook backup create` now if it did not run.",
        "The newest backup is getting old: check that the backup job is scheduled.",
    ),
    "backup.integrity": (
        "Do not trust this backup: take a new one (`opsbook backup create`) and find what damaged it (disk, copy, job).",
        "Backup integrity needs a look: read the message.",
    ),
    "backup.restore": (
        "The restore test failed: the backup cannot be relied on for recovery. Read the message, fix the dump "
        "or the restore server, and re-run the verification.",
        "The restore is slower than the RTO target: plan for a faster restore (parallel jobs, smaller dumps).",
    ),
    "backup.rpo": (
        "The data in the backup is older than the RPO allows: back up more often or check the backup job.",
        "The achieved RPO is near its limit: check the backup schedule.",
    ),
    "backup.encryption": (
        "A backup that must be encrypted is readable plaintext, or the configured key cannot decrypt it: "
        "fix the backup job's encryption and rotate the exposed backup.",
        "An unencrypted backup was found where encryption is optional: consider encrypting.",
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
