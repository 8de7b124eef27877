"""The daily checklist end to end on a real Prefect server: checks, store, report, artifacts."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, LogFilter, LogFilterFlowRunId

from opsbook.demo.server import LoopbackServer, Reply
from opsbook.flows.checklist import ChecklistOutcome
from opsbook.flows.daily import daily_checklist
from opsbook.flows.states import outcome_of
from opsbook.results import Status, Verdict
from opsbook.store import HistoryStore
from tests.helpers import write_config

pytestmark = pytest.mark.usefixtures("prefect_server")


def config_for(tmp_path: Path, platforms: list[dict], **extra: object) -> Path:
    data = {
        "estate": "test estate",
        "history": {"url": f"sqlite:///{tmp_path / 'history.db'}"},
        "reports": {"directory": str(tmp_path / "reports")},
        "http": {"timeout_s": 2, "retries": 1, "backoff_s": 0.01},
        "platforms": platforms,
        **extra,
    }
    return write_config(tmp_path, data)


def run(config_path: Path):
    state = daily_checklist(config_path=str(config_path), return_state=True)
    outcome = outcome_of(state)
    assert isinstance(outcome, ChecklistOutcome), outcome
    return state, outcome


async def _artifacts_and_logs(flow_run_id: str) -> tuple[list, list]:
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
        logs = await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return artifacts, logs


def read_back(flow_run_id: str) -> tuple[list, list]:
    """Artifacts and logs of a run as the Prefect API holds them (logs are flushed first)."""
    import asyncio

    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    return asyncio.run(_artifacts_and_logs(flow_run_id))


def test_all_healthy_completes_and_writes_everything(tmp_path: Path) -> None:
    with LoopbackServer({"/h": lambda r: Reply.json({"ok": True})}) as server:
        path = config_for(
            tmp_path, [{"name": "fly", "url": server.url("/h")}, {"name": "railway", "url": server.url("/h")}]
        )
        state, outcome = run(path)
    assert state.is_completed()
    assert outcome.verdict is Verdict.GREEN and not outcome.notes
    html = outcome.report_path.read_text()
    assert "GREEN: All clear" in html and "fly" in html and "railway" in html

    stored = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}").get_run(outcome.run_id)
    assert stored.verdict == "green" and stored.report_path == str(outcome.report_path)
    assert {r.target for r in stored.results if r.check == "platform.health"} == {"fly", "railway"}

    artifacts, _ = read_back(outcome.run_id)
    by_key = {a.key: a for a in artifacts}
    assert {"daily-report", "daily-report-results", "daily-report-link"} <= set(by_key)
    assert "GREEN" in by_key["daily-report"].data
    assert outcome.report_path.resolve().as_uri() in by_key["daily-report-link"].data
    progress = [a for a in artifacts if a.type == "progress"]
    assert len(progress) == 1 and float(progress[0].data) == 100.0


def test_second_run_report_has_a_latency_trend_chart_from_history(tmp_path: Path) -> None:
    with LoopbackServer({"/h": lambda r: Reply(200, "ok")}) as server:
        path = config_for(tmp_path, [{"name": "fly", "url": server.url("/h")}])
        run(path)
        _, outcome = run(path)
    html = outcome.report_path.read_text()
    assert "Health-check latency, 30 days" in html
    assert html.count("<polyline") == 1 and "fly: last" in html


def verdict_events(flow: str, run_id: str, timeout_s: float = 30) -> list:
    """The `opsbook.checklist.*` events of one run, as the server stored them (it persists in batches)."""
    import time

    from prefect.client.orchestration import get_client as client_of
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all(timeout=10)
    deadline = time.monotonic() + timeout_s
    while True:
        wanted = EventFilter(  # `occurred.until` defaults to the moment the filter is made
            event=EventNameFilter(prefix=["opsbook.checklist."]),
            resource=EventResourceFilter(id=[f"opsbook.checklist.{flow}"]),
        )
        with client_of(sync_client=True) as client:
            found = [e for e in client.read_events(filter=wanted, limit=50).events if e.payload["run_id"] == run_id]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def test_a_failing_platform_ends_completed_and_red_after_report_and_store(tmp_path: Path) -> None:
    """A red estate is the runbook doing its job: Completed, the verdict in the run's name and tags,
    one verdict event, and no engine traceback in the run's logs."""
    with LoopbackServer({"/ok": lambda r: Reply(200, "ok"), "/bad": lambda r: Reply(503, "down")}) as server:
        path = config_for(
            tmp_path, [{"name": "fly", "url": server.url("/ok")}, {"name": "render", "url": server.url("/bad")}]
        )
        state, outcome = run(path)
    assert state.is_completed() and state.name == "Completed"
    assert state.message == "red: 1 check(s) failed or errored"
    import asyncio

    async def flow_run():
        async with get_client() as client:
            return await client.read_flow_run(outcome.run_id)

    read = asyncio.run(flow_run())
    assert read.state.type.value == "COMPLETED" and read.state.message == state.message
    assert read.name == f"daily-checklist-{outcome.started_at:%Y-%m-%d}-red"
    assert "verdict:red" in read.tags
    _, logs = read_back(outcome.run_id)
    assert logs and not [entry.message for entry in logs if "Traceback" in entry.message]
    assert not [entry.message for entry in logs if "Unexpected result" in entry.message]
    [event] = verdict_events("daily-checklist", outcome.run_id)
    assert event.event == "opsbook.checklist.red"
    assert event.resource["opsbook.estate"] == "test estate" and event.resource["opsbook.verdict"] == "red"
    assert event.payload["counts"]["fail"] == 1 and event.payload["counts"]["ok"] == 1
    assert outcome.report_path.exists()
    assert "RED: Action required" in outcome.report_path.read_text()
    stored = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}").get_run(outcome.run_id)
    assert {r.target: r.status for r in stored.results if r.check == "platform.health"} == {
        "fly": Status.OK,
        "render": Status.FAIL,
    }


