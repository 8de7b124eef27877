"""The `costs` section: FOCUS billing exports and how the monthly cost review judges them."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator

from opsbook.config.fields import relative_to_config
from opsbook.config.thresholds import Limit, Section


class AnomalyRule(Section):
    """A day is anomalous when its cost exceeds `factor` times the median of the days before it."""

    window_days: int = Field(7, ge=3, le=60, description="trailing days whose median is the baseline")
    factor: float = Field(2.0, gt=1, le=100, description="a day above factor x the trailing median is flagged")
    min_daily_cost: float = Field(1.0, ge=0, description="days cheaper than this are never flagged (noise)")


class UnitMetrics(Section):
    """History metrics (sums over the month) that turn cost into cost per user and per request."""

    active_users: str | None = Field("engagement.active_users", description="metric of daily active users")
    requests: str | None = Field("traffic.requests", description="metric of requests served per sample")


class IdleRule(Section):
    """Resources that cost money while their CPU stays under `cpu_pct` in the history's samples."""

    cpu_metric: str = Field("capacity.cpu_pct", description="history metric of CPU %, labelled per resource")
    resource_label: str = Field("resource_id", description="sample label holding the FOCUS ResourceId")
    cpu_pct: float = Field(5.0, gt=0, le=100, description="mean CPU below this is idle")
    min_cost: float = Field(1.0, ge=0, description="ignore idle resources cheaper than this per month")


class Recommendation(Section):
    """A capacity-plan recommendation to price: scale a service (or resource) by a factor."""

    name: str = Field(min_length=1)
    service: str | None = Field(None, description="FOCUS ServiceName the change applies to")
    resource_id: str | None = Field(None, description="FOCUS ResourceId the change applies to")
    scale: float = Field(gt=0, le=100, description="new size / old size, e.g. 1.5 for 50 % more")


class CostsConfig(Section):
    exports: list[str] = Field(
        default_factory=list,
        description="FOCUS export files or globs (.csv, .csv.gz, .parquet); relative to the config file",
    )
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$", description="the currency budgets and reports use")
    exchange_rates: dict[str, float] = Field(
        default_factory=dict, description="units of `currency` per unit of another billing currency"
    )
    budget: float | None = Field(None, gt=0, description="monthly budget in `currency`")
    budget_use_pct: Limit = Field(
        default_factory=lambda: Limit(warn=90, fail=100), description="month's cost as % of budget"
    )
    growth_pct: Limit = Field(
        default_factory=lambda: Limit(warn=20, fail=50), description="month-over-month growth of billed cost, %"
    )
    environment_tag: str = Field("environment", min_length=1, description="tag key of the environment")
    application_tag: str = Field("application", min_length=1, description="tag key of the application")
    anomaly: AnomalyRule = Field(default_factory=AnomalyRule)
    top_movers: int = Field(5, ge=1, le=50, description="how many top movers to list")
    units: UnitMetrics = Field(default_factory=UnitMetrics)
    idle: IdleRule = Field(default_factory=IdleRule)
    recommendations: list[Recommendation] = Field(default_factory=list)

    @field_validator("exports")
    @classmethod
    def _relative_to_the_file(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return [str(relative_to_config(Path(item), info)) for item in value]

    @field_validator("exchange_rates")
    @classmethod
    def _positive_rates(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [code for code, rate in value.items() if rate <= 0 or len(code) != 3 or not code.isupper()]
        if bad:
            raise ValueError(f"rates must be positive and keyed by 3-letter currency codes: {', '.join(bad)}")
        return value
