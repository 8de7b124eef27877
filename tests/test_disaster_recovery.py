"""The disaster-recovery flow on a real Prefect server, real PostgreSQL and real backups."""

from __future__ import annotations

import asyncio
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.flow_runs import resume_flow_run
from sqlalchemy import create_engine, text

from opsbook.flows.checklist import ChecklistOutcome
from opsbook.flows.disaster_recovery import DisasterRecoveryParams, disaster_recovery
from opsbook.results import Status, Verdict
from opsbook.tasks.backups.create import create_backup
from opsbook.tasks.backups.records import verifications
from tests.backup_helpers import repository, source_database
from tests.helpers import write_config
from tests.test_backups import scratch_databases

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.postgres]


@pytest.fixture(scope="module")
def source(postgres_admin_url: str) -> Iterator[str]:
    with source_database(postgres_admin_url) as url:
        yield url


@pytest.fixture
def dr_database(postgres_admin_url: str) -> Iterator[str]:
    """A DR target database name on the real server (absent at first); dropped afterwards."""
    name = f"opsbook_test_dr_{uuid.uuid4().hex[:12]}"
    yield name
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def database_exists(admin_url: str, name: str) -> bool:
    engine = create_engine(admin_url)
    with engine.connect() as connection:
        found = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
    engine.dispose()
    return found is not None


