"""Secret canary: every secret-bearing config field carries a unique string; none may reach a sink.

A full daily checklist runs (with the alert processing it triggers) against targets that echo back
everything they receive, while every notification channel fails. Afterwards the report, the status
page, every Prefect artifact and log line, the captured output and every history row (read through
SQLAlchemy and as raw database and WAL bytes) are searched for each canary.
"""

from __future__ import annotations

import base64
import html
import json
import urllib.parse
import uuid
from pathlib import Path

import pytest
from sqlalchemy import MetaData, create_engine, inspect, select

from opsbook.demo.server import LoopbackServer, Reply, Request
from opsbook.results import Verdict
from tests.conftest import free_port
from tests.helpers import write_config
from tests.test_daily_flow import read_back, run

pytestmark = pytest.mark.usefixtures("prefect_server")

# Every secret-bearing field of the config, by its key path. Each gets its own canary.
FIELDS = [
    "platforms[0].url",
    "platforms[0].headers",
    "databases[0].url",
    "databases[0].maintenance_url",
    "metrics_sources[0].headers",
    "metrics_sources[0].endpoints[0].headers",
    "resources.prometheus.url",
    "resources.prometheus.headers",
    "resources.prometheus.bearer_token",
    "security.headers.urls",
    "backups.source_url",
    "backups.repositories[0].encryption.passphrase",
    "backups.restore_server.url",
    "backups.disaster_recovery.targets[0].url",
    "backups.disaster_recovery.switch_over[0].webhook",
    "maintenance.cache_actions[0].url",
    "maintenance.cache_actions[0].headers",
    "notifications.slack.url",
    "notifications.webhook.url",
    "notifications.webhook.secret",
    "notifications.webhook.headers",
    "notifications.email.password",
    "incidents.deploy_log",
    "incidents.dependencies[0].url",
]


class _EchoEverywhere(dict):
    """Routes that answer every path with a 500 echoing the request: path, query, headers, body."""

    def get(self, _path: str, _default: object = None):
        return _echo


def _echo(request: Request) -> Reply:
    return Reply(
        500,
        json.dumps(
            {
                "path": request.path,
                "query": request.query,
                "headers": dict(request.headers),
                "body": request.body.decode(errors="replace"),
            }
        ),
        {"Content-Type": "application/json"},
    )


def _config(tmp_path: Path, echo: LoopbackServer, env: dict[str, str]) -> dict:
    """A config where the field named F holds `${ENV}` whose value is env's canary for F."""
    ref = {field: f"${{{name}}}" for field, name in zip(FIELDS, env, strict=True)}
    base, refused = echo.url(""), f"127.0.0.1:{free_port()}"
    (tmp_path / "backups" / "app").mkdir(parents=True)
    return {
        "estate": "canary estate",
        "history": {"url": f"sqlite:///{tmp_path / 'history.db'}"},
        "reports": {"directory": str(tmp_path / "reports")},
        "http": {"timeout_s": 2, "retries": 0, "backoff_s": 0.01},
        "platforms": [
            {
                "name": "fly",
                "url": f"{base}/health?key={ref['platforms[0].url']}",
                "headers": {"Authorization": f"Bearer {ref['platforms[0].headers']}"},
            }
        ],
        "databases": [
            {
                "name": "app",
                "url": f"postgresql+psycopg://mon:{ref['databases[0].url']}@{refused}/app",
                "maintenance_url": f"postgresql+psycopg://admin:{ref['databases[0].maintenance_url']}@{refused}/app",
                "connect_timeout_s": 2,
            }
        ],
        "metrics_sources": [
            {
                "name": "app",
                "base_url": f"{base}/",
                "headers": {"Authorization": f"Bearer {ref['metrics_sources[0].headers']}"},
                "endpoints": [
                    {
                        "name": "vitals",
                        "step": "web_vitals",
                        "path": "/api/vitals",
                        "headers": {"X-Api-Key": ref["metrics_sources[0].endpoints[0].headers"]},
                    }
                ],
            }
        ],
        "resources": {
            "prometheus": {
                "url": f"{base}/prom/{ref['resources.prometheus.url']}",
                "headers": {"X-Scope-OrgID": ref["resources.prometheus.headers"]},
                "bearer_token": ref["resources.prometheus.bearer_token"],
            }
        },
        "security": {
            "headers": {"urls": [f"{base}/sec?token={ref['security.headers.urls']}"], "check_platforms": True}
        },
        "backups": {
            "source_url": f"postgresql+psycopg://dump:{ref['backups.source_url']}@{refused}/app",
            "repositories": [
                {
                    "name": "app",
                    "path": str(tmp_path / "backups" / "app"),
                    "database": "app",
                    "encryption": {
                        "required": True,
                        "passphrase": ref["backups.repositories[0].encryption.passphrase"],
                    },
                }
            ],
            "restore_server": {
                "url": f"postgresql+psycopg://restore:{ref['backups.restore_server.url']}@{refused}/postgres"
            },
            "disaster_recovery": {
                "targets": [
                    {
                        "name": "dr",
                        "repository": "app",
                        "url": f"postgresql+psycopg://dr:{ref['backups.disaster_recovery.targets[0].url']}@{refused}/app",
                    }
                ],
                "switch_over": [
                    {
                        "name": "dns",
                        "webhook": f"{base}/dns?k={ref['backups.disaster_recovery.switch_over[0].webhook']}",
                    }
                ],
            },
        },
        "maintenance": {
            "cache_actions": [
                {
                    "name": "purge",
                    "url": f"{base}/purge?k={ref['maintenance.cache_actions[0].url']}",
                    "headers": {"X-Purge-Key": ref["maintenance.cache_actions[0].headers"]},
                }
            ]
        },
        "notifications": {
            "channels": [
                {"type": "slack", "name": "slack", "url": f"{base}/slack/{ref['notifications.slack.url']}"},
                {
                    "type": "webhook",
                    "name": "hook",
                    "url": f"{base}/hook?k={ref['notifications.webhook.url']}",
                    "secret": ref["notifications.webhook.secret"],
                    "headers": {"Authorization": ref["notifications.webhook.headers"]},
                },
                {
                    "type": "email",
                    "name": "mail",
                    "host": "127.0.0.1",
                    "port": free_port(),
                    "starttls": False,
                    "username": "ops",
                    "password": ref["notifications.email.password"],
                    "sender": "ops@example.test",
                    "to": ["oncall@example.test"],
                    "timeout_s": 2,
                },
            ],
            "retries": 0,
            "reports": ["slack", "hook", "mail"],
        },  # the report digest fails on every channel too
        "incidents": {
            "deploy_log": f"{base}/deploys?k={ref['incidents.deploy_log']}",
            "dependencies": [{"name": "payments", "url": f"{base}/dep?k={ref['incidents.dependencies[0].url']}"}],
        },
    }