def test_an_estate_maintenance_window_keeps_the_failure_in_the_report_but_raises_no_alert(tmp_path: Path) -> None:
    from datetime import timedelta

    from opsbook.alerts import list_alerts
    from opsbook.results import utcnow
    from tests.receivers import WebhookReceiver

    began = (utcnow() - timedelta(minutes=30)).replace(tzinfo=None, microsecond=0).isoformat()
    hooks = WebhookReceiver().start()
    try:
        with LoopbackServer({"/ok": lambda r: Reply(200, "ok"), "/bad": lambda r: Reply(503, "restarting")}) as server:
            path = config_for(
                tmp_path,
                [{"name": "fly", "url": server.url("/ok")}, {"name": "render", "url": server.url("/bad")}],
                maintenance={"windows": [{"name": "db upgrade", "start": began, "duration": "2h"}]},
                notifications={
                    "group_window_s": 0,
                    "channels": [{"name": "hook", "type": "webhook", "url": hooks.url("/h")}],
                },
            )
            state, outcome = run(path)
    finally:
        hooks.stop()
    assert state.is_completed() and outcome.verdict is Verdict.RED  # a window hides nothing from the report
    assert "(maintenance window &#39;db upgrade&#39;: no alert)" in outcome.report_path.read_text()
    store = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}")
    [render] = [r for r in store.get_run(outcome.run_id).results if r.target == "render"]
    assert render.status is Status.FAIL and render.details["maintenance_window"] == "db upgrade"
    [alert] = list_alerts(store)
    assert alert.target == "render" and alert.maintenance and alert.notified_at is None
    assert hooks.received == []  # nobody was paged for planned work


def test_the_report_digest_reaches_chat_with_a_link_and_email_with_the_whole_report(tmp_path: Path) -> None:
    from tests.receivers import WebhookReceiver, start_smtp

    hooks = WebhookReceiver().start()
    smtp, controller = start_smtp(tmp_path, "opsbook", "smtp-pw-3")
    channels = [
        {"name": "slack", "type": "slack", "url": hooks.url("/slack")},
        {
            "name": "mail",
            "type": "email",
            "host": "127.0.0.1",
            "port": smtp.port,
            "ca_file": str(smtp.ca_file),
            "username": "opsbook",
            "password": "smtp-pw-3",
            "sender": "opsbook@example.test",
            "to": ["manager@example.test"],
        },
        {"name": "broken", "type": "slack", "url": hooks.url("/down")},
    ]
    try:
        with LoopbackServer(
            {"/ok": lambda r: Reply(200, "ok"), "/bad": lambda r: Reply(503, "pool exhausted")}
        ) as server:
            path = config_for(
                tmp_path,
                [{"name": "fly", "url": server.url("/ok")}, {"name": "render", "url": server.url("/bad")}],
                reports={"directory": str(tmp_path / "reports"), "base_url": "https://ops.example.test/r"},
                notifications={
                    "retries": 0,
                    "channels": channels,
                    "default_channels": [],  # no alerts
                    "reports": ["slack", "mail", "broken"],
                },
            )
            state, outcome = run(path)
    finally:
        controller.stop()
        hooks.stop()
    [digest] = [r.json["text"] for r in hooks.on("/slack")]
    assert digest.startswith("📋 Daily health check – RED: Action required – test estate")
    assert "1. [fail] render (platform.health): down: HTTP 503" in digest and "Next step:" in digest
    assert f"Report: https://ops.example.test/r/{outcome.report_path.name}" in digest
    [mail] = smtp.messages
    assert "RED: Action required" in mail["Subject"]
    html = mail.get_body(("html",)).get_content().replace("\r\n", "\n").strip()
    assert html == outcome.report_path.read_text().strip()  # the report itself
    assert any(n.startswith("report not sent to broken:") for n in outcome.notes), outcome.notes
    assert state.is_failed()


