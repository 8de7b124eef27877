"""The performance investigation on a real Prefect server: a slow platform against its 7-day
baseline from the history, deploys from a deploy-log file, real dependency endpoints, a report."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from opsbook.config import load_config
from opsbook.demo.server import LoopbackServer, Reply
from opsbook.flows.investigation import InvestigationRequest, performance_investigation
from opsbook.incidents import get_incident, open_incident
from opsbook.results import Status, Verdict, utcnow
from opsbook.store import Sample, open_store
from opsbook.tasks.investigation import compare_to_baseline
from tests.helpers import write_config

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_baseline_needs_enough_data() -> None:
    now = utcnow()
    few = [
        Sample("m", 100, now - timedelta(days=2), labels={"target": "a"}),
        Sample("m", 100, now, labels={"target": "a"}),
    ]
    assert compare_to_baseline("m", few, now, 7)[0].status is Status.SKIPPED


def test_investigation_finds_the_regression_the_deploy_and_the_broken_dependency(tmp_path: Path) -> None:
    now = utcnow()
    deploys = tmp_path / "deploys.json"
    deploys.write_text(
        json.dumps(
            [
                {"at": (now - timedelta(hours=2)).isoformat(), "version": "2.4.1"},
                {"at": (now - timedelta(days=3)).isoformat(), "version": "2.4.0"},
            ]
        )
    )
    slow = LoopbackServer({"/h": lambda r: Reply.json({"ok": True}, delay_s=0.3)}).start()
    dependency = LoopbackServer(
        {"/ok": lambda r: Reply.json({"status": "up"}), "/down": lambda r: Reply(503, "maintenance")}
    ).start()
    try:
        path = write_config(
            tmp_path,
            {
                "history": {"url": f"sqlite:///{tmp_path / 'h.db'}"},
                "reports": {"directory": str(tmp_path / "out")},
                "http": {"timeout_s": 3, "retries": 0},
                "platforms": [{"name": "fly", "url": slow.url("/h")}],
                "incidents": {
                    "deploy_log": str(deploys),
                    "dependencies": [
                        {"name": "payments", "url": dependency.url("/ok")},
                        {"name": "search", "url": dependency.url("/down")},
                    ],
                },
            },
        )
        store = open_store(load_config(path).history.url)
        store.add_samples(
            [
                Sample(
                    "platform.health",
                    100.0 + (i % 3),
                    now - timedelta(hours=6 * i) - timedelta(hours=2),
                    source="check",
                    labels={"target": "fly"},
                    unit="ms",
                )
                for i in range(20)
            ]
        )
        incident = open_incident(store, severity="P2", description="slow pages", component="web")
        state = performance_investigation(
            InvestigationRequest(config_path=str(path), incident_id=incident.id), return_state=True
        )
    finally:
        slow.stop()
        dependency.stop()
    outcome = state.result(raise_on_failure=False)
    by_check = {(r.check, r.target): r for r in outcome.results}
    baseline = by_check[("investigation.baseline", "platform.health fly")]
    assert baseline.status is Status.FAIL and baseline.value >= 2.0 and "7-day median of 101.0" in baseline.message
    deploy = by_check[("investigation.deploys", "deploy log")]
    assert deploy.value == 1 and "last 2.4.1" in deploy.message
    assert by_check[("dependency.health", "payments")].status is Status.OK
    assert by_check[("dependency.health", "search")].status is Status.FAIL
    assert (
        state.is_completed()
        and outcome.verdict is Verdict.RED
        and outcome.report_path.name.startswith("investigation-")
    )
    assert "Against the 7-day baseline" in outcome.report_path.read_text()
    assert get_incident(store, incident.id).events[-1].kind == "investigation"