def _history_text(db: Path) -> str:
    """Every row of every table, read through SQLAlchemy."""
    engine = create_engine(f"sqlite:///{db}")
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        rows = [
            repr(tuple(row))
            for name in inspect(engine).get_table_names()
            for row in connection.execute(select(metadata.tables[name]))
        ]
    engine.dispose()
    assert rows, "the history holds no rows at all"
    return "\n".join(rows)


# Every character that HTML, JSON, URLs or a shell escape; a secret holding them travels encoded.
SPECIALS = "&'<>\"\\ %+/=?#"


def encoded_forms(secret: str) -> dict[str, str]:
    """The forms a sink may hold a secret in, computed here independently of opsbook.secrets."""
    raw = secret.encode()
    return {
        "plain": secret,
        "html": html.escape(secret),
        "html, quotes kept": html.escape(secret, quote=False),
        "decimal entities": "".join(f"&#{ord(c)};" if not c.isalnum() else c for c in secret),
        "hex entities": "".join(f"&#x{ord(c):x};" if not c.isalnum() else c for c in secret),
        "json": json.dumps(secret)[1:-1],
        "json \\u00XX": "".join(f"\\u{ord(c):04x}" if not c.isalnum() else c for c in secret),
        "json, Go-style": json.dumps(secret)[1:-1]
        .replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e"),
        "percent-encoded": urllib.parse.quote(secret, safe=""),
        "percent-encoded, / kept": urllib.parse.quote(secret),
        "form-encoded": urllib.parse.quote_plus(secret),
        "base64": base64.b64encode(raw).decode(),
        "base64 url-safe": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "AUTH PLAIN": base64.b64encode(b"\0ops\0" + raw).decode(),
    }


@pytest.mark.parametrize("special", [False, True], ids=["alphanumeric", "every-special-character"])
def test_no_canary_reaches_any_sink_after_a_full_failing_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], special: bool
) -> None:
    tag = uuid.uuid4().hex[:8]
    env = {f"OPSBOOK_CANARY_{i}": f"canary{i:02d}{SPECIALS if special else 'x'}{tag}q" for i in range(len(FIELDS))}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with LoopbackServer() as echo:
        echo.routes = _EchoEverywhere()
        path = write_config(tmp_path, _config(tmp_path, echo, env))
        state, outcome = run(path)
    assert echo.hits, "the echo targets were never called"
    # Red, and Failed as well: the digests to the echoing channels could not be delivered.
    assert state.is_failed() and outcome.verdict is Verdict.RED and outcome.report_path is not None
    assert any(note.startswith("report not sent to") for note in outcome.notes), outcome.notes

    sinks: dict[str, str] = {"report": outcome.report_path.read_text()}
    for file in (tmp_path / "reports").rglob("*"):  # the status page and anything else written there
        if file.is_file():
            sinks[f"file {file.name}"] = file.read_bytes().decode(errors="replace")
    assert "file status.html" in sinks, "the alert processing wrote no status page"
    artifacts, logs = read_back(outcome.run_id)
    assert artifacts and logs
    sinks["artifacts"] = "\n".join(f"{a.key} {a.description} {a.data}" for a in artifacts)
    sinks["logs"] = "\n".join(log.message for log in logs)
    sinks["state message"] = state.message or ""
    out, err = capfd.readouterr()
    sinks["stdout"], sinks["stderr"] = out, err
    db = tmp_path / "history.db"
    sinks["history rows"] = _history_text(db)
    sinks["history bytes"] = b"".join(
        p.read_bytes() for p in (db, db.with_name("history.db-wal")) if p.exists()
    ).decode("latin-1")

    # The run did exercise the failing paths: deliveries were attempted and failed.
    assert any(hit.startswith(("/slack", "/hook")) for hit in echo.hits), echo.hits
    leaks = [
        f"{field} -> {sink} ({form})"
        for field, canary in zip(FIELDS, env.values(), strict=True)
        for form, encoded in encoded_forms(canary).items()
        for sink, text in sinks.items()
        if encoded in text
    ]
    assert not leaks, "canaries leaked:\n" + "\n".join(leaks)