def test_a_green_run_sends_no_digest_when_asked_only_for_red(tmp_path: Path) -> None:
    from tests.receivers import WebhookReceiver

    with WebhookReceiver() as hooks, LoopbackServer({"/ok": lambda r: Reply(200, "ok")}) as server:
        path = config_for(
            tmp_path,
            [{"name": "fly", "url": server.url("/ok")}],
            notifications={
                "channels": [{"name": "slack", "type": "slack", "url": hooks.url("/slack")}],
                "reports": ["slack"],
                "reports_when": "red",
            },
        )
        state, outcome = run(path)
        assert state.is_completed() and outcome.notes == []
        assert hooks.on("/slack") == []


def test_hostile_text_from_a_target_is_escaped_in_the_report(tmp_path: Path) -> None:
    hostile = '<script>alert("pwned")</script>'
    with LoopbackServer({"/h": lambda r: Reply(500, hostile)}) as server:
        path = config_for(tmp_path, [{"name": "fly", "url": server.url("/h")}])
        _, outcome = run(path)
    html = outcome.report_path.read_text()
    assert hostile not in html
    assert "&lt;script&gt;alert(" in html


def test_secret_from_env_reaches_no_report_artifact_log_or_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    canary = "canary-7d1e5b0c93f2-secret"
    monkeypatch.setenv("OPSBOOK_TEST_TOKEN", canary)
    with LoopbackServer({"/h": lambda r: Reply(401, f"bad token {r.headers.get('Authorization')}")}) as server:
        # The secret travels in a header and in the URL; the target even echoes it back.
        path = config_for(
            tmp_path,
            [
                {
                    "name": "fly",
                    "url": server.url("/h") + "?key=${OPSBOOK_TEST_TOKEN}",
                    "headers": {"Authorization": "Bearer ${OPSBOOK_TEST_TOKEN}"},
                }
            ],
        )
        state, outcome = run(path)
    assert state.is_completed() and outcome.verdict is Verdict.RED
    assert canary not in (state.message or "") and canary not in outcome.report_path.read_text()
    artifacts, logs = read_back(outcome.run_id)
    assert artifacts and logs
    assert all(canary not in str(a.data) for a in artifacts)
    assert all(canary not in log.message for log in logs)
    db = (
        (tmp_path / "history.db").read_bytes() + (tmp_path / "history.db-wal").read_bytes()
        if (tmp_path / "history.db-wal").exists()
        else (tmp_path / "history.db").read_bytes()
    )
    assert canary.encode() not in db


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions; covered by the file-in-the-way test")
def test_unwritable_report_directory_is_recorded_and_fails_the_run(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    reports.chmod(stat.S_IRUSR | stat.S_IXUSR)
    with LoopbackServer({"/h": lambda r: Reply(200, "ok")}) as server:
        state, outcome = run(config_for(tmp_path, [{"name": "fly", "url": server.url("/h")}]))
    assert state.is_failed() and outcome.report_path is None


def test_report_path_blocked_by_a_file_is_recorded_and_results_are_still_stored(tmp_path: Path) -> None:
    blocker = tmp_path / "reports"
    blocker.write_text("a file where the report directory should be")
    with LoopbackServer({"/h": lambda r: Reply(200, "ok")}) as server:
        state, outcome = run(config_for(tmp_path, [{"name": "fly", "url": server.url("/h")}]))
    assert state.is_failed()
    assert outcome.report_path is None
    assert any(note.startswith("report not written to") for note in outcome.notes)
    assert "report not written" in state.message
    stored = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}").get_run(outcome.run_id)
    assert stored.results[0].status is Status.OK
    assert "report not written" in stored.notes


def test_unreachable_history_store_still_reports_with_a_clear_error(tmp_path: Path) -> None:
    with LoopbackServer({"/h": lambda r: Reply(200, "ok")}) as server:
        path = config_for(
            tmp_path,
            [{"name": "fly", "url": server.url("/h")}],
            history={"url": "postgresql+psycopg://opsbook:pw-xyz-123@127.0.0.1:1/opsbook"},
        )
        state, outcome = run(path)
    assert state.is_failed()
    assert any(note.startswith("history store not written") for note in outcome.notes)
    html = outcome.report_path.read_text()
    assert "history store not written" in html and "pw-xyz-123" not in html
