"""SLOs from the history: attainment, error budget left, and multiwindow multi-burn-rate alerts.

Burn rate = the error ratio over a window / the error ratio the SLO allows (1 - objective).
An alert fires only when a long and a short window both burn faster than the rule's factor: the
long window proves the burn is significant, the short one that it is still going on, so alerts
reset soon after the incident ends (Google SRE workbook, "Alerting on SLOs", table 5-8).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from opsbook.checks import AlertType, declare
from opsbook.config import EstateConfig
from opsbook.config.analytics import SloConfig
from opsbook.durations import format_duration
from opsbook.escalation import Severity
from opsbook.quality import GateResult
from opsbook.results import CheckResult, Status, utcnow
from opsbook.store import open_store
from opsbook.tasks.analytics.series import bucketed_outcomes, check_outcomes

COMPONENT = "slo"

ERROR_BUDGET = declare(
    "slo.error_budget",
    title="SLO error budget",
    component=COMPONENT,
    alert_type=AlertType.PERFORMANCE,
    severity=Severity.P2,
    unit="% budget left",
    on_fail="The error budget is burning fast (page) or spent: stop risky changes and work the incident.",
    on_warn="The error budget burns slowly or is low: open a ticket and prioritise reliability work.",
)
BUCKET = timedelta(minutes=1)


@dataclass(frozen=True)
class BurnRule:
    severity: str  # page or ticket
    long: timedelta
    short: timedelta
    factor: float

    @property
    def name(self) -> str:
        return f"{format_duration(self.long)}&{format_duration(self.short)} at {self.factor:g}x"


# 2 % of a 30-day budget in 1 h, 5 % in 6 h, 10 % in 3 days.
RULES = (
    BurnRule("page", timedelta(hours=1), timedelta(minutes=5), 14.4),
    BurnRule("page", timedelta(hours=6), timedelta(minutes=30), 6.0),
    BurnRule("ticket", timedelta(days=3), timedelta(hours=6), 1.0),
)


@dataclass(frozen=True)
class AlertWindow:
    rule: BurnRule
    start: datetime  # first bucket in which both windows burned too fast
    end: datetime  # end of the last such bucket


@dataclass
class SloStatus:
    name: str
    objective_pct: float
    total: int
    good: int
    gate: GateResult
    firing: list[BurnRule] = field(default_factory=list)
    burn_rates: dict[str, tuple[float, float]] = field(default_factory=dict)  # rule -> (long, short)

    @property
    def attainment_pct(self) -> float | None:
        return self.good / self.total * 100 if self.total else None

    @property
    def budget_left_pct(self) -> float | None:
        """Share of the period's error budget not yet spent (negative when overspent)."""
        if not self.total:
            return None
        allowed = (1 - self.objective_pct / 100) * self.total
        return (1 - (self.total - self.good) / allowed) * 100


def _regular(outcomes: pd.DataFrame, bucket: timedelta) -> pd.DataFrame:
    """Counts on a regular grid (empty buckets are zero), indexed by bucket start."""
    frame = outcomes.set_index(pd.to_datetime(outcomes["ts"], utc=True))[["good", "total"]].astype(float)
    return frame.reindex(pd.date_range(frame.index.min(), frame.index.max(), freq=bucket), fill_value=0.0)


def burn_rate_series(
    outcomes: pd.DataFrame, objective_pct: float, window: timedelta, bucket: timedelta = BUCKET
) -> pd.Series:
    """Burn rate over the trailing `window` at the end of each bucket (0 where nothing was measured)."""
    grid = _regular(outcomes, bucket)
    bad = (grid["total"] - grid["good"]).rolling(window).sum()
    total = grid["total"].rolling(window).sum()
    ratio = (bad / total.where(total > 0)).fillna(0.0)
    return ratio / (1 - objective_pct / 100)


