"""Hosting platforms and their health endpoints (the runbook's fly, railway and render)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from opsbook.config.conditions import ConditionSpec
from opsbook.config.fields import HeaderMap, TargetUrl
from opsbook.config.thresholds import Limit, Section
from opsbook.config.tls import ca_bundle_file
from opsbook.json_path import PathParts, parse_path

# The last path segment of URLs that are health APIs: their answer is JSON (or plain text), and
# an HTML page there is a maintenance page, a login wall or a proxy's error, never health.
_HEALTH_SEGMENTS = frozenset(
    {"health", "healthz", "healthcheck", "health-check", "livez", "readyz", "ready", "live", "status", "ping"}
)


class BodyStatus(Section):
    """How a JSON health body's own verdict is read: the field, and which values are not healthy.

    Values compare case-insensitively. The defaults follow the common health formats (Spring
    Boot's UP/DOWN/OUT_OF_SERVICE, the IETF health-check draft's pass/warn/fail, and the usual
    ok/degraded/unhealthy): degraded and warn are `warn` (the platform answers, with part of it
    impaired), the others `fail`.
    """

    path: str = Field("status", min_length=1, description="JSON path of the verdict in the body")
    warn: list[str] = Field(default_factory=lambda: ["degraded", "warn", "warning"])
    fail: list[str] = Field(
        default_factory=lambda: ["unhealthy", "down", "error", "fail", "failed", "failure", "out_of_service"]
    )

    @field_validator("path")
    @classmethod
    def _valid_path(cls, value: str) -> str:
        parse_path(value)
        return value

    @property
    def parts(self) -> PathParts:
        return parse_path(self.path)

    def judge(self, value: object) -> Literal["warn", "fail"] | None:
        """`warn` or `fail` when the value names an unhealthy state; None for anything else."""
        if not isinstance(value, str):
            return None
        said = value.strip().lower()
        if said in (v.lower() for v in self.fail):
            return "fail"
        if said in (v.lower() for v in self.warn):
            return "warn"
        return None


class Platform(Section):
    """One health endpoint. Only `name` and `url` are required, as in Gatus."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    url: TargetUrl
    method: Literal["GET", "HEAD"] = "GET"
    expected_status: list[int] = Field(default_factory=lambda: [200])
    latency_ms: Limit | None = Field(None, description="overrides thresholds.http.latency_ms")
    timeout_s: float | None = Field(None, gt=0, le=300, description="overrides http.timeout_s")
    headers: HeaderMap = Field(default_factory=dict)
    verify_tls: bool = Field(True, description="false: no certificate check at all; every result says so")
    ca_bundle: Path | None = Field(None, description="CA certificates (PEM) for this target; overrides http.ca_bundle")
    conditions: list[ConditionSpec] = Field(
        default_factory=list, description="Gatus-style, e.g. [BODY].status == ok or [CERTIFICATE_EXPIRATION] > 30d"
    )
    body_status: BodyStatus | None = Field(
        default_factory=BodyStatus, description="the JSON body's own verdict (`status: degraded`); null: not read"
    )
    expect_json: bool | None = Field(
        None,
        description="an HTML answer fails; default: when the URL is a health API (…/health, /healthz, /status, …) "
        "or a condition reads [BODY]",
    )
    follow_redirects: bool = Field(False, description="follow 3xx answers (GET/HEAD), at most max_redirects hops")
    max_redirects: int = Field(5, ge=1, le=20)
    failure_threshold: int = Field(1, ge=1, le=100, description="consecutive failures before the result is fail")
    success_threshold: int = Field(1, ge=1, le=100, description="consecutive successes before a failure is over")

    _trusted = field_validator("ca_bundle")(ca_bundle_file)

    @field_validator("expected_status", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, int) else value

    @field_validator("expected_status")
    @classmethod
    def _http_codes(cls, value: list[int]) -> list[int]:
        bad = [code for code in value if not 100 <= code <= 599]
        if bad or not value:
            raise ValueError(f"must be HTTP status codes between 100 and 599, got {bad or 'none'}")
        return value

    @model_validator(mode="after")
    def _certificate_needs_https(self) -> Platform:
        if self.url.scheme != "https" and any(spec.parsed.needs_certificate for spec in self.conditions):
            raise ValueError(f"[CERTIFICATE_EXPIRATION] needs an https:// url, not {self.url.scheme}://")
        return self

    @property
    def expects_json(self) -> bool:
        """Whether the answer must be JSON: asked for, a condition reads it, or the URL is a health API."""
        if self.expect_json is not None:
            return self.expect_json
        if any(spec.parsed.needs_body for spec in self.conditions):
            return True
        segments = [s for s in urlsplit(str(self.url)).path.lower().split("/") if s]
        return bool(segments) and segments[-1] in _HEALTH_SEGMENTS

    @property
    def needs_certificate(self) -> bool:
        return any(spec.parsed.needs_certificate for spec in self.conditions)
