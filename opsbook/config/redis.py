"""Redis servers watched by the daily health check: PING, memory, clients, rejections, evictions.

Only `name` and `host` are required. The password is a credential: write `${ENV_VAR}`; it is
registered as a secret when the config loads (even when written literally), so `redact()` hides
it at every sink. Thresholds follow the usual Redis guidance; override any of them per server.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from opsbook.config.fields import unique_names
from opsbook.config.thresholds import Limit, Section, limit
from opsbook.secrets import register_secret


class RedisLimits(Section):
    """Per-server thresholds. The two counters warn from the first event since the previous check."""

    # Redis answers PING in microseconds and a LAN round trip is well under 1 ms: 10 ms means a
    # busy server (slow commands, swapping, a fork for persistence) or a distant network.
    latency_ms: Limit = limit(10, 100)
    # Of maxmemory; with maxmemory 0 (unlimited), of the host's memory as Redis reports it.
    memory_pct: Limit = limit(80, 90)
    clients_pct: Limit = limit(80, 95)  # of maxclients: past it, new connections are refused
    rejected_connections: Limit = limit(1, None)  # refused since the previous check (maxclients reached)
    evicted_keys: Limit = limit(1, None)  # evicted since the previous check; raise it for a cache that evicts by design


class RedisServer(Section):
    """One Redis server, reached over TCP (TLS when `tls`)."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="shown on results")
    host: str = Field(min_length=1, description="a host name or address, without scheme or port")
    port: int = Field(6379, ge=1, le=65535)
    username: str | None = Field(None, description="an ACL user (Redis 6+); default: the `default` user")
    password: str | None = Field(None, description="write ${ENV_VAR}; never literal")
    tls: bool = Field(False, description="connect with TLS, verified against the system CAs")
    connect_timeout_s: float = Field(5, gt=0, le=60)
    timeout_s: float = Field(5, gt=0, le=60, description="for each reply once connected")
    thresholds: RedisLimits = Field(default_factory=RedisLimits)

    @field_validator("host")
    @classmethod
    def _bare_host(cls, host: str) -> str:
        if "://" in host or "/" in host:
            raise ValueError("must be a host name or address, not a URL (e.g. redis.internal)")
        if host.count(":") == 1:
            raise ValueError("must not carry the port: write it as `port`")
        return host

    @field_validator("password")
    @classmethod
    def _secret(cls, password: str | None) -> str | None:
        if password:
            register_secret(password)
        return password

    @property
    def address(self) -> str:
        """`host:port`, as results and messages show it (`[::1]:6379` for IPv6)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


RedisList = Annotated[list[RedisServer], AfterValidator(lambda items: unique_names(items, "redis"))]
