"""Trend analytics settings: what to project for capacity, what the performance review compares,
and which SLOs to track. Every field has a default, so `analytics:` may be left out entirely."""

from __future__ import annotations

from pydantic import Field, model_validator

from opsbook.config.thresholds import Limit, Section


class SeriesRef(Section):
    """One series in the history: a metric name and, optionally, the exact labels of one series."""

    name: str = Field(min_length=1, description="name shown on reports")
    metric: str = Field(min_length=1, description="metric name in the history's metric samples")
    labels: dict[str, str] | None = Field(None, description="exact labels; left out pools every series")
    unit: str | None = Field(None, description="unit of the values (%, ms, users, req/s ...); checked by the gate")


class CapacityResource(SeriesRef):
    threshold: str | None = Field(None, description="a limit in thresholds.resources, e.g. cpu_pct")
    limit: Limit | None = Field(None, description="warn/critical levels when no `threshold` name fits")
    capacity: float | None = Field(
        None, gt=0, description="provisioned capacity in the metric's unit (100 for % metrics when left out)"
    )
    monthly_cost: float | None = Field(
        None, ge=0, description="what the current capacity costs per month (from the cost review)"
    )


class CapacityConfig(Section):
    trend_days: int = Field(30, ge=7, le=365, description="history the trend is fitted on")
    horizon_days: int = Field(90, ge=7, le=730, description="how far ahead to project")
    headroom_pct: float = Field(20, ge=0, lt=100, description="capacity kept free above the projected peak")
    lead_time_days: int = Field(14, ge=0, le=180, description="how long scaling takes to put in place")
    resources: list[CapacityResource] = Field(default_factory=list)


class PerformanceReviewConfig(Section):
    series: list[SeriesRef] = Field(default_factory=list, description="series reviewed every day")
    regression_warn_pct: float = Field(20, gt=0, description="p95 rise over the 7-day baseline that warns")
    regression_fail_pct: float = Field(50, gt=0, description="p95 rise that fails")
    anomaly_mads: float = Field(
        10,
        gt=0,
        description="how many robust deviations (MAD x 1.4826) above the "
        "baseline median a 5-minute bucket must be to be anomalous",
    )


class SloConfig(Section):
    name: str = Field(min_length=1)
    check: str = Field("platform.health", description="check id whose results are the SLI")
    target: str | None = Field(None, description="the check's target; left out pools every target")
    kind: str = Field("availability", pattern="^(availability|latency)$")
    objective_pct: float = Field(99.9, gt=0, lt=100)
    latency_ms: float | None = Field(None, gt=0, description="latency SLO: a result is good when at most this")
    period_days: int = Field(30, ge=1, le=365)

    @model_validator(mode="after")
    def _latency_needs_a_bound(self) -> SloConfig:
        if self.kind == "latency" and self.latency_ms is None:
            raise ValueError("a latency SLO needs latency_ms")
        return self


class AnalyticsConfig(Section):
    capacity: CapacityConfig = Field(default_factory=CapacityConfig)
    performance: PerformanceReviewConfig = Field(default_factory=PerformanceReviewConfig)
    slos: list[SloConfig] = Field(default_factory=list)
