"""The runbook's daily security health check, step by step.

1. failed authentication analysis, 2. suspicious activity review, 3. vulnerability status
(security scan results), 4. TLS certificates and 5. security headers (policy compliance).
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from opsbook.flows.checklist import Step, Trend, final_state, finish_checklist, open_checklist, run_steps
from opsbook.reports import Section, Table
from opsbook.results import CheckResult
from opsbook.tasks.security.certificates import CERTIFICATE
from opsbook.tasks.security.checks import (
    AUTH_FAILURES,
    SUSPICIOUS_ACTIVITY,
    VULNERABILITIES,
    analyze_failed_authentication,
    check_security_headers,
    check_tls_certificates,
    check_vulnerability_status,
    review_suspicious_activity,
)
from opsbook.tasks.security.headers import SECURITY_HEADERS

FLOW_NAME = "security-health-check"
ARTIFACT_KEY = "security-report"


def _tables(section: Section) -> None:
    """Figures an analyst asks for next: who failed most, who attacked, what is vulnerable."""
    for r in section.results:
        d = r.details
        if d.get("failures_by_ip"):
            section.tables.append(
                Table(f"Failed logins by source: {r.target}", ["source", "failures"], d["failures_by_ip"])
            )
        if d.get("brute_force"):
            # Only auth logs judge whether a brute force is under way (`active_window`).
            judged = "active_window" in d
            section.tables.append(
                Table(
                    f"Brute force: {r.target}",
                    ["source", "peak in window", "failures", "first", "last"]
                    + ([f"in the last {d['active_window']}"] if judged else []),
                    [
                        [b["ip"], b["peak"], b["failures"], b["first"], b["last"]]
                        + (["yes" if b["active"] else "no"] if judged else [])
                        for b in d["brute_force"]
                    ],
                )
            )
        if d.get("compromised"):
            section.tables.append(
                Table(
                    f"Logins that succeeded after failures: {r.target}",
                    ["IP", "user", "at", "failures before"],
                    [[c["ip"], c["user"], c["at"], c["failures_before"]] for c in d["compromised"]],
                )
            )
        if d.get("attack_samples"):
            section.tables.append(
                Table(
                    f"Attack requests (first {len(d['attack_samples'])}): {r.target}",
                    ["IP", "at", "status", "signatures", "path"],
                    [
                        [a["ip"], a["at"], a["status"], ", ".join(a["signatures"]), a["path"]]
                        for a in d["attack_samples"]
                    ],
                )
            )
        if r.check == VULNERABILITIES.id and d.get("by_severity"):
            section.tables.append(
                Table(
                    f"Vulnerabilities by severity: {r.target}",
                    list(d["by_severity"]),
                    [list(d["by_severity"].values())],
                )
            )


def _line_intro(results: list[CheckResult]) -> str:
    """How much of each log was read, so a reader can trust an empty finding."""
    parts = [
        f"{r.target}: {r.details['lines']['parsed_lines']:,} of {r.details['lines']['total_lines']:,} lines parsed"
        for r in results
        if "lines" in r.details
    ]
    return "Lines read: " + "; ".join(parts) + "." if parts else ""


@flow(name=FLOW_NAME, description="The runbook's daily security health check.")
def security_health_check(config_path: str = "opsbook.yaml") -> State:
    config, run_id, started_at = open_checklist(config_path)

    sections = run_steps(
        [
            Step(
                "Failed authentication",
                analyze_failed_authentication,
                (config,),
                check=AUTH_FAILURES,
                trends=[Trend(AUTH_FAILURES.id, "Failed logins in the window, 30 days", "failures")],
            ),
            Step("Suspicious activity", review_suspicious_activity, (config,), check=SUSPICIOUS_ACTIVITY),
            Step("Vulnerability status", check_vulnerability_status, (config,), check=VULNERABILITIES),
            Step(
                "TLS certificates",
                check_tls_certificates,
                (config,),
                check=CERTIFICATE,
                trends=[
                    Trend(
                        CERTIFICATE.id,
                        "Certificate days left, 30 days",
                        "days",
                        config.security.certificate_policy.days_left,
                    )
                ],
            ),
            Step("Security headers", check_security_headers, (config,), check=SECURITY_HEADERS),
        ],
        config,
    )
    for section in sections:
        _tables(section)
        section.intro = _line_intro(section.results)

    outcome = finish_checklist(
        config=config,
        flow=FLOW_NAME,
        title="Security health check",
        kind="security",
        artifact_key=ARTIFACT_KEY,
        run_id=run_id,
        started_at=started_at,
        sections=sections,
    )
    return final_state(outcome)
