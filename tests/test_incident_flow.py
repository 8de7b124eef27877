"""The incident-response flow on a real Prefect server: a P0 pauses for rollback approval and
acts only when a human approves through the Prefect API; a rejection runs nothing."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
from prefect.client.schemas.objects import StateType
from prefect.flow_runs import resume_flow_run

from opsbook.config import load_config
from opsbook.flows.incident import IncidentRequest, incident_response
from opsbook.incidents import get_incident
from opsbook.results import utcnow
from opsbook.store import Sample, open_store
from tests.helpers import write_config
from tests.receivers import WebhookReceiver

pytestmark = pytest.mark.usefixtures("prefect_server")


async def _paused_runs() -> list:
    async with get_client() as client:
        return await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
            )
        )


def wait_for_paused_run(seen: set) -> object:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = [r for r in asyncio.run(_paused_runs()) if r.id not in seen]
        if runs:
            return runs[0]
        time.sleep(0.2)
    raise AssertionError("the incident-response run never paused for approval")


def setup(tmp_path: Path, hooks: WebhookReceiver) -> tuple[Path, Path]:
    marker = tmp_path / "rolled-back"
    path = write_config(
        tmp_path,
        {
            "estate": "test estate",
            "history": {"url": f"sqlite:///{tmp_path / 'h.db'}"},
            "reports": {"directory": str(tmp_path / "out")},
            "http": {"timeout_s": 2, "retries": 0},
            "platforms": [{"name": "fly", "url": hooks.url("/down")}],  # 404: the platform is failing
            "notifications": {"channels": [{"name": "slack", "type": "slack", "url": hooks.url("/slack")}]},
            "incidents": {
                "rollback": {"metric": "api.error_rate", "above": 5, "command": ["touch", str(marker)]},
                "approval_poll_s": 1,
                "approval_timeout_s": 120,
            },
        },
    )
    config = load_config(path)
    open_store(config.history.url).add_samples([Sample("api.error_rate", 12.5, utcnow() - timedelta(minutes=2))])
    return path, marker


def run_p0(path: Path, answer: dict, seen: set):
    request = IncidentRequest(
        severity="P0", description="site down after deploy", component="platforms", config_path=str(path), dry_run=False
    )
    outcome: list = []
    worker = threading.Thread(target=lambda: outcome.append(incident_response(request, return_state=True)))
    worker.start()
    paused = wait_for_paused_run(seen)
    seen.add(paused.id)
    resume_flow_run(paused.id, run_input=answer)  # what the UI does when a human answers
    worker.join(timeout=120)
    assert not worker.is_alive()
    return outcome[0]


@pytest.mark.timeout(240)
def test_p0_rollback_runs_only_after_approval(tmp_path: Path) -> None:
    seen: set = set()
    with WebhookReceiver() as hooks:
        (tmp_path / "approved").mkdir()
        path, marker = setup(tmp_path / "approved", hooks)
        state = run_p0(path, {"approve": True, "approver": "lead", "note": "go"}, seen)
        assert state.is_completed(), state
        incident = get_incident(open_store(load_config(path).history.url), state.result())
        assert marker.exists()
        messages = [e.message for e in incident.events]
        assert "platform health: 0 of 1 up; down: fly" in messages
        assert "rollback evaluation: api.error_rate is 12.5, above 5" in messages
        assert "rollback approved by lead (go)" in messages
        assert any(m.startswith("rollback `touch ") and "succeeded" in m for m in messages)
        assert "disaster recovery check: all 1 platform(s) down: activate disaster recovery" in messages
        text = hooks.on("/slack")[-1].json["text"]
        assert text.startswith("🚨 INCIDENT NOTIFICATION") and "Severity: Critical (P0)" in text
        assert "system health assessment, rollback evaluation, rollback" in text
        assert incident.id in (tmp_path / "approved" / "out" / "status.html").read_text()

        (tmp_path / "rejected").mkdir()
        path, marker = setup(tmp_path / "rejected", hooks)
        state = run_p0(path, {"approve": False, "approver": "lead", "note": "too risky"}, seen)
        assert state.is_completed(), state
        incident = get_incident(open_store(load_config(path).history.url), state.result())
        assert not marker.exists()
        messages = [e.message for e in incident.events]
        assert "rollback rejected by lead (too risky); nothing run" in messages
        assert not any(m.startswith("rollback `") for m in messages)


def test_escalation_sweep_flow_escalates_and_sends_due_groups(tmp_path: Path) -> None:
    from opsbook.flows.escalation import escalation_sweep
    from opsbook.incidents import open_incident
    from opsbook.results import CheckResult, Status
    from opsbook.tasks.alerts import handle_results

    with WebhookReceiver() as hooks:
        path = write_config(
            tmp_path,
            {
                "history": {"url": f"sqlite:///{tmp_path / 'h.db'}"},
                "reports": {"directory": str(tmp_path / "out")},
                "notifications": {
                    "group_window_s": 60,
                    "channels": [{"name": "slack", "type": "slack", "url": hooks.url("/slack")}],
                },
            },
        )
        config = load_config(path)
        store = open_store(config.history.url)
        old = utcnow() - timedelta(minutes=20)
        incident = open_incident(store, severity="P1", description="api slow", component="api", now=old)
        failing = CheckResult(check="platform.health", target="fly", component="platforms", status=Status.FAIL)
        asyncio.run(handle_results(config, [failing], old))  # held back by the group window until the sweep
        assert hooks.on("/slack") == []
        assert escalation_sweep(config_path=str(path)) == [f"{incident.id} -> level 3"]
        texts = [r.json["text"] for r in hooks.on("/slack")]
        assert len(texts) == 2 and texts[0].startswith("🚨 1 ALERT(S) FIRING")
        assert texts[1].startswith(f"⏫ INCIDENT ESCALATED - {incident.id} to level 3")


def test_webhook_urls_and_smtp_passwords_reach_no_log_artifact_report_or_row(tmp_path: Path, monkeypatch) -> None:
    from sqlalchemy import text

    from opsbook.flows.daily import daily_checklist
    from tests.conftest import free_port
    from tests.test_daily_flow import read_back

    token_path = "/fail/T0KEN-very-secret-path"
    password = "pw-that-must-not-leak"
    monkeypatch.setenv("OPS_SMTP_PASSWORD", password)
    with WebhookReceiver() as hooks:
        hooks.routes[token_path] = hooks.routes["/fail"]
        url = hooks.url(token_path)
        path = write_config(
            tmp_path,
            {
                "history": {"url": f"sqlite:///{tmp_path / 'h.db'}"},
                "reports": {"directory": str(tmp_path / "out")},
                "http": {"timeout_s": 2, "retries": 0},
                "platforms": [{"name": "fly", "url": hooks.url("/missing")}],
                "notifications": {
                    "retries": 1,
                    "channels": [
                        {"name": "slack", "type": "slack", "url": url},
                        {
                            "name": "mail",
                            "type": "email",
                            "host": "127.0.0.1",
                            "port": free_port(),
                            "starttls": False,
                            "username": "ops",
                            "password": "${OPS_SMTP_PASSWORD}",
                            "sender": "a@b.test",
                            "to": ["c@d.test"],
                        },
                    ],
                },
            },
        )
        state = daily_checklist(config_path=str(path), return_state=True)
        assert len(hooks.received) == 2  # the failing channel was tried, and retried once
    assert state.is_completed() and state.message.startswith("red: ")  # the alert is kept to be sent again
    artifacts, logs = read_back(str(state.state_details.flow_run_id))
    log_text = "\n".join(log.message for log in logs)
    assert "notification to slack failed after 2 attempt(s): DeliveryFailed: HTTP 500" in log_text
    assert "notification to mail failed" in log_text
    sinks = [log_text, *(str(a.data) for a in artifacts), *(p.read_text() for p in (tmp_path / "out").glob("*.html"))]
    config = load_config(path)
    with open_store(config.history.url).engine.connect() as connection:
        for table in ("notification_deliveries", "alerts", "check_results"):
            sinks += [str(row) for row in connection.execute(text(f"SELECT * FROM {table}"))]
    assert len(sinks) > 5
    for sink in sinks:
        assert "T0KEN-very-secret-path" not in sink and password not in sink


def test_a_prefect_notification_block_is_used_by_name(tmp_path: Path) -> None:
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    from opsbook.config import parse_config
    from opsbook.reports.messages import render_message
    from opsbook.tasks.notify import deliver

    with WebhookReceiver() as hooks:
        CustomWebhookNotificationBlock(
            name="ops", url=hooks.url("/prefect"), json_data={"said": "{{body}}"}, allow_private_urls=True
        ).save("ops-alerts", overwrite=True)
        config = parse_config(
            {
                "history": {"url": f"sqlite:///{tmp_path / 'h.db'}"},
                "notifications": {
                    "channels": [
                        {"name": "teams", "type": "prefect", "block": "custom-webhook/ops-alerts"},
                        {"name": "missing", "type": "prefect", "block": "custom-webhook/no-such-block"},
                    ]
                },
            },
            base_dir=tmp_path,
        )
        message = render_message("test", "test", {"estate": "e", "channel": "teams", "now": utcnow()})
        deliveries = {d.channel: d for d in asyncio.run(deliver(config, ["teams", "missing"], message))}
        assert deliveries["teams"].ok and not deliveries["missing"].ok
        assert hooks.on("/prefect")[0].json == {"said": message.text}
