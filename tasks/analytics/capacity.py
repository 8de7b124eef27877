"""Capacity planning: the 30-day trend of each resource, growth per month, a 90-day projection
with an interval, days until the warn and critical levels, and what to scale, when, at what cost.

Slopes are Theil-Sen (the median of pairwise slopes), so a spike or a hole in the data barely
moves them. Two models are fitted, linear and log-linear (constant % growth); the one with the
smaller error on the original scale wins, log-linear on a near tie because usage tends to grow
by a share, not by a fixed amount.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from markupsafe import Markup
from prefect import task
from prefect.cache_policies import NO_CACHE
from scipy.stats import theilslopes

from opsbook.checks import AlertType, declare
from opsbook.config import EstateConfig, Limit
from opsbook.config.analytics import CapacityConfig, CapacityResource
from opsbook.escalation import Severity
from opsbook.quality import GateResult
from opsbook.reports.charts import Band, LineChart, Series, line_chart
from opsbook.results import CheckResult, Status, utcnow
from opsbook.store import open_store
from opsbook.tasks.analytics.series import SeriesRules, bucketed_series, check_series, series_unit

COMPONENT = "capacity"

CAPACITY_PROJECTION = declare(
    "capacity.projection",
    title="Capacity projection",
    component=COMPONENT,
    alert_type=AlertType.INFRASTRUCTURE,
    severity=Severity.P3,
    unit="%/month",
    on_fail="The trend reaches the critical level within the horizon: schedule the recommended scaling now.",
    on_warn="The trend reaches the warning level within the horizon: plan the recommended scaling.",
    runbook_steps=(
        "Resource Capacity Analysis / Analyzing resource usage trends",
        "Resource Capacity Analysis / Calculating growth rates",
        "Resource Capacity Analysis / Projecting resource requirements",
        "Resource Capacity Analysis / Generating scaling recommendations",
        "Resource Capacity Analysis / Analyzing cost impact",
    ),
)
DAYS_PER_MONTH = 365.25 / 12
BUCKET = timedelta(hours=1)
TIE = 0.01  # log-linear wins unless linear fits more than 1 % better


@dataclass(frozen=True)
class Fit:
    model: str  # "linear" or "log-linear"
    slope: float  # per day (log units per day for log-linear)
    low_slope: float
    high_slope: float
    anchor_x: float  # the robust centre the slope lines turn around
    anchor_y: float
    residual_low: float  # 2.5 % and 97.5 % residual quantiles (model scale)
    residual_high: float
    rmse: float  # on the original scale

    def _model_scale(self, x: np.ndarray, slope: float) -> np.ndarray:
        return self.anchor_y + slope * (x - self.anchor_x)

    def _back(self, y: np.ndarray) -> np.ndarray:
        return np.exp(y) if self.model == "log-linear" else y

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._back(self._model_scale(x, self.slope))

    def interval(self, x: np.ndarray, now_x: float) -> tuple[np.ndarray, np.ndarray]:
        """95 % band: the slope's confidence range from now on, widened by the residual spread."""
        ahead = np.maximum(x - now_x, 0)
        centre = self._model_scale(x, self.slope)
        low = centre + (self.low_slope - self.slope) * ahead + self.residual_low
        high = centre + (self.high_slope - self.slope) * ahead + self.residual_high
        return self._back(low), self._back(high)


def fit(x: np.ndarray, y: np.ndarray, model: str) -> Fit:
    target = np.log(y) if model == "log-linear" else y
    slope, _, low, high = theilslopes(target, x, 0.95)
    anchor_x, anchor_y = float(np.median(x)), float(np.median(target - slope * (x - np.median(x))))
    residuals = target - (anchor_y + slope * (x - anchor_x))
    fitted = np.exp(target - residuals) if model == "log-linear" else target - residuals
    return Fit(
        model,
        float(slope),
        float(low),
        float(high),
        anchor_x,
        anchor_y,
        float(np.quantile(residuals, 0.025)),
        float(np.quantile(residuals, 0.975)),
        float(np.sqrt(np.mean((y - fitted) ** 2))),
    )


def best_fit(x: np.ndarray, y: np.ndarray) -> tuple[Fit, str]:
    """The better of the linear and log-linear fits, and why it was chosen."""
    linear = fit(x, y, "linear")
    if (y <= 0).any():
        return linear, "linear (values reach zero, so no log-linear fit)"
    logfit = fit(x, y, "log-linear")
    if logfit.rmse <= linear.rmse * (1 + TIE):
        return logfit, f"log-linear (error {logfit.rmse:.3g} vs linear {linear.rmse:.3g})"
    return linear, f"linear (error {linear.rmse:.3g} vs log-linear {logfit.rmse:.3g})"


