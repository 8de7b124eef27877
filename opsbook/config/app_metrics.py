"""Metrics sources of kind `json_api`: the application's own JSON API, read through a mapping.

A source names a base URL, its auth headers (secrets through `${ENV}`) and endpoints. Each
endpoint maps JSON paths to named metrics, each judged against a named runbook threshold
(`web_vitals.fcp_ms`) or a limit of its own, and may carry Gatus-style conditions. Left out,
`endpoints` is the runbook's own API, so the first config is three lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import AfterValidator, Field, field_validator, model_validator

from opsbook.config.conditions import ConditionSpec
from opsbook.config.fields import HeaderMap, TargetUrl
from opsbook.config.thresholds import Limit, Section, Thresholds
from opsbook.config.tls import ca_bundle_file
from opsbook.json_path import PathParts, parse_path
from opsbook.maintenance import MaintenanceWindow

# The runbook's daily steps an endpoint can feed, in the runbook's order.
AppStep = Literal["web_vitals", "api_performance", "engagement", "security", "resources", "rum", "error_rate"]
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


def threshold_limit(thresholds: Thresholds, name: str) -> Limit:
    """The Limit at a dotted name in `thresholds`, e.g. `web_vitals.fcp_ms`."""
    node: object = thresholds
    for part in name.split("."):
        node = getattr(node, part, None) if isinstance(node, Section) and part in type(node).model_fields else None
    if not isinstance(node, Limit):
        raise ValueError(
            f"{name!r} is not a limit under thresholds (e.g. web_vitals.fcp_ms, api.error_rate_pct, resources.disk_pct)"
        )
    return node


class MetricMap(Section):
    """One figure: where it is in the body, what it is called, and how it is judged (if at all)."""

    name: str = Field(pattern=_NAME, description="metric name, unique within the source")
    path: str = Field(min_length=1, description="JSON path in the body, e.g. core_web_vitals.fcp.p75")
    unit: str | None = Field(None, max_length=30)
    scale: float = Field(1.0, description="multiply the raw value, e.g. 1000 for seconds to ms")
    threshold: str | None = Field(None, description="a limit under `thresholds`, e.g. web_vitals.lcp_ms")
    limit: Limit | None = Field(None, description="a limit of this metric's own (instead of `threshold`)")
    values: dict[str, float] | None = Field(None, description="text values as numbers, e.g. {low: 0, high: 2}")

    @field_validator("path")
    @classmethod
    def _valid_path(cls, value: str) -> str:
        parse_path(value)
        return value

    @field_validator("threshold")
    @classmethod
    def _known_threshold(cls, value: str | None) -> str | None:
        if value is not None:
            threshold_limit(Thresholds(), value)
        return value

    @model_validator(mode="after")
    def _one_way_to_judge(self) -> MetricMap:
        if self.threshold is not None and self.limit is not None:
            raise ValueError("give either `threshold` (a runbook limit) or `limit`, not both")
        return self

    @property
    def parts(self) -> PathParts:
        return parse_path(self.path)

    def judged_by(self, thresholds: Thresholds) -> Limit | None:
        """The limit this metric is judged against; None means a figure that is only recorded."""
        return threshold_limit(thresholds, self.threshold) if self.threshold else self.limit


class Endpoint(Section):
    """One endpoint of the API and the daily step its figures belong to."""

    name: str = Field(pattern=_NAME)
    step: AppStep
    path: str = Field(pattern=r"^/", description="appended to the source's base_url")
    expected_status: list[int] = Field(default_factory=lambda: [200])
    metrics: list[MetricMap] = Field(default_factory=list)
    conditions: list[ConditionSpec] = Field(default_factory=list)
    headers: HeaderMap = Field(default_factory=dict, description="added to the source's headers")
    failure_threshold: int | None = Field(None, ge=1, le=100, description="overrides the source's")
    generated_at: str | None = Field(
        None,
        min_length=1,
        description="JSON path of when the API computed its figures (ISO 8601 or unix seconds); "
        "figures older than max_age_s are stale, an error",
    )
    max_age_s: float = Field(900, gt=0, le=30 * 86_400, description="how old `generated_at` may be")

    @field_validator("generated_at")
    @classmethod
    def _valid_generated_at(cls, value: str | None) -> str | None:
        if value is not None:
            parse_path(value)
        return value

    @field_validator("expected_status", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, int) else value

    @field_validator("conditions")
    @classmethod
    def _measurable(cls, conditions: list[ConditionSpec]) -> list[ConditionSpec]:
        if any(spec.parsed.needs_certificate for spec in conditions):
            raise ValueError(
                "[CERTIFICATE_EXPIRATION] is measured by platforms[].conditions and security.certificates, "
                "not by metrics endpoints"
            )
        return conditions

    @model_validator(mode="after")
    def _unique_metric_names(self) -> Endpoint:
        names = [m.name for m in self.metrics]
        if duplicate := next((n for n in names if names.count(n) > 1), None):
            raise ValueError(f"metric {duplicate!r} is mapped twice")
        return self

    @property
    def needs_body(self) -> bool:
        return bool(self.metrics) or self.generated_at is not None or any(c.parsed.needs_body for c in self.conditions)


def _vital(name: str, threshold: str, unit: str | None) -> MetricMap:
    return MetricMap(name=name, path=name, unit=unit, threshold=threshold)


def _rum(vital: str, percentile: str, threshold: str, unit: str | None) -> MetricMap:
    # The runbook judges RUM on p75; p50 and p95 are recorded for the distribution.
    return MetricMap(
        name=f"rum_{vital}_{percentile}",
        path=f"core_web_vitals.{vital}.{percentile}",
        unit=unit,
        threshold=threshold if percentile == "p75" else None,
    )


_VITALS = [
    ("fcp", "web_vitals.fcp_ms", "ms"),
    ("lcp", "web_vitals.lcp_ms", "ms"),
    ("fid", "web_vitals.fid_ms", "ms"),
    ("inp", "web_vitals.inp_ms", "ms"),
    ("cls", "web_vitals.cls", None),
]


def runbook_endpoints() -> list[Endpoint]:
    """The runbook's application API, its fields and thresholds (operational-runbooks.md)."""
    figure = MetricMap
    return [
        Endpoint(
            name="web-vitals",
            step="web_vitals",
            path="/api/metrics/web-vitals",
            metrics=[_vital(n, t, u) for n, t, u in _VITALS],
        ),
        Endpoint(
            name="api-performance",
            step="api_performance",
            path="/api/metrics/api-performance",
            metrics=[
                figure(name="avg_response_time", path="avg_response_time", unit="ms", threshold="api.avg_response_ms"),
                figure(name="error_rate", path="error_rate", unit="%", threshold="api.error_rate_pct"),
                figure(name="throughput", path="throughput", unit="req/min"),
            ],
        ),
        Endpoint(
            name="database",
            step="api_performance",
            path="/api/metrics/database",
            metrics=[
                figure(name="db_avg_query_time", path="avg_query_time", unit="ms"),
                figure(name="db_connection_pool_usage", path="connection_pool_usage", unit="%"),
                figure(name="db_active_connections", path="active_connections"),
            ],
        ),
        Endpoint(
            name="engagement",
            step="engagement",
            path="/api/analytics/engagement",
            metrics=[
                figure(name="active_users_24h", path="active_users_24h", unit="users"),
                figure(name="session_duration_avg", path="session_duration_avg", unit="s"),
                figure(name="completion_rate", path="completion_rate", unit="%"),
                figure(name="satisfaction_score", path="satisfaction_score"),
            ],
        ),
        Endpoint(
            name="security-dashboard",
            step="security",
            path="/api/security/dashboard",
            metrics=[
                figure(
                    name="threat_level",
                    path="threat_level",
                    values={"low": 0, "medium": 1, "high": 2, "critical": 3},
                    limit=Limit(warn=2, fail=3),
                ),
                figure(name="blocked_threats_24h", path="blocked_threats_24h", unit="threats"),
                figure(name="security_events_24h", path="security_events_24h", unit="events"),
                figure(
                    name="vulnerability_count",
                    path="vulnerability_count",
                    unit="vulnerabilities",
                    limit=Limit(warn=1, fail=5),
                ),
            ],
        ),
        Endpoint(
            name="security-status",
            step="security",
            path="/api/security/status",
            conditions=[ConditionSpec(condition="[BODY].status == secure")],
        ),
        Endpoint(
            name="system",
            step="resources",
            path="/api/metrics/system",
            metrics=[
                figure(name="cpu", path="cpu.usage_percent", unit="%", threshold="resources.cpu_pct"),
                figure(name="memory", path="memory.usage_percent", unit="%", threshold="resources.memory_pct"),
                figure(name="disk", path="disk.usage_percent", unit="%", threshold="resources.disk_pct"),
            ],
        ),
        Endpoint(
            name="rum",
            step="rum",
            path="/api/analytics/rum",
            metrics=[
                *(_rum(v, p, t, u) for v, t, u in _VITALS for p in ("p50", "p75", "p95")),
                figure(name="bounce_rate", path="user_experience.bounce_rate", unit="%"),
                figure(name="avg_session_duration", path="user_experience.avg_session_duration", unit="s"),
                figure(name="page_views_per_session", path="user_experience.page_views_per_session"),
                figure(name="conversion_rate", path="user_experience.conversion_rate", unit="%"),
            ],
        ),
        Endpoint(
            name="performance",
            step="error_rate",
            path="/api/metrics/performance",
            metrics=[
                figure(name="error_rate_24h", path="error_rate", unit="%", threshold="api.error_rate_pct"),
                figure(name="avg_response_time_24h", path="avg_response_time", unit="ms"),
            ],
        ),
    ]


