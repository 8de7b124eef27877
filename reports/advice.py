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
    "database.connection": (
        "The database is down or refusing opsbook: check the server, then escalate (runbook: --service database "
        "--severity high).",
        "Connecting took long: check the server's load and network.",
    ),
    "database.connections": (
        "Connections are nearly exhausted: find the client holding them (details: by state) and add a pooler.",
        "Connection use is high: check for leaks (idle sessions) before raising max_connections.",
    ),
    "database.idle_in_transaction": (
        "Terminate the oldest idle transaction (pg_terminate_backend(pid)) and fix the client that left it open.",
        "A session sits idle in a transaction: find its application (details) before it blocks VACUUM.",
    ),
    "database.blocked_queries": (
        "Queries wait on a lock: find the blocking pid (details) and end its transaction.",
        "Queries are waiting on locks: watch the blocking pid (details).",
    ),
    "database.long_running_queries": (
        "Cancel the runaway statement (pg_cancel_backend(pid)) if it is not expected.",
        "A statement runs long: check it is expected (a report, a migration).",
    ),
    "database.slow_queries": (
        "Queries average far above 1000 ms: EXPLAIN (ANALYZE, BUFFERS) the top one and index or rewrite it.",
        "Queries average over the runbook's 1000 ms: EXPLAIN the top one; the weekly report lists them.",
    ),
    "database.size": (
        "The database grows fast: find the growing tables and check disk headroom now.",
        "Growth is above usual: check disk headroom and the capacity trend.",
    ),
    "database.cache_hit_rate": (
        "Most reads miss the cache: the working set no longer fits memory; plan more shared_buffers/RAM.",
        "Cache hit rate is under 99 %: watch it; the weekly report recommends a change with evidence.",
    ),
    "database.invalid_indexes": (
        "Rebuild the invalid index: `opsbook run database-maintenance --apply`.",
        "An invalid index costs writes and helps no read: `opsbook run database-maintenance --apply` rebuilds it.",
    ),
    "database.unused_indexes": (
        "Unused indexes cost every write: confirm no rare job needs them, then DROP INDEX CONCURRENTLY.",
        "Unused indexes cost every write: the weekly report lists each with its size and scan count.",
    ),
    "database.duplicate_indexes": (
        "Drop the duplicate index; the index covering it serves the same queries.",
        "A duplicate index costs every write: drop it (the details name the index covering it).",
    ),
    "database.missing_indexes": (
        "A large table is read by sequential scans: index the columns its queries filter by.",
        "A large table is read mostly by sequential scans: EXPLAIN its queries and consider an index.",
    ),
    "database.xid_wraparound": (
        "Transaction-ID wraparound is near: VACUUM (FREEZE) the oldest tables now and escalate (P1).",
        "Transaction IDs are ageing: check autovacuum keeps up on the oldest tables.",
    ),
    "database.sequences": (
        "A sequence is about to run out: move the column to bigint now.",
        "A sequence has used most of its range: plan the move to bigint.",
    ),
    "database.vacuum_analyze": (
        "Tables have waited two days for VACUUM/ANALYZE: run them in the maintenance window, tune autovacuum.",
        "Tables are due for VACUUM/ANALYZE: the weekly maintenance analyzes them.",
    ),
    "database.replication_lag": (
        "The standby lags far behind: check its network, disk and replay conflicts; failover would lose data.",
        "Replication lags: watch the trend.",
    ),
    "database.replication_slots": (
        "An inactive slot retains WAL: drop it if its consumer is gone (pg_drop_replication_slot).",
        "An inactive replication slot retains WAL: drop it if its consumer is gone.",
    ),
    "database.maintenance.reindex": (
        "An index could not be rebuilt: read the reason (often duplicate rows for a unique index), fix, re-run.",
        "Invalid indexes remain: re-run the maintenance with apply.",
    ),
    "app.web_vitals": (
        "Core Web Vitals are poor: check the last frontend deploy and the largest assets; roll back if it regressed.",
        "A Core Web Vital is past its 'good' level: compare with the 7-day trend and plan a frontend fix.",
    ),
    "app.api_performance": (
        "API response time or error rate is critical: start a performance investigation and check the database.",
        "API performance is past its target: compare with the baseline and look at the slowest endpoints.",
    ),
    "app.engagement": (
        "Engagement figures are past their configured limit: tell the product owner.",
        "Engagement is past its warning level: watch the trend.",
    ),
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
    "backup.completion": (
        "The newest backup is missing, empty, stale or much smaller than the last: check the backup job's log "
        "and run `opsbook backup create` now if it did not run.",
        "The newest backup is getting old: check that the backup job is scheduled.",
    ),
    "backup.integrity": (
        "Do not trust this backup: take a new one (`opsbook backup create`) and find what damaged it "
        "(disk, copy, job).",
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
    "resource.cpu": (
        "CPU is saturated: find the busiest processes or pods, scale out or up, and check for a runaway job.",
        "CPU is above 80 %: compare with the 7-day baseline and plan capacity before it turns critical.",
    ),
    "resource.memory": (
        "Memory is nearly exhausted: look for leaks or oversized caches, restart or scale before the OOM killer acts.",
        "Memory is above 80 %: check its growth over the last days and plan more headroom.",
    ),
    "resource.disk": (
        "The disk is nearly full: clean old logs and backups (dry-run first) or grow the volume now.",
        "Disk is above 80 %: run the log cleanup and check the capacity projection for when it fills.",
    ),
    "capacity.projection": (
        "The trend reaches the critical level within the horizon: schedule the recommended scaling now.",
        "The trend reaches the warning level within the horizon: plan the recommended scaling.",
    ),
    "performance.review": (
        "p95 rose past the fail level against the 7-day baseline: check recent deploys and run a performance "
        "investigation.",
        "A regression or anomaly against the 7-day baseline: read the evidence in the details and watch "
        "tomorrow's review.",
    ),
    "slo.error_budget": (
        "The error budget is burning fast (page) or spent: stop risky changes and work the incident.",
        "The error budget burns slowly or is low: open a ticket and prioritise reliability work.",
    ),
    "alerts.rules": (
        "Some alerts reach no channel or name a missing one: fix `notifications.routes`/`default_channels`, "
        "then `opsbook validate`.",
        "A route can never match (a catch-all above it stops the walk): reorder the routes or add `continue: true`.",
    ),
    "alerts.delivery": (
        "The test alert did not arrive: check the channel's URL or credentials and run `opsbook notify test`.",
        "The test alert needed retries: check the channel's endpoint health.",
    ),
    "alerts.noise": (
        "A noisy alert: adopt the suggested threshold in `thresholds`, or silence it while it is fixed.",
        "A flapping or mostly-false alert: adopt the suggested threshold (held for the suggested results) in "
        "`thresholds`, or silence it while it is fixed.",
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
