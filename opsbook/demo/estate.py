"""The demo estate: the runbook's three platforms on loopback, one of them degraded.

Beside them: the application's JSON metrics API, a TLS endpoint and logs for the security
check, and this host's own resources. `opsbook demo` starts it, writes a config pointing at
it, and runs the daily checklist, so a first run needs no setup at all.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from opsbook.demo.app_api import app_api_routes
from opsbook.demo.security import start_security
from opsbook.demo.server import LoopbackServer, Reply, Request

DEGRADED_PLATFORM = "render"
APP_TOKEN_ENV = "OPSBOOK_DEMO_API_TOKEN"  # the app API's bearer token, a secret read via ${ENV}


def _healthy(name: str):
    def handler(_request: Request) -> Reply:
        return Reply.json({"status": "healthy", "platform": name, "version": "2.4.1"}, delay_s=0.02)

    return handler


def _degraded(_request: Request) -> Reply:
    return Reply.json({"status": "unhealthy", "reason": "database connection pool exhausted"}, status=503)


@dataclass
class DemoEstate:
    servers: dict[str, LoopbackServer]
    workdir: Path
    app_api: LoopbackServer | None = None  # the application's JSON metrics API
    security: dict | None = None

    def config(self) -> dict:
        return {
            "estate": "Learning Assistant (demo)",
            "history": {"url": f"sqlite:///{self.workdir / 'history.db'}"},
            "reports": {"directory": str(self.workdir / "reports")},
            "http": {"timeout_s": 5, "retries": 1, "backoff_s": 0.2},
            "platforms": [{"name": name, "url": server.url("/api/health")} for name, server in self.servers.items()],
            **({"security": self.security} if self.security else {}),
            "resources": {"host": {"mountpoints": ["/"]}},  # this machine's CPU, memory and disk
            "metrics_sources": [
                {
                    "kind": "json_api",
                    "name": "app",
                    "base_url": self.app_api.url("/"),
                    "headers": {"Authorization": f"Bearer ${{{APP_TOKEN_ENV}}}"},
                }
            ]
            if self.app_api
            else [],
        }

    def write_config(self) -> Path:
        path = self.workdir / "opsbook.yaml"
        path.write_text(
            "# Written by `opsbook demo`; ports change on every run.\n" + yaml.safe_dump(self.config(), sort_keys=False)
        )
        return path


@contextmanager
def demo_estate(workdir: Path) -> Iterator[DemoEstate]:
    """Start the demo servers for the duration of the block."""
    workdir.mkdir(parents=True, exist_ok=True)
    servers = {
        "fly": LoopbackServer({"/api/health": _healthy("fly")}),
        "railway": LoopbackServer({"/api/health": _healthy("railway")}),
        DEGRADED_PLATFORM: LoopbackServer({"/api/health": _degraded}),
    }
    app_api = LoopbackServer(app_api_routes(os.environ.setdefault(APP_TOKEN_ENV, secrets.token_urlsafe(24))))
    for server in [*servers.values(), app_api]:
        server.start()
    tls, security = start_security(workdir)
    try:
        yield DemoEstate(servers, workdir, app_api, security)
    finally:
        tls.stop()
        for server in [*servers.values(), app_api]:
            server.stop()
