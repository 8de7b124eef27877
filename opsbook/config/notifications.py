"""Notification channels, routing rules, grouping and repeat: where alerts and incidents go.

Webhook URLs and SMTP passwords are credentials: each is registered as a secret when the config
loads (even when written literally) so `redact()` hides it at every sink.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, field_validator, model_validator

from opsbook.config.fields import HeaderMap, TargetUrl, relative_to_config
from opsbook.config.thresholds import Section
from opsbook.config.tls import ca_bundle_file
from opsbook.secrets import register_credentials, register_secret

ALERT_TYPES = ("performance", "security", "infrastructure", "application", "other")
_NAME = r"^[a-z0-9][a-z0-9_-]*$"


class _Channel(Section):
    name: str = Field(pattern=_NAME, description="referred to by routes")


class SlackChannel(_Channel):
    """A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat): posts `{"text": ...}`."""

    type: Literal["slack"]
    url: TargetUrl
    ca_bundle: Path | None = Field(None, description="CA certificates (PEM) for this URL; overrides http.ca_bundle")

    _trusted = field_validator("ca_bundle")(ca_bundle_file)

    @field_validator("url")
    @classmethod
    def _secret(cls, url: AnyHttpUrl) -> AnyHttpUrl:
        register_secret(str(url))
        return url


class WebhookChannel(_Channel):
    """A generic JSON webhook; the body is signed with HMAC-SHA256 when a secret is set."""

    type: Literal["webhook"]
    url: TargetUrl
    secret: str | None = Field(None, description="HMAC key, from ${ENV}")
    signature_header: str = Field("X-Opsbook-Signature", description="carries `sha256=<hex digest of the body>`")
    headers: HeaderMap = Field(default_factory=dict)
    ca_bundle: Path | None = Field(None, description="CA certificates (PEM) for this URL; overrides http.ca_bundle")

    _trusted = field_validator("ca_bundle")(ca_bundle_file)

    @model_validator(mode="after")
    def _secrets(self) -> WebhookChannel:
        register_secret(str(self.url))
        if self.secret:
            register_secret(self.secret)
        return self


class EmailChannel(_Channel):
    """SMTP email; STARTTLS by default; the password comes from ${ENV}."""

    type: Literal["email"]
    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    ca_file: Path | None = Field(None, description="CA bundle to verify the server (default: system CAs)")
    username: str | None = None
    password: str | None = None
    sender: str = Field(min_length=3, description="From address")
    to: list[str] = Field(min_length=1)
    timeout_s: float = Field(10, gt=0, le=120)

    @field_validator("password")
    @classmethod
    def _secret(cls, password: str | None) -> str | None:
        if password:
            register_secret(password)
        return password

    _resolve_ca = field_validator("ca_file")(relative_to_config)

    @model_validator(mode="after")
    def _login_secret(self) -> EmailChannel:
        """A server echoing the AUTH exchange in an error shows the base64 of user and password."""
        if self.username and self.password:
            register_credentials(self.username, self.password)
        return self


class PrefectChannel(_Channel):
    """A Prefect notification block, loaded by its name (`slack-webhook/ops-alerts`)."""

    type: Literal["prefect"]
    block: str = Field(min_length=3, pattern=r"^[a-z0-9-]+/[a-z0-9-]+$")


Channel = Annotated[SlackChannel | WebhookChannel | EmailChannel | PrefectChannel, Field(discriminator="type")]


class RouteMatch(Section):
    """All given conditions must hold; an empty list or map matches everything."""

    types: list[Literal["performance", "security", "infrastructure", "application", "other"]] = Field(
        default_factory=list
    )
    severities: list[Literal["P0", "P1", "P2", "P3"]] = Field(default_factory=list)
    components: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)


class Route(Section):
    match: RouteMatch = Field(default_factory=RouteMatch)
    channels: list[str] = Field(min_length=1)
    continue_: bool = Field(False, alias="continue", description="also try the next routes after a match")


class NotificationsConfig(Section):
    channels: list[Channel] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list, description="first match wins unless `continue: true`")
    default_channels: list[str] | None = Field(None, description="when no route matches (default: every channel)")
    group_by: list[Literal["type", "severity", "component", "check"]] = Field(["type", "severity"])
    group_window_s: float = Field(0, ge=0, le=86400, description="wait this long to batch new alerts of a group")
    repeat_interval_s: float = Field(14400, gt=0, description="re-notify a still-firing alert after this long")
    retries: int = Field(2, ge=0, le=10, description="extra delivery attempts after a transient failure")
    templates_dir: Path | None = Field(None, description="your own message templates, same file names")
    reports: list[str] = Field(
        default_factory=list,
        description="channels that get each checklist's verdict and what needs attention, "
        "with a link to the report (email: the whole report)",
    )
    reports_when: Literal["always", "amber", "red"] = Field(
        "always", description="send the report digest always, or only when the verdict is at least amber / red"
    )

    _resolve_templates = field_validator("templates_dir")(relative_to_config)

    @model_validator(mode="after")
    def _known_channels(self) -> NotificationsConfig:
        names = [c.name for c in self.channels]
        if duplicates := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"channels: names used twice: {', '.join(duplicates)}")
        referred = [(f"routes[{i}].channels", n) for i, r in enumerate(self.routes) for n in r.channels]
        referred += [("default_channels", n) for n in self.default_channels or []]
        referred += [("reports", n) for n in self.reports]
        for where, name in referred:
            if name not in names:
                raise ValueError(f"{where}: unknown channel {name!r} (known: {', '.join(names) or 'none'})")
        return self

    def channel(self, name: str) -> Channel:
        return next(c for c in self.channels if c.name == name)