@dataclass
class CapacityFinding:
    """Everything the planner reads about one resource; `insufficient` set means no numbers."""

    name: str
    unit: str | None
    gate: GateResult
    now: datetime | None = None
    level: float | None = None
    growth_pct_per_month: float | None = None
    model: str | None = None
    model_reason: str = ""
    projected: float | None = None
    projected_low: float | None = None
    projected_high: float | None = None
    days_to_warn: float | None = None
    days_to_fail: float | None = None
    recommendation: str = ""
    scale_factor: float | None = None
    extra_monthly_cost: float | None = None
    history: list[tuple[datetime, float]] = field(default_factory=list)
    projection: list[tuple[datetime, float, float, float]] = field(default_factory=list)
    limit: Limit | None = None

    @property
    def insufficient(self) -> bool:
        return not self.gate.passed


def days_until(fitted: Fit, now_x: float, level: float, threshold: float | None) -> float | None:
    """Days from now until the trend reaches `threshold`; 0 when already there, None if never."""
    if threshold is None:
        return None
    if level >= threshold:
        return 0.0
    if fitted.slope <= 0:
        return None
    if fitted.model == "log-linear":
        return math.log(threshold / level) / fitted.slope
    return (threshold - level) / fitted.slope


def analyse_capacity(
    frame: pd.DataFrame,
    resource: CapacityResource,
    limit: Limit | None,
    settings: CapacityConfig,
    now: datetime | None = None,
) -> CapacityFinding:
    """Trend, growth, projection, threshold dates and a scaling recommendation for one series."""
    now = now or utcnow()
    gate = check_series(
        frame,
        SeriesRules(
            unit=resource.unit, min_points=48, max_gap=timedelta(days=3), fresh_within=timedelta(days=2), now=now
        ),
    )
    finding = CapacityFinding(resource.name, resource.unit, gate, limit=limit)
    if not gate.passed:
        return finding
    ts = pd.to_datetime(frame["ts"], utc=True)
    start = ts.min()
    x = ((ts - start).dt.total_seconds() / 86400).to_numpy()
    y = frame["value"].to_numpy(dtype=float)
    fitted, reason = best_fit(x, y)
    now_x = float(x.max())
    level = float(fitted.predict(np.array([now_x]))[0])
    if fitted.model == "log-linear":
        growth = math.expm1(fitted.slope * DAYS_PER_MONTH) * 100
    else:
        growth = fitted.slope * DAYS_PER_MONTH / level * 100 if level else 0.0
    ahead = np.linspace(now_x, now_x + settings.horizon_days, 31)
    centre = fitted.predict(ahead)
    low, high = fitted.interval(ahead, now_x)
    finding.now, finding.level, finding.growth_pct_per_month = ts.max().to_pydatetime(), level, growth
    finding.model, finding.model_reason = fitted.model, reason
    finding.projected, finding.projected_low, finding.projected_high = (
        float(centre[-1]),
        float(low[-1]),
        float(high[-1]),
    )
    finding.history = [(t.to_pydatetime(), float(v)) for t, v in zip(ts, y, strict=True)]
    finding.projection = [
        (start.to_pydatetime() + timedelta(days=float(d)), float(c), float(lo), float(hi))
        for d, c, lo, hi in zip(ahead, centre, low, high, strict=True)
    ]
    if limit is not None:
        finding.days_to_warn = days_until(fitted, now_x, level, limit.warn)
        finding.days_to_fail = days_until(fitted, now_x, level, limit.fail)
    _recommend(finding, fitted, now_x, resource, settings)
    return finding


def _recommend(
    finding: CapacityFinding, fitted: Fit, now_x: float, resource: CapacityResource, settings: CapacityConfig
) -> None:
    """Scale so the projection's upper bound still leaves the configured headroom free."""
    capacity = resource.capacity or (100.0 if (resource.unit or "") in ("%", "pct", "percent") else None)
    if capacity is None:
        finding.recommendation = "no capacity configured: growth reported only"
        return
    usable = capacity * (1 - settings.headroom_pct / 100)
    assert finding.projected_high is not None and finding.level is not None and finding.now is not None
    factor = finding.projected_high / usable
    if factor <= 1:
        finding.recommendation = (
            f"no scaling needed within {settings.horizon_days} days ({settings.headroom_pct:g} % headroom kept)"
        )
        return
    finding.scale_factor = factor
    reach = days_until(fitted, now_x, finding.level, usable)
    by = finding.now + timedelta(days=max(0.0, (reach if reach is not None else 0.0) - settings.lead_time_days))
    finding.recommendation = (
        f"add {math.ceil((factor - 1) * 100)} % capacity by {by:%Y-%m-%d} "
        f"to keep {settings.headroom_pct:g} % headroom for {settings.horizon_days} days"
    )
    if resource.monthly_cost is not None:
        finding.extra_monthly_cost = resource.monthly_cost * (factor - 1)
        finding.recommendation += f" (about +{finding.extra_monthly_cost:,.0f} per month)"


