"""The estate config: the root of `opsbook.yaml`.

Each runbook's section (metrics sources, databases, backups, security, ...) is a field here,
a `Section` model in a module of its own.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AnyHttpUrl, Field, ValidationInfo, field_validator, model_validator

from opsbook.config.analytics import AnalyticsConfig
from opsbook.config.app_metrics import JsonApiSources
from opsbook.config.backups import BackupsConfig
from opsbook.config.costs import CostsConfig
from opsbook.config.databases import DatabaseList
from opsbook.config.escalation import EscalationConfig
from opsbook.config.fields import relative_to_config, unique_names
from opsbook.config.incidents import IncidentsConfig
from opsbook.config.maintenance import MaintenanceConfig
from opsbook.config.notifications import NotificationsConfig
from opsbook.config.platforms import Platform
from opsbook.config.redis import RedisList
from opsbook.config.resources import ResourcesConfig
from opsbook.config.security import SecurityConfig
from opsbook.config.thresholds import Section, Thresholds
from opsbook.config.tls import Trust, ca_bundle_file


class HistoryConfig(Section):
    url: str = Field(
        "sqlite:///opsbook-history.db",
        description="SQLAlchemy URL; relative SQLite paths are relative to the config file",
        validate_default=True,
    )
    retention_days: int | None = Field(
        400,
        ge=90,
        le=3650,
        description="runs, results, samples and deliveries older than this are pruned (weekly routine with apply, "
        "or `opsbook db prune --apply`); at least 90, the status page's window; null keeps everything",
    )

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str, info: ValidationInfo) -> str:
        if value.startswith("sqlite:///"):
            path = value.removeprefix("sqlite:///")
            if path and path != ":memory:":
                path = str(relative_to_config(Path(path), info))
            return f"sqlite:///{path}"
        if value.startswith(("postgresql+psycopg://", "postgresql://")):
            return value.replace("postgresql://", "postgresql+psycopg://", 1)
        raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")


class ReportsConfig(Section):
    directory: Path = Field(Path("reports-out"), description="where HTML reports are written", validate_default=True)
    base_url: AnyHttpUrl | None = Field(None, description="where `directory` is served, for links in report digests")

    _absolute = field_validator("directory")(relative_to_config)


class HttpSettings(Section):
    """How opsbook makes HTTP calls: every call has a timeout; only transient faults retry."""

    concurrency: int = Field(50, ge=1, le=1000)
    timeout_s: float = Field(10, gt=0, le=300)
    retries: int = Field(2, ge=0, le=10, description="extra attempts after a transient fault")
    backoff_s: float = Field(0.5, ge=0, le=60, description="first retry delay, doubled each time")
    max_body_bytes: int = Field(1_048_576, ge=1024)
    user_agent: str = "opsbook"
    trust_env: bool = Field(True, description="honour HTTP(S)_PROXY and NO_PROXY from the environment")
    ca_bundle: Path | None = Field(
        None, description="extra CA certificates (PEM) every HTTPS call trusts; a target's own ca_bundle overrides it"
    )

    _trusted = field_validator("ca_bundle")(ca_bundle_file)

    def trust(self, ca_bundle: Path | None = None, *, verify: bool = True) -> Trust:
        """The trust for one target: its own bundle, else this one; none when verification is off."""
        return Trust(verify=verify, ca_bundle=(ca_bundle or self.ca_bundle) if verify else None)


class EstateConfig(Section):
    estate: str = Field("production", min_length=1, max_length=200, description="name shown on reports")
    history: HistoryConfig = Field(default_factory=HistoryConfig)
    reports: ReportsConfig = Field(default_factory=ReportsConfig)
    http: HttpSettings = Field(default_factory=HttpSettings)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    # What is watched, in the runbook's order.
    platforms: list[Platform] = Field(default_factory=list)
    databases: DatabaseList = Field(default_factory=list)
    redis: RedisList = Field(default_factory=list, description="Redis servers: PING, memory, clients, evictions")
    backups: BackupsConfig = Field(default_factory=BackupsConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    metrics_sources: JsonApiSources = Field(default_factory=list, description="the application's JSON API")
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    analytics: AnalyticsConfig = Field(default_factory=AnalyticsConfig)
    costs: CostsConfig = Field(default_factory=CostsConfig)
    maintenance: MaintenanceConfig = Field(default_factory=MaintenanceConfig)
    # What happens when something breaks.
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)
    incidents: IncidentsConfig = Field(default_factory=IncidentsConfig)

    @model_validator(mode="before")
    @classmethod
    def _paths_relative_to_the_file(cls, data: object) -> object:
        # Sections holding paths are validated even when left out, so their defaults are
        # resolved against the config file's folder (default factories see no context).
        if isinstance(data, dict):
            data = {"history": {}, "reports": {}, "maintenance": {}, **data}
        return data

    @field_validator("platforms")
    @classmethod
    def _unique_platform_names(cls, platforms: list[Platform]) -> list[Platform]:
        return list(unique_names(platforms, "platforms"))

    def summary(self) -> str:
        """One line saying what this config watches."""
        watched = [f"{len(self.platforms)} platform(s)"]
        counts = {
            "database(s)": len(self.databases),
            "Redis server(s)": len(self.redis),
            "backup repositories": len(self.backups.repositories),
            "DR target(s)": len(self.backups.disaster_recovery.targets),
            "metrics source(s)": len(self.metrics_sources),
            "log file(s) for security": len(self.security.auth_logs) + len(self.security.access_logs),
            "TLS certificate(s)": len(self.security.certificates),
            "cost export pattern(s)": len(self.costs.exports),
            "notification channel(s)": len(self.notifications.channels),
            "maintenance window(s)": len(self.maintenance.windows),
        }
        watched += [f"{count} {what}" for what, count in counts.items() if count]
        watched += ["Prometheus"] if self.resources.prometheus is not None else []
        return f"estate {self.estate!r}: {', '.join(watched)}"
