"""Hosting platforms and their health endpoints (the runbook's fly, railway and render)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from opsbook.config.fields import HeaderMap, TargetUrl
from opsbook.config.thresholds import Limit, Section


class Platform(Section):
    """One health endpoint. Only `name` and `url` are required, as in Gatus."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    url: TargetUrl
    method: Literal["GET", "HEAD"] = "GET"
    expected_status: list[int] = Field(default_factory=lambda: [200])
    latency_ms: Limit | None = Field(None, description="overrides thresholds.http.latency_ms")
    timeout_s: float | None = Field(None, gt=0, le=300, description="overrides http.timeout_s")
    headers: HeaderMap = Field(default_factory=dict)
    verify_tls: bool = True

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
