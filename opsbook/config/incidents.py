"""Incident response settings: status page, rollback rule and action, deploy log, dependencies."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator

from opsbook.config.fields import TargetUrl, relative_to_config
from opsbook.config.thresholds import Section


class RollbackRule(Section):
    """Recommend a rollback when a metric's latest sample since the last deploy passes a level."""

    metric: str = Field("api.error_rate", description="metric name in the history samples")
    above: float = Field(5.0, description="recommend rollback above this value")
    window_minutes: float = Field(60, gt=0, description="look back this far (or since the last deploy)")
    command: list[str] = Field(default_factory=list, description="the rollback action (argv); runs only after approval")
    timeout_s: float = Field(300, gt=0, le=3600)


class Dependency(Section):
    name: str = Field(min_length=1)
    url: TargetUrl


class IncidentsConfig(Section):
    status_page: Path | None = Field(None, description="static status page (default: <reports.directory>/status.html)")
    business_impact: str = Field("normal", description="`high` sends critical incidents to level 4")
    rollback: RollbackRule = Field(default_factory=RollbackRule)
    approval_timeout_s: int = Field(1800, ge=10, le=86400, description="how long a paused run waits for approval")
    approval_poll_s: int = Field(10, ge=1, le=60, description="how often a paused run looks for the answer")
    deploy_log: str | None = Field(None, description="JSON deploys list: http(s) URL or file path")
    dependencies: list[Dependency] = Field(default_factory=list, description="external services to check")
    baseline_days: int = Field(7, ge=1, le=90)

    _resolve_page = field_validator("status_page")(relative_to_config)

    @field_validator("deploy_log")
    @classmethod
    def _deploy_log_file(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or value.startswith(("http://", "https://")):
            return value
        return str(relative_to_config(Path(value), info))
