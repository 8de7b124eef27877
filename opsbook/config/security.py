"""The `security` section: which logs, reports, certificates and URLs the security check reads.

Everything has a default except the paths, so a first config names only what exists, e.g.
`security: {auth_logs: [/var/log/auth.log]}`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from opsbook.config.fields import known_zone, relative_to_config
from opsbook.config.thresholds import Limit, Section, limit
from opsbook.config.tls import ca_bundle_file


class BruteForceRule(Section):
    """N failures from one source (address or host name) within M minutes is a brute force.

    In an auth log, one seen within the last `active_minutes` is under way and fails the check;
    an older one in the window warns (web logins warn either way).
    """

    failures: int = Field(10, ge=2, le=100_000, description="N: failures from one source")
    minutes: float = Field(10, gt=0, le=10_080, description="M: within this many minutes")
    active_minutes: float = Field(60, gt=0, le=10_080, description="a brute force this recent is under way: fail")
    enumeration_users: int = Field(5, ge=2, description="distinct invalid user names from one IP that flag enumeration")


class BurstRule(Section):
    """N 4xx/5xx answers to one IP within M minutes is a burst worth a look."""

    errors: int = Field(50, ge=2)
    minutes: float = Field(5, gt=0, le=10_080)


class CertificateTarget(Section):
    """One TLS endpoint to check; `server_name` defaults to the host."""

    endpoint: str = Field(pattern=r"^[^\s:]+:\d{1,5}$", description="host:port")
    server_name: str | None = Field(None, description="SNI and the name the certificate must match")
    ca_bundle: Path | None = Field(
        None,
        description="CA certificates (PEM) for this endpoint; overrides the policy's and http.ca_bundle",
    )

    _trusted = field_validator("ca_bundle")(ca_bundle_file)

    @property
    def host(self) -> str:
        return self.endpoint.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.endpoint.rsplit(":", 1)[1])

    @property
    def name(self) -> str:
        return self.server_name or self.host


class CertificatePolicy(Section):
    days_left: Limit = limit(30, 7, higher_is_worse=False)
    min_tls_version: str = Field("TLSv1.2", pattern=r"^TLSv1(\.[0-3])?$")
    ca_bundle: Path | None = Field(
        None,
        description="kept for older configs: CA certificates for the certificate check only; "
        "http.ca_bundle now serves every HTTPS call, this check included",
    )
    timeout_s: float = Field(10, gt=0, le=120)
    weak_signature_hashes: list[str] = Field(default_factory=lambda: ["md5", "sha1"])

    _absolute = field_validator("ca_bundle")(ca_bundle_file)

    @field_validator("days_left", mode="before")
    @classmethod
    def _fewer_days_is_worse(cls, value: object) -> object:
        # `{warn: 30, fail: 7}` reads naturally; fewer days left is worse unless said otherwise.
        return {"higher_is_worse": False, **value} if isinstance(value, dict) else value


class HeaderPolicy(Section):
    """Response headers every platform URL must send (names are case-insensitive)."""

    required: list[str] = Field(
        default_factory=lambda: [
            "Strict-Transport-Security",
            "Content-Security-Policy",
            "X-Content-Type-Options",
            "X-Frame-Options",
        ]
    )
    hsts_min_max_age_s: int = Field(15_552_000, ge=0, description="180 days, the common audit minimum")
    urls: list[str] = Field(default_factory=list, description="extra URLs besides the platforms'")
    check_platforms: bool = Field(
        False, description="check every platform URL too (opt-in: health endpoints often send none)"
    )


Severity = Literal["critical", "high", "medium", "low", "unknown"]


class VulnerabilityPolicy(Section):
    reports: list[Path] = Field(
        default_factory=list, description="pip-audit -f json, npm audit --json or OSV-Scanner JSON files"
    )
    fail_on: list[Severity] = Field(["critical"])
    warn_on: list[Severity] = Field(["high", "unknown"], description="pip-audit states no severity: unknown")
    max_age_days: float = Field(7, gt=0, description="an older report is stale: warn")

    @field_validator("reports")
    @classmethod
    def _absolute(cls, value: list[Path], info: ValidationInfo) -> list[Path]:
        return [relative_to_config(path, info) for path in value]


class SecurityConfig(Section):
    auth_logs: list[Path] = Field(default_factory=list, description="sshd/PAM syslog files")
    access_logs: list[Path] = Field(default_factory=list, description="web access logs, combined format")
    window_hours: float = Field(24, gt=0, le=24 * 90, description="the analysis window, ending now")
    syslog_timezone: str = Field("UTC", description="syslog lines carry no zone: the one they were written in")
    login_paths: list[str] = Field(default_factory=lambda: ["/login", "/api/auth/login", "/wp-login.php", "/admin"])
    brute_force: BruteForceRule = Field(default_factory=BruteForceRule)
    error_burst: BurstRule = Field(default_factory=BurstRule)
    vulnerabilities: VulnerabilityPolicy = Field(default_factory=VulnerabilityPolicy)
    certificates: list[CertificateTarget] = Field(default_factory=list)
    certificate_policy: CertificatePolicy = Field(default_factory=CertificatePolicy)
    headers: HeaderPolicy = Field(default_factory=HeaderPolicy)
    blocklist: Path | None = Field(None, description="nginx include of `deny <ip>;` lines the incident flow edits")

    @property
    def configured(self) -> bool:
        """True when there is anything to check (the daily checklist leaves the step out otherwise)."""
        return bool(
            self.auth_logs
            or self.access_logs
            or self.vulnerabilities.reports
            or self.certificates
            or self.headers.urls
            or self.headers.check_platforms
        )

    @field_validator("auth_logs", "access_logs")
    @classmethod
    def _absolute_logs(cls, value: list[Path], info: ValidationInfo) -> list[Path]:
        return [relative_to_config(path, info) for path in value]

    _absolute_blocklist = field_validator("blocklist")(relative_to_config)

    @field_validator("syslog_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)
