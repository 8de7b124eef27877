"""The weekly maintenance flow end to end: dry run by default, real files changed only with apply."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsbook.config import HttpSettings
from opsbook.config.notifications import NotificationsConfig, Route, RouteMatch, WebhookChannel
from opsbook.demo.server import LoopbackServer, Reply
from opsbook.demo.tls import TlsServer, issue
from opsbook.flows.checklist import ChecklistOutcome
from opsbook.flows.states import outcome_of
from opsbook.flows.weekly import weekly_maintenance
from opsbook.results import CheckResult, Status, Verdict
from opsbook.store import HistoryStore
from opsbook.tasks.alert_rules import rule_findings
from opsbook.tasks.monitoring import check_monitoring_system
from tests.helpers import write_config
from tests.receivers import WebhookReceiver
from tests.test_daily_flow import read_back

pytestmark = pytest.mark.usefixtures("prefect_server")


def expired_log(root: Path) -> Path:
    path = root / "app.log.9"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("old\n")
    stamp = (datetime.now(UTC) - timedelta(days=45)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def run(config: Path, apply: bool) -> tuple[object, ChecklistOutcome]:
    state = weekly_maintenance(config_path=str(config), apply=apply, return_state=True)
    outcome = outcome_of(state)
    assert isinstance(outcome, ChecklistOutcome), outcome
    return state, outcome


def thread_timeout_warnings(run_id: str) -> list[str]:
    """Prefect's "timeout ... in a worker thread" warnings among a run's logs, read through the API."""
    _, logs = read_back(run_id)
    assert logs, "the run logged nothing"
    return [entry.message for entry in logs if "worker thread" in entry.message or "Timeout of" in entry.message]


def test_weekly_maintenance_dry_run_then_apply(tmp_path: Path) -> None:
    purges: list[str] = []
    with LoopbackServer({"/purge": lambda r: purges.append(r.method) or Reply(204)}) as cdn:
        old = expired_log(tmp_path / "logs")
        patches = tmp_path / "web-1.txt"
        patches.write_text("openssl/stable-security 3.0.15 amd64 [upgradable from: 3.0.14]\n")
        deps = tmp_path / "pip.json"
        deps.write_text("[]")
        config = write_config(
            tmp_path,
            {
                "history": {"url": f"sqlite:///{tmp_path / 'h.db'}"},
                "reports": {"directory": str(tmp_path / "reports")},
                "maintenance": {
                    "log_directories": [{"path": str(tmp_path / "logs")}],
                    "patch_reports": [str(patches)],
                    "check_local_patches": False,
                    "dependency_reports": [str(deps)],
                    "cache_actions": [{"name": "cdn", "url": cdn.url("/purge")}],
                },
            },
        )

        _, dry = run(config, apply=False)
        assert old.exists() and purges == []
        by_check = {r.check: r for r in dry.results}
        assert "would delete 1" in by_check["maintenance.logs"].message
        assert by_check["maintenance.patches"].status is Status.WARN
        assert by_check["maintenance.cache"].message.endswith("(dry run)")
        assert by_check["history.retention"].message.startswith("would delete (dry run) 0 run(s)")
        # The daily checklist never ran here: the dead-man's switch says so.
        assert by_check["monitoring.deadman"].status is Status.FAIL
        assert "Weekly maintenance" in dry.report_path.read_text()
        # Every step's timeout acts where it can: no "cannot be enforced in a worker thread" warning.
        assert thread_timeout_warnings(dry.run_id) == []

        _, applied = run(config, apply=True)
        assert not old.exists() and purges == ["POST"]
        assert "deleted 1" in {r.check: r for r in applied.results}["maintenance.logs"].message
        assert {r.check: r for r in applied.results}["history.retention"].message.startswith("deleted 0 run(s)")


def seed_flapping(history_url: str) -> None:
    """A week of a check flipping between ok and fail: the noise review must call it flapping."""
    store = HistoryStore(history_url)
    start = datetime.now(UTC) - timedelta(days=6)
    for i in range(12):
        at = start + timedelta(hours=12 * i)
        status = Status.FAIL if i % 2 else Status.OK
        store.record_run(
            run_id=f"seed-{i}",
            flow="daily-checklist",
            estate="t",
            started_at=at,
            finished_at=at,
            results=[
                CheckResult(
                    check="platform.health",
                    target="render",
                    component="platforms",
                    status=status,
                    value=100.0 + i,
                    started_at=at,
                )
            ],
        )


def test_weekly_adds_database_certificates_and_monitoring_steps(tmp_path: Path, postgres_url: str) -> None:
    ca = issue(tmp_path / "pki", "ca", ["test CA"], ca=True)
    cert = issue(tmp_path / "pki", "app", ["app.test"], days_left=5, issuer=ca)
    hooks = WebhookReceiver().start()
    history = f"sqlite:///{tmp_path / 'h.db'}"
    seed_flapping(history)
    deps = tmp_path / "pip.json"
    deps.write_text("[]")  # an offline outdated list: no package index is asked
    try:
        with TlsServer(cert) as tls:
            config = write_config(
                tmp_path,
                {
                    "history": {"url": history},
                    "reports": {"directory": str(tmp_path / "reports")},
                    "http": {"timeout_s": 2, "retries": 0},
                    "maintenance": {"check_local_patches": False, "dependency_reports": [str(deps)]},
                    "databases": [{"name": "app", "url": postgres_url}],
                    "security": {
                        "certificates": [{"endpoint": tls.endpoint, "server_name": "app.test"}],
                        "certificate_policy": {"ca_bundle": str(ca.cert_path)},
                    },
                    "notifications": {
                        "channels": [
                            {"name": "hook", "type": "webhook", "url": hooks.url("/hook")},
                            {"name": "down", "type": "webhook", "url": hooks.url("/fail")},
                        ],
                        # Only security alerts are routed and the defaults are off: the rest goes nowhere.
                        "routes": [
                            {"match": {}, "channels": ["hook"], "continue": False},
                            {"match": {"types": ["security"]}, "channels": ["down"]},
                        ],
                        "default_channels": [],
                        "retries": 0,
                    },
                },
            )
            state, outcome = run(config, apply=False)
    finally:
        hooks.stop()

    assert state.is_completed() and outcome.verdict is Verdict.RED
    results = outcome.results
    assert thread_timeout_warnings(outcome.run_id) == []  # database maintenance, history, reviews
    by_check: dict[str, list[CheckResult]] = {}
    for r in results:
        by_check.setdefault(r.check, []).append(r)
    # Database maintenance ran against the real server, as a dry run.
    db = by_check["database.maintenance.analyze"][0]
    assert db.target == "app" and db.status is Status.OK, db.message  # connected and read the catalogs
    assert {"database.maintenance.reindex", "database.maintenance.query_stats"} <= by_check.keys()
    # The certificate expiring in 5 days fails.
    assert by_check["security.certificate"][0].status is Status.FAIL
    # Every channel got a real test message; the failing one is a failed check.
    delivery = {r.target: r.status for r in by_check["alerts.delivery"]}
    assert delivery == {"hook": Status.OK, "down": Status.FAIL}
    assert [r.json["kind"] for r in hooks.on("/hook")].count("test") == 1
    # The catch-all first route shadows the second one.
    rules = {r.target: r for r in by_check["alerts.rules"]}
    assert rules["routes[1]"].status is Status.WARN and "never reached" in rules["routes[1]"].message
    # The flapping check is flagged by the noise review.
    noise = {r.target: r for r in by_check["alerts.noise"]}
    assert noise["platform.health render"].status is Status.WARN
    assert "100 % flapping" in noise["platform.health render"].message
    html = outcome.report_path.read_text()
    for title in (
        "Database maintenance",
        "SSL certificates",
        "Alert rules",
        "Test alert to every channel",
        "Alert noise and thresholds",
    ):
        assert title in html


def test_alert_rules_report_missing_channels_and_unheard_alerts() -> None:
    config = NotificationsConfig.model_construct(  # skips the loader's own channel check, as a stale file would
        channels=[WebhookChannel(name="hook", type="webhook", url="http://127.0.0.1:9/h")],
        routes=[Route(match=RouteMatch(types=["security"]), channels=["pager"])],
        default_channels=[],
    )
    findings = rule_findings(config)
    assert (Status.FAIL, "routes[0]", "names channel 'pager', which does not exist") in findings
    unheard = [what for status, where, what in findings if where == "routes"]
    assert unheard and "security/P0" in unheard[0] and "other/P3" in unheard[0]
    fixed = NotificationsConfig(
        channels=[{"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/h"}],
        routes=[{"match": {"types": ["security"]}, "channels": ["hook"]}],
    )
    assert rule_findings(fixed) == []


def test_a_missing_prefect_yaml_is_an_error_of_the_monitoring_step_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "gone" / "prefect.yaml"
    monkeypatch.setattr("opsbook.flows.weekly.PREFECT_YAML", missing)
    deps = tmp_path / "pip.json"
    deps.write_text("[]")
    config = write_config(
        tmp_path,
        {
            "history": {"url": f"sqlite:///{tmp_path / 'h.db'}"},
            "reports": {"directory": str(tmp_path / "reports")},
            "maintenance": {"check_local_patches": False, "dependency_reports": [str(deps)]},
        },
    )
    state, outcome = run(config, apply=False)
    assert state.is_completed() and outcome.verdict is Verdict.RED
    by_check = {r.check: r for r in outcome.results}
    schedules = by_check["monitoring.schedules"]
    assert schedules.status is Status.ERROR and schedules.target == str(missing)
    assert f"cannot read the expected schedules from {missing}: No such file or directory" in schedules.message
    # The rest of the step and of the run went on, and the report was written.
    assert {"monitoring.prefect_server", "monitoring.deadman", "alerts.rules", "alerts.noise"} <= by_check.keys()
    assert {"maintenance.dependencies", "history.retention"} <= by_check.keys()
    assert "cannot read the expected schedules" in outcome.report_path.read_text()


@pytest.mark.parametrize("text", ["deployments: [", "deployments: 3", "name: no deployments key"])
def test_an_unreadable_prefect_yaml_names_the_file(tmp_path: Path, text: str) -> None:
    broken = tmp_path / "prefect.yaml"
    broken.write_text(text)
    results = asyncio.run(check_monitoring_system.fn(f"sqlite:///{tmp_path / 'h.db'}", broken, 26, HttpSettings()))
    (schedules,) = [r for r in results if r.check == "monitoring.schedules"]
    assert schedules.status is Status.ERROR and schedules.target == str(broken)
    assert schedules.message.startswith(f"cannot read the expected schedules from {broken}: ")
    assert {r.check for r in results} == {"monitoring.prefect_server", "monitoring.schedules", "monitoring.deadman"}