def alert_windows(
    outcomes: pd.DataFrame, objective_pct: float, rules: tuple[BurnRule, ...] = RULES, bucket: timedelta = BUCKET
) -> list[AlertWindow]:
    """When each rule would have fired over the whole series (both windows above the factor)."""
    found: list[AlertWindow] = []
    if outcomes.empty:
        return found
    for rule in rules:
        firing = (burn_rate_series(outcomes, objective_pct, rule.long, bucket) > rule.factor) & (
            burn_rate_series(outcomes, objective_pct, rule.short, bucket) > rule.factor
        )
        run_id = (firing != firing.shift()).cumsum()
        for _, run in firing[firing].groupby(run_id[firing]):
            found.append(AlertWindow(rule, run.index[0].to_pydatetime(), (run.index[-1] + bucket).to_pydatetime()))
    return found


def slo_status(outcomes: pd.DataFrame, slo: SloConfig, now: datetime, bucket: timedelta = BUCKET) -> SloStatus:
    """Attainment and budget over the SLO period, and which burn-rate rules fire at `now`."""
    status = SloStatus(
        slo.name, slo.objective_pct, int(outcomes["total"].sum()), int(outcomes["good"].sum()), check_outcomes(outcomes)
    )
    if not status.gate.passed:
        return status
    for rule in RULES:
        rates = []
        for window in (rule.long, rule.short):
            recent = outcomes[pd.to_datetime(outcomes["ts"], utc=True) >= pd.Timestamp(now - window)]
            total = recent["total"].sum()
            rates.append(((total - recent["good"].sum()) / total / (1 - slo.objective_pct / 100)) if total else 0.0)
        status.burn_rates[rule.name] = (float(rates[0]), float(rates[1]))
        if min(rates) > rule.factor:
            status.firing.append(rule)
    return status


def slo_result(status: SloStatus) -> CheckResult:
    """Fail when a page rule fires or the budget is spent, warn on a ticket rule or < 25 % left."""
    if not status.total:  # a new install: the checklist's own results have not accumulated yet
        return ERROR_BUDGET.result(
            status.name, Status.SKIPPED, message="insufficient data: no results in the SLO period yet"
        )
    if not status.gate.passed:
        return ERROR_BUDGET.result(
            status.name,
            Status.ERROR,
            message=f"insufficient data: {status.gate.reason()}",
            details={"gate_findings": status.gate.findings},
        )
    left = status.budget_left_pct
    assert left is not None and status.attainment_pct is not None
    pages = [r for r in status.firing if r.severity == "page"]
    if pages or left <= 0:
        level = Status.FAIL
    elif status.firing or left < 25:
        level = Status.WARN
    else:
        level = Status.OK
    firing = ", ".join(f"{r.severity} {r.name}" for r in status.firing) or "no burn-rate alert"
    message = (
        f"{status.attainment_pct:.3f} % good vs {status.objective_pct:g} % objective; "
        f"{left:.0f} % of the error budget left; {firing}"
    )
    return ERROR_BUDGET.result(
        status.name,
        level,
        value=round(left, 1),
        unit="% budget left",
        threshold=0.0,
        message=message,
        details={
            "attainment_pct": status.attainment_pct,
            "good": status.good,
            "total": status.total,
            "burn_rates": {k: {"long": v[0], "short": v[1]} for k, v in status.burn_rates.items()},
            "firing": [r.name for r in status.firing],
        },
    )


@task(name="evaluate-slos", cache_policy=NO_CACHE, timeout_seconds=300)
def evaluate_slos(config: EstateConfig, now: datetime | None = None) -> list[CheckResult]:
    """Every configured SLO from the check results in the history (counted per minute in SQL)."""
    now = now or utcnow()
    store = open_store(config.history.url)
    results = []
    for slo in config.analytics.slos:
        try:
            outcomes = bucketed_outcomes(
                store,
                slo.check,
                slo.target,
                now - timedelta(days=slo.period_days),
                BUCKET,
                until=now,
                latency_ms=slo.latency_ms if slo.kind == "latency" else None,
            )
            results.append(slo_result(slo_status(outcomes, slo, now)))
        except Exception as error:
            results.append(ERROR_BUDGET.error(slo.name, error))
    return results