class JsonApiSource(Section):
    """An application's JSON metrics API (Gatus-like: base_url is all that is required)."""

    kind: Literal["json_api"] = "json_api"
    name: str = Field("app", pattern=_NAME, description="shown on results and stored with every sample")
    base_url: TargetUrl
    headers: HeaderMap = Field(default_factory=dict, description="e.g. Authorization: Bearer ${APP_API_TOKEN}")
    timeout_s: float | None = Field(None, gt=0, le=300, description="overrides http.timeout_s")
    verify_tls: bool = Field(True, description="false: no certificate check at all; every result says so")
    ca_bundle: Path | None = Field(None, description="CA certificates (PEM) for this source; overrides http.ca_bundle")
    follow_redirects: bool = Field(False, description="follow 3xx answers, at most max_redirects hops")
    max_redirects: int = Field(5, ge=1, le=20)
    failure_threshold: int = Field(1, ge=1, le=100, description="consecutive failures before a check fails")
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    endpoints: list[Endpoint] = Field(default_factory=runbook_endpoints, description="default: the runbook's API")

    _trusted = field_validator("ca_bundle")(ca_bundle_file)

    @model_validator(mode="after")
    def _unique_names(self) -> JsonApiSource:
        # Endpoint and metric names both become result targets (`app/rum`, `app/rum_lcp_p75`).
        names = [e.name for e in self.endpoints] + [m.name for e in self.endpoints for m in e.metrics]
        if duplicate := next((n for n in names if names.count(n) > 1), None):
            raise ValueError(
                f"name {duplicate!r} is used twice in this source (endpoint and metric names must all differ)"
            )
        return self

    def url(self, endpoint: Endpoint) -> str:
        """base_url's path joined with the endpoint's; a query in base_url (an API key) is kept."""
        base = urlsplit(str(self.base_url))
        return urlunsplit(base._replace(path=base.path.rstrip("/") + endpoint.path))


def _unique_source_names(sources: list[JsonApiSource]) -> list[JsonApiSource]:
    names = [source.name for source in sources]
    if duplicate := next((n for n in names if names.count(n) > 1), None):
        raise ValueError(f"source name {duplicate!r} is used twice; give each source its own `name`")
    return sources


JsonApiSources = Annotated[list[JsonApiSource], AfterValidator(_unique_source_names)]