def finding_result(finding: CapacityFinding, settings: CapacityConfig) -> CheckResult:
    """Fail when the trend reaches the critical level within the horizon, warn for the warn level."""
    if finding.insufficient:
        return CAPACITY_PROJECTION.result(
            finding.name,
            Status.ERROR,
            message=f"insufficient data: {finding.gate.reason()}",
            details={"gate_findings": finding.gate.findings},
        )
    assert finding.growth_pct_per_month is not None  # set for every finding with enough data
    horizon = settings.horizon_days
    if finding.days_to_fail is not None and finding.days_to_fail <= horizon:
        status, words = Status.FAIL, f"critical level in {finding.days_to_fail:.0f} days"
    elif finding.days_to_warn is not None and finding.days_to_warn <= horizon:
        status, words = Status.WARN, f"warning level in {finding.days_to_warn:.0f} days"
    else:
        status, words = Status.OK, f"no threshold crossed within {horizon} days"
    unit = f" {finding.unit}" if finding.unit else ""
    message = (
        f"{finding.growth_pct_per_month:+.1f} %/month ({finding.model}); {words}; "
        f"{horizon}-day projection {finding.projected:.3g}{unit} "
        f"[{finding.projected_low:.3g}..{finding.projected_high:.3g}]; {finding.recommendation}"
    )
    return CAPACITY_PROJECTION.result(
        finding.name,
        status,
        value=round(finding.growth_pct_per_month, 2),
        unit="%/month",
        threshold=None,
        message=message,
        details=trend_row(finding),
    )


def trend_row(finding: CapacityFinding) -> dict[str, object]:
    """One row of the `capacity-trends` table."""

    def r(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    return {
        "resource": finding.name,
        "unit": finding.unit or "",
        "level": r(finding.level),
        "growth_pct_per_month": r(finding.growth_pct_per_month),
        "model": finding.model or "",
        "projected": r(finding.projected),
        "projected_low": r(finding.projected_low),
        "projected_high": r(finding.projected_high),
        "days_to_warn": r(finding.days_to_warn),
        "days_to_critical": r(finding.days_to_fail),
        "recommendation": finding.recommendation,
        "extra_monthly_cost": r(finding.extra_monthly_cost),
        "status": "insufficient data: " + finding.gate.reason() if finding.insufficient else "ok",
    }


def capacity_chart(finding: CapacityFinding, horizon_days: int) -> Markup:
    thresholds = {}
    if finding.limit is not None:
        thresholds = {k: v for k, v in (("warn", finding.limit.warn), ("fail", finding.limit.fail)) if v is not None}
    return line_chart(
        LineChart(
            title=f"{finding.name}: trend and {horizon_days}-day projection ({finding.model or 'no fit'})",
            unit=f" {finding.unit}" if finding.unit else "",
            series=[
                Series("history (hourly mean)", finding.history),
                Series(f"projection ({finding.model})", [(t, c) for t, c, _, _ in finding.projection], dashed=True),
            ],
            bands=[Band("95 % interval", [(t, lo, hi) for t, _, lo, hi in finding.projection])],
            thresholds=thresholds,
        )
    )


def resource_limit(resource: CapacityResource, config: EstateConfig) -> Limit | None:
    if resource.limit is not None:
        return resource.limit
    if resource.threshold is not None:
        return getattr(config.thresholds.resources, resource.threshold, None)
    return None


def review_resource(config: EstateConfig, resource: CapacityResource, now: datetime | None = None) -> CapacityFinding:
    """Read one resource's hourly series from the history (aggregated in SQL) and analyse it."""
    now = now or utcnow()
    settings = config.analytics.capacity
    store = open_store(config.history.url)
    frame = bucketed_series(
        store, resource.metric, resource.labels, now - timedelta(days=settings.trend_days), BUCKET, until=now
    )
    if resource.unit is None:
        resource = resource.model_copy(update={"unit": series_unit(store, resource.metric)})
    return analyse_capacity(frame, resource, resource_limit(resource, config), settings, now)


@task(name="plan-capacity", cache_policy=NO_CACHE, timeout_seconds=600)
def plan_capacity(config: EstateConfig, now: datetime | None = None) -> list[CapacityFinding]:
    """Every configured resource; a resource that cannot be read becomes an insufficient finding."""
    findings = []
    for resource in config.analytics.capacity.resources:
        try:
            findings.append(review_resource(config, resource, now))
        except Exception as error:
            result = CAPACITY_PROJECTION.error(resource.name, error)
            findings.append(CapacityFinding(resource.name, resource.unit, GateResult(False, [result.message])))
    return findings


@task(name="update-capacity-plan", cache_policy=NO_CACHE, timeout_seconds=600)
def update_capacity_plan(config: EstateConfig, now: datetime | None = None) -> list[CheckResult]:
    """The monthly audit's capacity planning update: one result per configured resource."""
    return [finding_result(f, config.analytics.capacity) for f in plan_capacity.fn(config, now)]
