"""Alert rules validated (weekly monitoring maintenance): every rule can fire and lands somewhere.

The config loader already rejects a route naming an unknown channel; this review also catches
what loads fine but is wrong: a route no alert can reach (a catch-all above it stops the walk)
and an alert type and severity that no channel would hear about.
"""

from __future__ import annotations

from itertools import product

from prefect import task
from prefect.cache_policies import NO_CACHE

from opsbook.alerts import Alert, channels_for
from opsbook.checks import AlertType, declare
from opsbook.config.notifications import ALERT_TYPES, NotificationsConfig
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, utcnow

COMPONENT = "monitoring"

ALERT_RULES = declare(
    "alerts.rules",
    title="Alert rules",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P3,
    on_fail=(
        "Some alerts reach no channel or name a missing one: fix `notifications.routes`/`default_channels`, then "
        "`opsbook validate`."
    ),
    on_warn=(
        "A route can never match (a catch-all above it stops the walk): reorder the routes or add `continue: true`."
    ),
    runbook_steps=("Weekly Monitoring System Check / Validating alert rules",),
)
SEVERITIES = ("P0", "P1", "P2", "P3")


def _probe(alert_type: str, severity: str) -> Alert:
    """An alert with no component or labels: what a route matching only type and severity sees."""
    now = utcnow()
    return Alert(
        fingerprint="probe",
        check="probe",
        target="probe",
        component="",
        alert_type=alert_type,
        severity=severity,
        state="firing",
        status="fail",
        message="",
        labels={},
        count=1,
        first_seen=now,
        last_seen=now,
        resolved_at=None,
        maintenance=False,
        notified_at=None,
        resolved_notified=False,
    )


def rule_findings(config: NotificationsConfig) -> list[tuple[Status, str, str]]:
    """(status, where, what is wrong) for every problem of the routing rules."""
    known = {c.name for c in config.channels}
    findings: list[tuple[Status, str, str]] = []
    referred = [(f"routes[{i}]", name) for i, r in enumerate(config.routes) for name in r.channels]
    referred += [("default_channels", name) for name in config.default_channels or []]
    findings += [
        (Status.FAIL, where, f"names channel {name!r}, which does not exist")
        for where, name in referred
        if name not in known
    ]
    for i, route in enumerate(config.routes):
        match = route.match
        if not (match.types or match.severities or match.components or match.labels) and not route.continue_:
            findings += [
                (Status.WARN, f"routes[{j}]", f"never reached: routes[{i}] matches every alert and stops")
                for j in range(i + 1, len(config.routes))
            ]
            break
    deaf = [
        f"{t}/{s}"
        for t, s in product(ALERT_TYPES, SEVERITIES)
        if not [c for c in channels_for(_probe(t, s), config) if c in known]
    ]
    if deaf:
        findings.append((Status.FAIL, "routes", f"no channel hears {len(deaf)} alert kind(s): {', '.join(deaf)}"))
    return findings


@task(name="validate-alert-rules", cache_policy=NO_CACHE, timeout_seconds=60)
def validate_alert_rules(config: NotificationsConfig) -> list[CheckResult]:
    """The runbook's `validate-alert-rules.sh`: one result per problem, or one `ok`."""
    findings = rule_findings(config)
    if not findings:
        return [
            ALERT_RULES.result(
                "notifications",
                Status.OK,
                message=f"{len(config.routes)} route(s) and {len(config.channels)} channel(s) consistent",
            )
        ]
    return [ALERT_RULES.result(where, status, message=what) for status, where, what in findings]