def dr_config(tmp_path: Path, source: str, admin_url: str, dr_name: str, marker: Path) -> Path:
    repo = repository(tmp_path / "backups")
    create_backup(source, repo)
    server = admin_url.rsplit("/", 1)[0]
    return write_config(
        tmp_path,
        {
            "estate": "dr test",
            "history": {"url": f"sqlite:///{tmp_path / 'history.db'}"},
            "reports": {"directory": str(tmp_path / "reports")},
            "backups": {
                "repositories": [
                    {
                        "name": "main",
                        "path": str(repo.path),
                        "expected_tables": ["users", "events"],
                        "rpo_column": "public.events.created_at",
                    }
                ],
                "restore_server": {"url": admin_url},
                "disaster_recovery": {
                    "targets": [{"name": "dr", "url": f"{server}/{dr_name}", "repository": "main"}],
                    "switch_over": [
                        {
                            "name": "dns-to-dr",
                            "command": [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('switched')"],
                        }
                    ],
                },
            },
        },
    )


def test_a_drill_restores_into_a_scratch_copy_and_never_runs_actions(
    tmp_path: Path, source: str, postgres_admin_url: str, dr_database: str
) -> None:
    marker = tmp_path / "switched"
    config = dr_config(tmp_path, source, postgres_admin_url, dr_database, marker)
    before = scratch_databases(postgres_admin_url)

    state = disaster_recovery(DisasterRecoveryParams(config_path=str(config), target="dr"), return_state=True)
    outcome = state.result(raise_on_failure=False)

    assert isinstance(outcome, ChecklistOutcome), outcome
    results = {r.check: r for r in outcome.results}
    assert results["dr.restore"].status is Status.OK, results["dr.restore"].message
    assert "scratch database" in results["dr.restore"].message and "(dropped: True)" in results["dr.restore"].message
    assert results["dr.validate"].status is Status.OK
    assert results["dr.switch_over.dns-to-dr"].status is Status.SKIPPED
    assert not marker.exists()  # the drill never ran the action
    assert not database_exists(postgres_admin_url, dr_database)  # nor touched the DR target
    assert scratch_databases(postgres_admin_url) <= before  # nothing new left behind (others may run at once)
    assert results["dr.rto"].value is not None and results["dr.rpo"].status is Status.OK
    assert {r.target for r in outcome.results if r.check == "dr.communicate"} >= {"notify: notify the DR team"}
    (record,) = verifications(f"sqlite:///{tmp_path / 'history.db'}", kind="dr-drill")
    assert record.status == "ok" and record.rpo_seconds is not None and record.restore_seconds is not None
    assert outcome.report_path is not None and "Disaster recovery drill" in outcome.report_path.read_text()


async def _approve_when_paused(flow_run_name: str, approve: bool) -> None:
    async with get_client() as client:
        for _ in range(300):
            runs = await client.read_flow_runs()
            paused = [r for r in runs if r.state and r.state.is_paused() and r.name == flow_run_name]
            if paused:
                await resume_flow_run(paused[0].id, run_input={"approve": approve, "approver": "ops-lead"})
                return
            await asyncio.sleep(0.5)
    raise AssertionError("the flow never paused for approval")


@pytest.mark.parametrize("approve", [True, False])
def test_an_activation_restores_into_the_target_and_runs_actions_only_when_approved(
    tmp_path: Path, source: str, postgres_admin_url: str, dr_database: str, approve: bool
) -> None:
    marker = tmp_path / "switched"
    config = dr_config(tmp_path, source, postgres_admin_url, dr_database, marker)
    name = f"dr-{uuid.uuid4().hex[:8]}"
    params = DisasterRecoveryParams(config_path=str(config), target="dr", drill=False, scenario="database-loss")
    approver = threading.Thread(target=lambda: asyncio.run(_approve_when_paused(name, approve)))
    approver.start()
    state = disaster_recovery.with_options(flow_run_name=name)(params, return_state=True)
    approver.join(timeout=120)

    outcome = state.result(raise_on_failure=False)
    assert isinstance(outcome, ChecklistOutcome), outcome
    results = {r.check: r for r in outcome.results}
    assert results["dr.restore"].status is Status.OK, results["dr.restore"].message
    engine = create_engine(postgres_admin_url.rsplit("/", 1)[0] + f"/{dr_database}")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM users")).scalar_one() == 200
    engine.dispose()
    action = results["dr.switch_over.dns-to-dr"]
    if approve:
        assert action.status is Status.OK and "approved by ops-lead" in action.message
        assert marker.read_text() == "switched"
    else:
        assert action.status is Status.SKIPPED and "rejected by ops-lead" in action.message
        assert not marker.exists()


def test_an_activation_nobody_approves_restores_but_runs_no_action(
    tmp_path: Path, source: str, postgres_admin_url: str, dr_database: str
) -> None:
    marker = tmp_path / "switched"
    config = dr_config(tmp_path, source, postgres_admin_url, dr_database, marker)
    params = DisasterRecoveryParams(
        config_path=str(config), target="dr", drill=False, scenario="database-loss", approval_timeout_s=10
    )
    state = disaster_recovery(params, return_state=True)  # nobody answers the pause
    outcome = state.result(raise_on_failure=False)
    assert isinstance(outcome, ChecklistOutcome), outcome
    results = {r.check: r for r in outcome.results}
    assert results["dr.restore"].status is Status.OK, results["dr.restore"].message
    action = results["dr.switch_over.dns-to-dr"]
    assert action.status is Status.FAIL and "not run: no approval within 10 s" in action.message
    assert not marker.exists()
    assert state.is_completed() and outcome.verdict is Verdict.RED  # an activation left waiting is not a success


def test_an_activation_refuses_to_overwrite_a_target_that_holds_tables(
    tmp_path: Path, source: str, postgres_admin_url: str
) -> None:
    name = source.rsplit("/", 1)[1]  # point the "DR target" at the filled source: it must stay untouched
    marker = tmp_path / "switched"
    config = dr_config(tmp_path, source, postgres_admin_url, name, marker)
    params = DisasterRecoveryParams(config_path=str(config), target="dr", drill=False)
    outcome = disaster_recovery(params, return_state=True).result(raise_on_failure=False)
    results = {r.check: r for r in outcome.results}
    assert results["dr.restore"].status is Status.FAIL and "refusing to overwrite" in results["dr.restore"].message
    assert results["dr.switch_over.dns-to-dr"].status is Status.SKIPPED and not marker.exists()


def test_webhook_actions_post_once_and_a_5xx_is_not_retried(tmp_path: Path) -> None:
    from opsbook.config.backups import SwitchOverAction
    from opsbook.demo.server import LoopbackServer, Reply
    from opsbook.tasks.disaster_recovery import run_switch_over
    from tests.helpers import estate

    seen: list[tuple[str, str]] = []

    def record(request):
        seen.append((request.method, request.headers.get("Content-Type", "")))
        return Reply(200 if request.path == "/ok" else 503, "switched" if request.path == "/ok" else "busy")

    config = estate(tmp_path)
    with LoopbackServer({"/ok": record, "/busy": record}) as server:
        ok = asyncio.run(
            run_switch_over.fn(
                config, SwitchOverAction(name="lb", webhook=server.url("/ok")), {"action": "lb"}, "ops-lead"
            )
        )
        busy = asyncio.run(
            run_switch_over.fn(
                config, SwitchOverAction(name="lb", webhook=server.url("/busy")), {"action": "lb"}, "ops-lead"
            )
        )
        assert server.hits["/busy"] == 1  # a switch-over is not idempotent: never retried
    assert ok.status is Status.OK and "HTTP 200" in ok.message
    assert busy.status is Status.FAIL and "503" in busy.message
    assert seen[0] == ("POST", "application/json")


def test_dr_communication_is_sent_to_the_channels_and_a_failing_one_is_named(tmp_path: Path) -> None:
    import asyncio
    import json as _json

    from opsbook.config import parse_config
    from opsbook.demo.server import LoopbackServer, Reply
    from opsbook.tasks.disaster_recovery import communicate_dr

    received: list[dict] = []
    with LoopbackServer(
        {"/ok": lambda r: received.append(_json.loads(r.body)) or Reply(200), "/down": lambda r: Reply(503)}
    ) as hooks:
        config = parse_config(
            {
                "history": {"url": f"sqlite:///{tmp_path / 'h.db'}"},
                "http": {"retries": 0},
                "notifications": {
                    "retries": 0,
                    "channels": [
                        {"name": "team", "type": "webhook", "url": hooks.url("/ok")},
                        {"name": "pager", "type": "webhook", "url": hooks.url("/down")},
                    ],
                },
            },
            base_dir=tmp_path,
        )
        results = asyncio.run(
            communicate_dr.fn(config, ["notify the DR team"], "notify", "region outage", True, "dr", 60)
        )
    [result] = results
    assert [(m["step"], m["drill"], m["scenario"]) for m in received] == [("notify the DR team", True, "region outage")]
    assert result.status is Status.FAIL and "pager" in result.message and "team" not in result.message
    assert hooks.url("/down") not in result.message  # a webhook URL is a credential
