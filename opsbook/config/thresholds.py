"""Thresholds, with the runbook's numbers as defaults.

Each limit has a warning and a critical ("fail") level. "Good" levels come from the runbook;
the critical levels come from the published "poor" boundaries (web.dev for Core Web Vitals) or
from the runbook's SLA where it states one.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Section(BaseModel):
    """Base of every config section: unknown keys are an error, not a silent typo."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Limit(Section):
    """A warn and a fail level for one figure. Either may be left out."""

    warn: float | None = None
    fail: float | None = None
    higher_is_worse: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> Limit:
        if self.warn is not None and self.fail is not None:
            if self.higher_is_worse and self.warn > self.fail:
                raise ValueError(f"warn ({self.warn}) must not be above fail ({self.fail})")
            if not self.higher_is_worse and self.warn < self.fail:
                raise ValueError(f"warn ({self.warn}) must not be below fail ({self.fail}) when lower is worse")
        return self


def limit(warn: float | None, fail: float | None, higher_is_worse: bool = True):
    """A Field default for a Limit, so each default is one readable line."""
    return Field(default_factory=lambda: Limit(warn=warn, fail=fail, higher_is_worse=higher_is_worse))


class HttpThresholds(Section):
    # Runbook SLA: 95 % of requests under 2 s.
    latency_ms: Limit = limit(1000, 2000)


class WebVitalsThresholds(Section):
    # Runbook "good" levels; "poor" levels from web.dev. RUM figures are judged on p75.
    fcp_ms: Limit = limit(1800, 3000)
    lcp_ms: Limit = limit(2500, 4000)
    fid_ms: Limit = limit(100, 300)
    inp_ms: Limit = limit(200, 500)  # INP replaced FID as a Core Web Vital in March 2024
    cls: Limit = limit(0.1, 0.25)


class ApiThresholds(Section):
    avg_response_ms: Limit = limit(200, 1000)
    error_rate_pct: Limit = limit(1, 5)


class ResourceThresholds(Section):
    # Runbook: warn above 80 %.
    cpu_pct: Limit = limit(80, 95)
    memory_pct: Limit = limit(80, 95)
    disk_pct: Limit = limit(80, 90)


class DatabaseThresholds(Section):
    slow_query_ms: float = Field(1000, gt=0)


class LogThresholds(Section):
    retention_days: int = Field(30, ge=1)


class KpiTargets(Section):
    uptime_pct: float = Field(99.9, gt=0, le=100)
    mttd_minutes: float = Field(5, gt=0)
    mttr_minutes: float = Field(30, gt=0)
    alert_accuracy_pct: float = Field(95, gt=0, le=100)


class Thresholds(Section):
    http: HttpThresholds = Field(default_factory=HttpThresholds)
    web_vitals: WebVitalsThresholds = Field(default_factory=WebVitalsThresholds)
    api: ApiThresholds = Field(default_factory=ApiThresholds)
    resources: ResourceThresholds = Field(default_factory=ResourceThresholds)
    database: DatabaseThresholds = Field(default_factory=DatabaseThresholds)
    logs: LogThresholds = Field(default_factory=LogThresholds)
    kpis: KpiTargets = Field(default_factory=KpiTargets)
