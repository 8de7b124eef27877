"""Incidents with a controlled clock: the record and its timeline, MTTD/MTTR, the runbook's
messages on a real webhook receiver, the escalation sweep, the status page and the CLI."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsbook.cli import app
from opsbook.incidents import (
    IncidentError,
    acknowledge,
    add_event,
    get_incident,
    list_incidents,
    open_incident,
    resolve,
)
from opsbook.results import CheckResult, Status
from opsbook.store import open_store
from opsbook.tasks.incidents import announce, refresh_status_page, sweep_escalations
from tests.helpers import estate, write_config
from tests.receivers import WebhookReceiver, start_smtp

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
SECRET_PATH = "/hook"


@pytest.fixture
def hooks() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


def config_for(tmp_path: Path, hooks: WebhookReceiver, **extra: object):
    return estate(
        tmp_path,
        estate="test estate",
        notifications={"channels": [{"name": "slack", "type": "slack", "url": hooks.url("/slack")}]},
        **extra,
    )


def test_lifecycle_timeline_mttd_mttr_and_messages(tmp_path: Path, hooks: WebhookReceiver) -> None:
    config = config_for(tmp_path, hooks)
    store = open_store(config.history.url)
    incident = open_incident(
        store,
        severity="high",
        description="checkout returns 502",
        component="api",
        impact="no orders",
        commander="Ana",
        started_at=T0 - 4 * MIN,
        now=T0,
    )
    assert incident.id == "INC-20261127-090000" and incident.severity == "P1" and incident.escalation_level == 2
    twin = open_incident(store, severity="P3", description="typo", component="web", now=T0)
    assert twin.id == "INC-20261127-090001"  # the same second: the next free id
    asyncio.run(announce(config, incident, "initial", T0))
    acknowledge(store, incident.id, actor="ana", now=T0 + 3 * MIN)
    with pytest.raises(IncidentError, match="not open"):
        acknowledge(store, incident.id, now=T0 + 4 * MIN)
    updated = add_event(store, incident.id, "rolled back to 2.4.0", kind="action", actor="ana", now=T0 + 10 * MIN)
    asyncio.run(
        announce(
            config,
            updated,
            "update",
            T0 + 10 * MIN,
            progress="error rate falling",
            completed_actions=["rollback to 2.4.0"],
            next_steps=["watch error rate"],
            eta="15 min",
        )
    )
    done = resolve(
        store,
        incident.id,
        root_cause="bad deploy 2.4.1",
        resolution="rolled back",
        preventive_measures="canary deploys",
        postmortem_on="2026-11-30",
        now=T0 + 26 * MIN,
    )
    asyncio.run(announce(config, done, "resolution", T0 + 26 * MIN))

    stored = get_incident(store, incident.id)
    assert [e.kind for e in stored.events] == ["opened", "acknowledged", "action", "resolved"]
    assert stored.mttd == 4 * MIN and stored.mttr == 26 * MIN and stored.time_to_acknowledge == 3 * MIN
    assert [i.id for i in list_incidents(store, open_only=True)] == [twin.id]

    initial, update, resolution = (r.json["text"] for r in hooks.on("/slack"))
    assert initial.startswith("🚨 INCIDENT NOTIFICATION\n\nIncident ID: INC-20261127-090000\nSeverity: High (P1)")
    assert "Start Time: 2026-11-27 08:56:00 UTC" in initial and "Impact: no orders" in initial
    assert "Next Update: in 15 minutes" in initial and "Contact: Ana" in initial
    assert "📋 INCIDENT UPDATE - INC-20261127-090000" in update and "Duration: 14 min" in update
    assert "Actions Completed:\n- rollback to 2.4.0" in update and "ETA to Resolution: 15 min" in update
    assert resolution.startswith("✅ INCIDENT RESOLVED - INC-20261127-090000")
    assert "Total Duration: 30 min" in resolution and "Root Cause: bad deploy 2.4.1" in resolution
    assert "Preventive Measures: canary deploys" in resolution and "Post-Mortem: 2026-11-30" in resolution


def test_templates_can_be_overridden_by_path(tmp_path: Path, hooks: WebhookReceiver) -> None:
    custom = tmp_path / "mine"
    custom.mkdir()
    (custom / "msg_initial.txt.j2").write_text("OUR FORMAT {{ incident.id }} {{ incident.severity }}\n")
    config = estate(
        tmp_path,
        notifications={
            "templates_dir": str(custom),
            "channels": [{"name": "slack", "type": "slack", "url": hooks.url("/slack")}],
        },
    )
    incident = open_incident(open_store(config.history.url), severity="P2", description="x", component="c", now=T0)
    asyncio.run(announce(config, incident, "initial", T0))
    assert hooks.on("/slack")[0].json["text"] == "OUR FORMAT INC-20261127-090000 P2\n"


def test_sweep_escalates_unacknowledged_p0_p1_past_their_response_time(tmp_path: Path, hooks: WebhookReceiver) -> None:
    config = config_for(tmp_path, hooks)
    store = open_store(config.history.url)
    p1 = open_incident(store, severity="P1", description="slow api", component="api", now=T0)
    p0 = open_incident(store, severity="P0", description="site down", component="web", now=T0 + timedelta(seconds=1))
    p2 = open_incident(store, severity="P2", description="minor", component="web", now=T0 + timedelta(seconds=2))
    acked = open_incident(store, severity="P0", description="acked", component="db", now=T0 + timedelta(seconds=3))
    acknowledge(store, acked.id, now=T0 + MIN)
    assert (p0.escalation_level, p1.escalation_level) == (3, 2)

    assert asyncio.run(sweep_escalations(config, T0 + 5 * MIN)) == []  # P0 responds within 5 min: not past yet
    first = asyncio.run(sweep_escalations(config, T0 + 6 * MIN))
    assert [(i.id, i.escalation_level) for i in first] == [(p0.id, 4)]
    second = asyncio.run(sweep_escalations(config, T0 + 16 * MIN))
    assert [(i.id, i.escalation_level) for i in second] == [(p1.id, 3)]
    assert asyncio.run(sweep_escalations(config, T0 + 20 * MIN)) == []  # P0 is at the top; P1 waits again
    assert get_incident(store, p2.id).escalation_level == 1 and get_incident(store, acked.id).escalation_level == 3
    texts = [r.json["text"] for r in hooks.on("/slack")]
    assert texts[0].startswith(f"⏫ INCIDENT ESCALATED - {p0.id} to level 4 (Executive Team)")
    assert "Contact: cto@company.com" in texts[0]
    assert texts[1].startswith(f"⏫ INCIDENT ESCALATED - {p1.id} to level 3 (Engineering Leadership)")
    assert [e.kind for e in get_incident(store, p1.id).events] == ["opened", "escalated"]


@pytest.mark.parametrize("email_contacts", [True, False])
def test_escalation_emails_the_contacts_of_the_level_reached_when_asked(tmp_path: Path, email_contacts: bool) -> None:
    smtp, controller = start_smtp(tmp_path, "opsbook", "smtp-pw-7")
    try:
        config = estate(
            tmp_path,
            estate="test estate",
            escalation={
                "email_contacts": email_contacts,
                "levels": {
                    level: {
                        "name": f"L{level}",
                        "response_minutes": 15 * level,
                        "contacts": [{"email": f"level{level}@example.test", "phone": "+1 555 0100"}],
                    }
                    for level in (1, 2, 3, 4)
                },
            },
            notifications={
                "retries": 0,
                "channels": [
                    {
                        "name": "mail",
                        "type": "email",
                        "host": "127.0.0.1",
                        "port": smtp.port,
                        "ca_file": str(smtp.ca_file),
                        "username": "opsbook",
                        "password": "smtp-pw-7",
                        "sender": "opsbook@example.test",
                        "to": ["ops@example.test", "level4@example.test"],
                    }
                ],
            },
        )
        store = open_store(config.history.url)
        p0 = open_incident(store, severity="P0", description="site down", component="web", now=T0)
        asyncio.run(announce(config, p0, "initial", T0))
        [escalated] = asyncio.run(sweep_escalations(config, T0 + 6 * MIN))
    finally:
        controller.stop()
    assert escalated.escalation_level == 4
    if email_contacts:  # a P0 opens at level 3, then reaches level 4; a recipient already listed is not doubled
        assert smtp.envelopes == [
            ["ops@example.test", "level4@example.test", "level3@example.test"],
            ["ops@example.test", "level4@example.test"],
        ]
        assert smtp.messages[0]["To"] == "ops@example.test, level4@example.test, level3@example.test"
    else:
        assert smtp.envelopes == [["ops@example.test", "level4@example.test"]] * 2
    assert (
        "ESCALATED" in smtp.messages[1]["Subject"] or "ESCALATED" in smtp.messages[1].get_body(("plain",)).get_content()
    )


def test_status_page_shows_components_incidents_and_uptime(tmp_path: Path) -> None:
    config = estate(tmp_path, estate="Learning Assistant")
    store = open_store(config.history.url)
    for day in range(3):  # fly up every day; render down on the last day
        at = T0 - timedelta(days=2 - day)
        results = [
            CheckResult(check="platform.health", target="fly", component="platforms", status=Status.OK, started_at=at),
            CheckResult(
                check="platform.health",
                target="render",
                component="platforms",
                status=Status.FAIL if day == 2 else Status.OK,
                started_at=at,
            ),
        ]
        store.record_run(
            run_id=f"run-{day}", flow="daily-checklist", estate="x", started_at=at, finished_at=at, results=results
        )
    incident = open_incident(store, severity="P1", description="render <down>", component="platforms", now=T0)
    add_event(store, incident.id, "investigating the pool", now=T0 + MIN)
    page = refresh_status_page(config, T0 + 2 * MIN).read_text()
    assert page == (tmp_path / "reports" / "status.html").read_text()
    assert 'id="overall">Partial outage</div>' in page
    assert "render &lt;down&gt;" in page and "investigating the pool" in page and incident.id in page
    assert re.search(r"<strong>platforms</strong>.*fly: ok · render: fail.*Outage", page, re.S)
    assert page.count("<rect") == 180  # 90 daily bars for each of the two platforms
    assert "2026-11-27: 0.00%" in page and "2026-11-26: 100.00%" in page and "2026-08-30: no data" in page
    assert "<script" not in page and "http" not in page.replace("http-equiv", "").replace("http://www.w3.org", "")


def test_cli_incident_silence_and_notify(tmp_path: Path, hooks: WebhookReceiver) -> None:
    path = write_config(
        tmp_path,
        {
            "history": {"url": f"sqlite:///{tmp_path / 'h.db'}"},
            "reports": {"directory": str(tmp_path / "out")},
            "http": {"timeout_s": 2, "retries": 0},
            "notifications": {"channels": [{"name": "slack", "type": "slack", "url": hooks.url(SECRET_PATH)}]},
        },
    )
    runner = CliRunner(env={"COLUMNS": "220"})

    def cli(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, [*args, "-c", str(path)])
        assert result.exit_code == code, result.output
        return result.output

    opened = cli(
        "incident",
        "open",
        "-s",
        "critical",
        "-d",
        "all platforms down",
        "--component",
        "platforms",
        "--minutes-ago",
        "3",
    )
    incident_id = re.search(r"INC-\d{8}-\d{6}", opened).group(0)
    assert "Critical (P0), escalation level 3 (Engineering Leadership)" in opened
    cli("incident", "ack", incident_id)
    cli("incident", "ack", incident_id, code=1)
    cli("incident", "update", incident_id, "-m", "found it", "--done", "restart", "--next", "watch")
    cli("incident", "resolve", incident_id, "--root-cause", "disk full", "--postmortem", "not-a-date", code=2)
    cli("incident", "resolve", incident_id, "--root-cause", "disk full", "--postmortem", "2026-12-01")
    listing = cli("incident", "list", "--all")
    assert incident_id in listing and "resolved" in listing and "mean MTTD 3.0 min" in listing
    assert [r.json["text"].splitlines()[0] for r in hooks.on(SECRET_PATH)] == [
        "🚨 INCIDENT NOTIFICATION",
        f"📋 INCIDENT UPDATE - {incident_id}",
        f"✅ INCIDENT RESOLVED - {incident_id}",
    ]
    assert "disk full" in (tmp_path / "out" / "status.html").read_text()

    added = cli("silence", "add", "--for", "2h", "--target", "render", "--reason", "deploy")
    silence_id = re.search(r"silence (\d+)", added).group(1)
    assert "render" in cli("silence", "list")
    cli("silence", "expire", silence_id)
    cli("silence", "expire", silence_id, code=1)
    assert "render" not in cli("silence", "list") and "render" in cli("silence", "list", "--all")
    cli("silence", "add", "--for", "soon", code=2)

    sent = cli("notify", "test")
    assert "slack: sent after 1 attempt(s)" in sent
    assert hooks.on(SECRET_PATH)[-1].json["text"].startswith("✅ opsbook test message")
    hooks.stop()
    failed = cli("notify", "test", code=1)
    assert "slack: FAILED" in failed and hooks.url(SECRET_PATH) not in failed
