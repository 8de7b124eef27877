"""Alerts end to end with a controlled clock: a real webhook receiver and a real SMTP server
(STARTTLS + AUTH) receive exactly what was sent: grouping, dedup, repeat, silence, maintenance
and resolved notices."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsbook.alerts import add_silence, classify, expire_silence, list_alerts, list_silences
from opsbook.escalation import Severity
from opsbook.results import CheckResult, Status
from opsbook.store import open_store
from opsbook.store.incident_models import DeliveryRow
from opsbook.tasks.alerts import handle_results, notify_alerts
from opsbook.tasks.catalog import all_checks
from tests.helpers import estate
from tests.receivers import SmtpServer, WebhookReceiver, start_smtp

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
HMAC_KEY = "hmac-key-for-tests"
SMTP_PASSWORD = "smtp-pass-word-42"


def result(check: str, target: str, status: Status, component: str = "platforms", **details: object) -> CheckResult:
    return CheckResult(
        check=check,
        target=target,
        component=component,
        status=status,
        message=f"{target} is {status.value}",
        details=dict(details),
    )


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[tuple[WebhookReceiver, SmtpServer]]:
    hooks = WebhookReceiver().start()
    smtp, controller = start_smtp(tmp_path, "opsbook", SMTP_PASSWORD)
    try:
        yield hooks, smtp
    finally:
        controller.stop()
        hooks.stop()


def config_for(tmp_path: Path, hooks: WebhookReceiver, smtp: SmtpServer, **overrides: object):
    notifications = {
        "channels": [
            {"name": "slack", "type": "slack", "url": hooks.url("/slack")},
            {"name": "hook", "type": "webhook", "url": hooks.url("/hook"), "secret": "${HOOK_KEY}"},
            {
                "name": "mail",
                "type": "email",
                "host": "127.0.0.1",
                "port": smtp.port,
                "ca_file": str(smtp.ca_file),
                "username": "opsbook",
                "password": "${SMTP_PASSWORD}",
                "sender": "opsbook@example.test",
                "to": ["ops-team@example.test"],
            },
        ],
        "routes": [{"match": {"types": ["security"]}, "channels": ["hook"]}],
        "group_window_s": 60,
        "repeat_interval_s": 3600,
        "retries": 1,
        **overrides,
    }
    import os

    os.environ["HOOK_KEY"], os.environ["SMTP_PASSWORD"] = HMAC_KEY, SMTP_PASSWORD
    return estate(tmp_path, estate="test estate", notifications=notifications)


def run(config, results: list[CheckResult], now: datetime):
    return asyncio.run(handle_results(config, results, now))


def verify_signature(recorded) -> None:
    expected = "sha256=" + hmac.new(HMAC_KEY.encode(), recorded.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(recorded.headers["x-opsbook-signature"], expected)


def test_triage_table() -> None:
    all_checks()  # as the alert pipeline does: triage reads the declarations, run alone or not
    assert classify(result("platform.health", "fly", Status.FAIL)) == ("infrastructure", Severity.P1)
    assert classify(result("platform.health", "fly", Status.ERROR)) == ("infrastructure", Severity.P2)
    assert classify(result("security.headers", "fly", Status.FAIL, "security")) == ("security", Severity.P1)
    # No task declares web_vitals.* (the old prefix table's entry matched nothing emitted): typed by component, P3.
    assert classify(result("web_vitals.lcp", "home", Status.FAIL, "web")) == ("performance", Severity.P3)
    assert classify(result("custom.thing", "x", Status.FAIL, "application")) == ("application", Severity.P3)
    assert classify(result("custom.thing", "x", Status.FAIL, "misc")) == ("other", Severity.P3)
    # The check ids the checklists really emit map to their type, not to "other".
    assert classify(result("resource.cpu", "web-1", Status.FAIL, "resources")) == ("infrastructure", Severity.P2)
    assert classify(result("app.web_vitals", "app/lcp", Status.FAIL, "application")) == ("performance", Severity.P2)
    assert classify(result("security.certificate", "api:443", Status.FAIL, "security")) == ("security", Severity.P2)
    assert classify(result("monitoring.deadman", "daily", Status.FAIL, "monitoring")) == ("infrastructure", Severity.P1)


def test_grouping_dedup_repeat_silence_maintenance_and_resolve(tmp_path: Path, receivers) -> None:
    hooks, smtp = receivers
    config = config_for(tmp_path, hooks, smtp)
    down = [
        result("platform.health", "fly", Status.FAIL),
        result("platform.health", "render", Status.FAIL),
        result("security.tls", "api", Status.FAIL, "security"),
    ]

    # Three alerts raised; the 60 s group window holds them back.
    summary = run(config, down, T0)
    assert len(summary.changed) == 3 and summary.deliveries == []
    assert run(config, down, T0 + timedelta(seconds=30)).deliveries == []
    assert {a.target: a.count for a in list_alerts(open_store(config.history.url))} == {"fly": 2, "render": 2, "api": 2}

    # The window passes: one message per group and channel. Infrastructure goes everywhere,
    # security only to the signed webhook (the route).
    deliveries = asyncio.run(notify_alerts(config, T0 + timedelta(seconds=61)))
    assert sorted(d.channel for d in deliveries) == ["hook", "hook", "mail", "slack"] and all(d.ok for d in deliveries)
    slack = hooks.on("/slack")
    assert len(slack) == 1
    text = slack[0].json["text"]
    assert text.startswith("🚨 2 ALERT(S) FIRING – test estate [infrastructure P1]")
    assert "platform.health on fly: fly is fail" in text and "platform.health on render" in text
    assert "Escalation: level 2 (Technical Team)" in text
    payloads = [r.json for r in hooks.on("/hook")]
    for recorded in hooks.on("/hook"):
        verify_signature(recorded)
    by_group = {p["group"]["type"]: p for p in payloads}
    assert [a["target"] for a in by_group["security"]["alerts"]] == ["api"]
    assert {a["target"] for a in by_group["infrastructure"]["alerts"]} == {"fly", "render"}
    assert by_group["infrastructure"]["alerts"][0]["count"] == 2
    assert len(smtp.messages) == 1 and smtp.logins == ["opsbook"]
    mail = smtp.messages[0]
    assert mail["Subject"] == "🚨 2 ALERT(S) FIRING – test estate [infrastructure P1]"
    assert mail["To"] == "ops-team@example.test"
    assert "render is fail" in mail.get_body(("plain",)).get_content()
    assert "<strong>[P1 infrastructure] platform.health</strong>" in mail.get_body(("html",)).get_content()

    # Dedup: the same failures again say nothing, they only count.
    assert run(config, down, T0 + timedelta(minutes=10)).deliveries == []
    assert len(hooks.received) == 3 and len(smtp.messages) == 1

    # Silence render; fly recovers; a maintenance-window failure raises an alert but no notice.
    store = open_store(config.history.url)
    silence = add_silence(
        store, target="render", duration=timedelta(hours=2), reason="known", now=T0 + timedelta(minutes=20)
    )
    later = [
        result("platform.health", "fly", Status.OK),
        result("platform.health", "render", Status.FAIL),
        result("security.tls", "api", Status.FAIL, "security"),
        result("platform.health", "railway", Status.FAIL, silenced_by_maintenance=True),
    ]
    assert run(config, later, T0 + timedelta(minutes=30)).deliveries == []  # the resolve waits for its window
    asyncio.run(notify_alerts(config, T0 + timedelta(minutes=31)))
    new_slack = hooks.on("/slack")[1:]
    assert len(new_slack) == 1
    assert new_slack[0].json["text"].startswith("✅ 1 ALERT(S) RESOLVED")
    assert (
        "platform.health on fly: resolved at 2026-11-27 08:30 UTC (firing since 2026-11-27 08:00 UTC)"
        in new_slack[0].json["text"]
    )
    assert (
        "opsbook alerts judge 'platform.health|fly' --true-positive" in new_slack[0].json["text"]
    )  # asks for a verdict
    assert "render" not in new_slack[0].json["text"] and "railway" not in new_slack[0].json["text"]
    assert {a.target: a.state for a in list_alerts(store)}["railway"] == "firing"

    # Repeat interval (1 h after the first notice): api repeats; render stays silenced.
    assert run(config, later, T0 + timedelta(minutes=62)).deliveries == []  # repeat due 62:01 + window
    run(config, later, T0 + timedelta(minutes=63))
    repeat = [r.json for r in hooks.on("/hook")][-1]
    assert [(a["target"], a["repeat"]) for a in repeat["alerts"]] == [("api", True)]
    assert len(hooks.on("/slack")) == 2 and len(smtp.messages) == 2  # the resolved notice also went by mail

    # Expire the silence: render, announced before it was silenced, repeats at once.
    assert [s.id for s in list_silences(store, T0 + timedelta(minutes=63))] == [silence.id]
    assert expire_silence(store, silence.id, now=T0 + timedelta(minutes=64))
    assert list_silences(store, T0 + timedelta(minutes=65)) == []
    run(config, later, T0 + timedelta(minutes=65))
    last = hooks.on("/slack")[-1].json["text"]
    assert "platform.health on render" in last and "still firing (repeat)" in last and "railway" not in last
    assert len(hooks.on("/slack")) == 3


def test_a_failing_channel_is_retried_recorded_and_blocks_no_one(tmp_path: Path, receivers) -> None:
    hooks, smtp = receivers
    channels = [
        {"name": "broken", "type": "webhook", "url": hooks.url("/fail")},
        {"name": "refused", "type": "slack", "url": hooks.url("/reject")},
        {"name": "slack", "type": "slack", "url": hooks.url("/slack")},
    ]
    config = config_for(tmp_path, hooks, smtp, channels=channels, routes=[], group_window_s=0)
    deliveries = run(config, [result("platform.health", "fly", Status.FAIL)], T0).deliveries
    outcome = {d.channel: (d.ok, d.attempts) for d in deliveries}
    assert outcome == {"broken": (False, 2), "refused": (False, 1), "slack": (True, 1)}
    assert len(hooks.on("/fail")) == 2 and len(hooks.on("/reject")) == 1 and len(hooks.on("/slack")) == 1
    with open_store(config.history.url).session() as session:
        rows = {row.channel: row for row in session.query(DeliveryRow)}
    assert rows["broken"].ok is False and "HTTP 500" in rows["broken"].error
    assert rows["slack"].ok and rows["slack"].refs == {"alerts": ["platform.health|fly"]}
    assert hooks.url("/fail") not in rows["broken"].error  # a webhook URL is a credential


def test_a_disk_above_the_runbooks_80_percent_alerts_at_the_warn_severity_and_resolves(
    tmp_path: Path, receivers
) -> None:
    """The runbook alerts ("Resource utilization warning") at 80 %: a warn is an alert here, not a line in a report."""
    from opsbook.tasks.resources import Reading, judge_reading, limit_for

    hooks, smtp = receivers
    config = config_for(tmp_path, hooks, smtp)
    limit = limit_for(config, "disk_pct")

    def disk(percent: float) -> CheckResult:
        return judge_reading(Reading("disk_pct", "web-1", percent, "prometheus", "/data"), limit)

    full = disk(85.0)
    assert full.status is Status.WARN and classify(full) == ("infrastructure", Severity.P3)
    assert len(run(config, [full], T0).changed) == 1
    asyncio.run(notify_alerts(config, T0 + timedelta(seconds=61)))
    [slack] = hooks.on("/slack")
    assert slack.json["text"].startswith("🚨 1 ALERT(S) FIRING – test estate [infrastructure P3]")
    assert (
        "resource.disk on web-1 /data: disk on /data at 85.0 %, above the warning level of 80 %" in slack.json["text"]
    )
    [alert] = list_alerts(open_store(config.history.url))
    assert (alert.state, alert.severity, alert.status) == ("firing", "P3", "warn")

    # Back to 70 %: the alert resolves and the resolve is announced.
    run(config, [disk(70.0)], T0 + timedelta(minutes=5))
    asyncio.run(notify_alerts(config, T0 + timedelta(minutes=7)))
    assert [a.state for a in list_alerts(open_store(config.history.url))] == ["resolved"]
    assert hooks.on("/slack")[-1].json["text"].startswith("✅ 1 ALERT(S) RESOLVED")
    assert len(hooks.on("/slack")) == 2


def test_a_warning_of_a_check_that_does_not_alert_on_warnings_raises_nothing(tmp_path: Path, receivers) -> None:
    hooks, smtp = receivers
    config = config_for(tmp_path, hooks, smtp)
    assert run(config, [result("platform.health", "fly", Status.WARN)], T0).changed == []
    assert list_alerts(open_store(config.history.url)) == []
