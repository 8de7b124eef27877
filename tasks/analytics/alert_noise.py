"""Alert noise review (weekly monitoring maintenance): per check and target, how often it alerted,
how much it flapped, how many alerts were false, and a threshold the observed values suggest,
with the number of alerts that threshold would have raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import select

from opsbook.alerts import fingerprint
from opsbook.checks import AlertType, declare
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status, utcnow
from opsbook.store import HistoryStore, open_store
from opsbook.store.models import CheckResultRow
from opsbook.tasks.analytics.kpis import AlertRecord, alert_records

COMPONENT = "monitoring"

ALERT_NOISE = declare(
    "alerts.noise",
    title="Alert noise",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P3,
    on_fail="A noisy alert: adopt the suggested threshold in `thresholds`, or silence it while it is fixed.",
    on_warn=(
        "A flapping or mostly-false alert: adopt the suggested threshold (held for the suggested results) in "
        "`thresholds`, or silence it while it is fixed."
    ),
    runbook_steps=(
        "Weekly Monitoring System Check / Reviewing alert noise and false positives",
        "Weekly Monitoring System Check / Reviewing and updating monitoring thresholds",
    ),
)
ALERTING = ("warn", "fail")
NORMAL_SPREAD = 6.0  # suggest alerting 6 robust deviations above the median: outside normal noise
MAD_TO_SIGMA = 1.4826
FLAPPING_SHARE = 0.3  # more than 30 % of alerts lasting one result is flapping


@dataclass(frozen=True)
class NoiseReview:
    check: str
    target: str
    results: int
    alerts: int  # episodes entering warn/fail
    flapping_pct: float  # episodes that cleared on the next result
    false_positive_pct: float | None
    current_threshold: float | None
    suggested_threshold: float | None
    suggested_for: int  # consecutive results past the threshold before alerting
    suggested_alerts: int | None


def episodes(flags: Sequence[bool]) -> list[int]:
    """Lengths of the runs of consecutive True values."""
    runs, length = [], 0
    for flag in flags:
        if flag:
            length += 1
        elif length:
            runs.append(length)
            length = 0
    if length:
        runs.append(length)
    return runs


def review_noise(frame: pd.DataFrame, check: str, target: str, judged: Sequence[AlertRecord] = ()) -> NoiseReview:
    """`frame`: one check's results for one target, oldest first (columns status, value, threshold)."""
    runs = episodes(list(frame["status"].isin(ALERTING)))
    flapping = sum(1 for r in runs if r == 1) / len(runs) * 100 if runs else 0.0
    marked = [a for a in judged if a.id == fingerprint(check, target) and a.true_positive is not None]
    false_pct = sum(not a.true_positive for a in marked) / len(marked) * 100 if marked else None
    values = frame["value"].dropna().to_numpy(dtype=float)
    current = frame["threshold"].dropna().iloc[-1] if frame["threshold"].notna().any() else None
    suggested = suggested_alerts = None
    persist = 2 if flapping > FLAPPING_SHARE * 100 else 1  # a flapping check waits for a second result
    if len(values) >= 20:
        median = float(np.median(values))
        spread = float(np.median(np.abs(values - median))) * MAD_TO_SIGMA
        suggested = median + NORMAL_SPREAD * spread if spread > 0 else float(np.quantile(values, 0.99))
        above = episodes(list(frame["value"].fillna(-np.inf) > suggested))
        suggested_alerts = sum(1 for run in above if run >= persist)
    return NoiseReview(
        check,
        target,
        len(frame),
        len(runs),
        flapping,
        false_pct,
        None if current is None else float(current),
        suggested,
        persist,
        suggested_alerts,
    )


def noise_result(review: NoiseReview) -> CheckResult:
    """Warn when a check flaps or is mostly wrong: a noisy alert teaches people to ignore alerts."""
    noisy = review.flapping_pct > FLAPPING_SHARE * 100 or (review.false_positive_pct or 0) > 50
    parts = [f"{review.alerts} alerts in {review.results} results", f"{review.flapping_pct:.0f} % flapping"]
    if review.false_positive_pct is not None:
        parts.append(f"{review.false_positive_pct:.0f} % false positives")
    if review.suggested_threshold is None:
        parts.append("too few values to suggest a threshold")
    else:
        wait = f" held for {review.suggested_for} results" if review.suggested_for > 1 else ""
        parts.append(
            f"suggested threshold {review.suggested_threshold:.3g}{wait} (median + {NORMAL_SPREAD:g} "
            f"robust deviations) would have raised {review.suggested_alerts} alerts"
            + (f" (current {review.current_threshold:.3g})" if review.current_threshold is not None else "")
        )
    return ALERT_NOISE.result(
        f"{review.check} {review.target}",
        Status.WARN if noisy else Status.OK,
        value=float(review.alerts),
        unit="alerts",
        message="; ".join(parts),
        details=vars(review),
    )


def noise_from_history(
    store: HistoryStore, check: str, since: datetime, judged: Sequence[AlertRecord] = ()
) -> list[CheckResult]:
    """One noise result per target of a check, from its stored results."""
    history = store.result_history(check, since=since)
    frame = pd.DataFrame(
        [{"target": r.target, "status": r.status.value, "value": r.value, "threshold": r.threshold} for r in history]
    )
    if frame.empty:
        return [ALERT_NOISE.result(check, Status.SKIPPED, message="insufficient data: no results in the period")]
    return [noise_result(review_noise(group, check, target, judged)) for target, group in frame.groupby("target")]


def alerting_checks(store: HistoryStore, since: datetime) -> list[str]:
    """The checks that ended warn or fail at least once since `since`: the ones that made noise."""
    with store.session() as session:
        query = (
            select(CheckResultRow.check)
            .distinct()
            .where(CheckResultRow.started_at >= since)
            .where(CheckResultRow.status.in_(ALERTING))
            .order_by(CheckResultRow.check)
        )
        return list(session.scalars(query))


@task(name="review-alert-noise", cache_policy=NO_CACHE, timeout_seconds=300)
def review_alert_noise(history_url: str, days: int = 7) -> list[CheckResult]:
    """The runbook's `review-alert-noise.sh --period 7d` and threshold review, per alerting check."""
    store = open_store(history_url)
    since = utcnow() - timedelta(days=days)
    checks = alerting_checks(store, since)
    if not checks:
        return [ALERT_NOISE.result("estate", Status.OK, message=f"no check alerted in the last {days} days")]
    judged = alert_records(store, since)  # people's true/false-positive verdicts (`opsbook alerts judge`)
    return [result for check in checks for result in noise_from_history(store, check, since, judged)]
