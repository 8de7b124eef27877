"""Operational KPIs: uptime, MTTD and MTTR as distributions, alert accuracy, incidents resolved
within target and escalation rate, each judged against the runbook's targets (thresholds.kpis).

Incidents and alerts come in as small typed records, so the KPIs do not depend on how the
incident store lays out its tables; `uptime_from_history` reads the check results in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import great_expectations as gx
import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import select

from opsbook.alerts import episodes_since
from opsbook.checks import AlertType, Check, declare
from opsbook.config.thresholds import KpiTargets
from opsbook.escalation import Severity
from opsbook.quality import gate
from opsbook.results import CheckResult, Status, utcnow
from opsbook.store import HistoryStore, open_store
from opsbook.store.incident_models import IncidentRow
from opsbook.tasks.analytics.series import bucketed_outcomes
from opsbook.tasks.platforms import PLATFORM_HEALTH

COMPONENT = "kpis"

UPTIME = declare(
    "kpi.uptime",
    title="Uptime",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P3,
    unit="%",
)

# The support process's own figures: they warn a lead and page nobody (type other, P3).
MTTD = declare(
    "kpi.mttd",
    title="Mean time to detect",
    component=COMPONENT,
    alert_type=AlertType.OTHER,
    severity=Severity.P3,
    unit="min",
)

MTTR = declare(
    "kpi.mttr",
    title="Mean time to restore",
    component=COMPONENT,
    alert_type=AlertType.OTHER,
    severity=Severity.P3,
    unit="min",
)

WITHIN_TARGET = declare(
    "kpi.within_target",
    title="Restored within target",
    component=COMPONENT,
    alert_type=AlertType.OTHER,
    severity=Severity.P3,
    unit="%",
)

ESCALATION_RATE = declare(
    "kpi.escalation_rate",
    title="Escalation rate",
    component=COMPONENT,
    alert_type=AlertType.OTHER,
    severity=Severity.P3,
    unit="%",
)

ALERT_ACCURACY = declare(
    "kpi.alert_accuracy",
    title="Alert accuracy",
    component=COMPONENT,
    alert_type=AlertType.OTHER,
    severity=Severity.P3,
    unit="%",
)


@dataclass(frozen=True)
class IncidentRecord:
    id: str
    severity: str  # P0..P3
    started_at: datetime  # when the impact began
    detected_at: datetime  # when an alert or a person noticed it
    resolved_at: datetime | None = None
    escalated: bool = False


@dataclass(frozen=True)
class AlertRecord:
    id: str
    check: str
    fired_at: datetime
    resolved_at: datetime | None = None
    true_positive: bool | None = None  # marked when resolved; None = not judged


def uptime_from_history(store: HistoryStore, check: str, since: datetime, until: datetime) -> float | None:
    """Share of good check results in the period (answered ok or warn), in %."""
    outcomes = bucketed_outcomes(store, check, None, since, timedelta(days=1), until=until)
    total = int(outcomes["total"].sum())
    return float(outcomes["good"].sum()) / total * 100 if total else None


def _minutes(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (later - earlier).dt.total_seconds() / 60


def _insufficient(check: Check, why: str) -> CheckResult:
    return check.skipped(f"insufficient data: {why}", target="estate")


def _distribution(check: Check, name: str, minutes: pd.Series, target: float) -> CheckResult:
    """Median judged against the target, p90 shown beside it: one long outlier does not hide."""
    median, p90 = float(np.median(minutes)), float(np.quantile(minutes, 0.9))
    status = Status.WARN if median >= target or p90 > 2 * target else Status.OK
    return check.result(
        "estate",
        status,
        value=round(median, 1),
        unit="min",
        threshold=target,
        message=f"{name} median {median:.1f} min, p90 {p90:.1f} min (target < {target:g} min, "
        f"{len(minutes)} incidents)",
        details={"median": median, "p90": p90, "count": int(len(minutes))},
    )


def incident_gate(frame: pd.DataFrame) -> list[str]:
    E = gx.expectations
    return gate(
        frame,
        [
            E.ExpectColumnValuesToBeUnique(column="id", description="incident ids unique"),
            E.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="detected_at",
                column_B="started_at",
                or_equal=True,
                description="detected no earlier than started",
            ),
            E.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="resolved_at",
                column_B="detected_at",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
                description="resolved no earlier than detected",
            ),
        ],
    ).findings


def operational_kpis(
    incidents: Sequence[IncidentRecord], alerts: Sequence[AlertRecord], targets: KpiTargets, uptime_pct: float | None
) -> list[CheckResult]:
    """One result per KPI; a KPI without data says "insufficient data", never a made-up figure."""
    results = []
    if uptime_pct is None:
        results.append(_insufficient(UPTIME, "no check results in the period"))
    else:
        results.append(
            UPTIME.result(
                "estate",
                Status.OK if uptime_pct > targets.uptime_pct else Status.WARN,
                value=round(uptime_pct, 3),
                unit="%",
                threshold=targets.uptime_pct,
                message=f"uptime {uptime_pct:.3f} % (target > {targets.uptime_pct:g} %)",
            )
        )

    frame = pd.DataFrame([vars(i) for i in incidents])
    findings = incident_gate(frame) if not frame.empty else ["no incidents in the period"]
    if findings:
        for check in (MTTD, MTTR, WITHIN_TARGET, ESCALATION_RATE):
            results.append(_insufficient(check, "; ".join(findings)))
    else:
        results.append(
            _distribution(MTTD, "MTTD", _minutes(frame["detected_at"], frame["started_at"]), targets.mttd_minutes)
        )
        resolved = frame.dropna(subset=["resolved_at"])
        if resolved.empty:
            results.append(_insufficient(MTTR, "no resolved incidents"))
            results.append(_insufficient(WITHIN_TARGET, "no resolved incidents"))
        else:
            ttr = _minutes(resolved["resolved_at"], resolved["started_at"])
            results.append(_distribution(MTTR, "MTTR", ttr, targets.mttr_minutes))
            within = float((ttr <= targets.mttr_minutes).mean() * 100)
            results.append(
                WITHIN_TARGET.result(
                    "estate",
                    Status.OK if within >= 90 else Status.WARN,
                    value=round(within, 1),
                    unit="%",
                    threshold=90.0,
                    message=f"{within:.0f} % of {len(ttr)} resolved incidents restored within "
                    f"{targets.mttr_minutes:g} min",
                )
            )
        rate = float(frame["escalated"].mean() * 100)
        results.append(
            ESCALATION_RATE.result(
                "estate",
                Status.OK,
                value=round(rate, 1),
                unit="%",
                message=f"{rate:.0f} % of {len(frame)} incidents escalated",
                details={"by_severity": frame.groupby("severity")["escalated"].mean().mul(100).round(1).to_dict()},
            )
        )

    judged = [a for a in alerts if a.true_positive is not None]
    if not judged:
        results.append(_insufficient(ALERT_ACCURACY, "no alert judged true or false positive (opsbook alerts judge)"))
    else:
        accuracy = sum(1 for a in judged if a.true_positive) / len(judged) * 100
        results.append(
            ALERT_ACCURACY.result(
                "estate",
                Status.OK if accuracy > targets.alert_accuracy_pct else Status.WARN,
                value=round(accuracy, 1),
                unit="%",
                threshold=targets.alert_accuracy_pct,
                message=f"{accuracy:.1f} % of {len(judged)} judged alerts were true positives "
                f"(target > {targets.alert_accuracy_pct:g} %); "
                f"{len(alerts) - len(judged)} not judged",
            )
        )
    return results


def incident_records(store: HistoryStore, since: datetime) -> list[IncidentRecord]:
    """Incidents that began in the period; detected = opened, escalated = raised past level 1."""
    with store.session() as session:
        rows = session.scalars(select(IncidentRow).where(IncidentRow.started_at >= since))
        return [
            IncidentRecord(
                id=r.id,
                severity=r.severity,
                started_at=r.started_at,
                detected_at=r.opened_at,
                resolved_at=r.resolved_at,
                escalated=r.escalation_level > 1 or r.escalated_at is not None,
            )
            for r in rows
        ]


def alert_records(store: HistoryStore, since: datetime) -> list[AlertRecord]:
    """Alert episodes in the period, with the true/false-positive verdicts people gave them."""
    return [
        AlertRecord(
            id=e.fingerprint, check=e.check, fired_at=e.started, resolved_at=e.resolved, true_positive=e.true_positive
        )
        for e in episodes_since(store, since)
    ]


@task(name="review-operational-kpis", cache_policy=NO_CACHE, timeout_seconds=300)
def review_operational_kpis(
    history_url: str, targets: KpiTargets, days: int = 30, uptime_check: str = PLATFORM_HEALTH.id
) -> list[CheckResult]:
    """The runbook's Operational Excellence KPIs over the last `days`, from the history store."""
    store = open_store(history_url)
    until = utcnow()
    since = until - timedelta(days=days)
    return operational_kpis(
        incident_records(store, since),
        alert_records(store, since),
        targets,
        uptime_from_history(store, uptime_check, since, until),
    )
