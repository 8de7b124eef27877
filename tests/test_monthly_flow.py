"""The monthly audit end to end on a real Prefect server, against loopback targets and a history
seeded with a month of incidents, alerts, check results and metric samples."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsbook.demo.server import LoopbackServer, Reply
from opsbook.flows.checklist import ChecklistOutcome
from opsbook.flows.monthly import monthly_audit
from opsbook.results import CheckResult, Status
from opsbook.store import HistoryStore
from opsbook.store.incident_models import AlertRow, IncidentRow
from opsbook.tasks.backups.records import verifications
from tests import test_disaster_recovery
from tests.analytics_data import growing, load
from tests.backup_helpers import source_database
from tests.focus_builder import month_rows, write_export
from tests.helpers import write_config
from tests.test_daily_flow import read_back
from tests.test_disaster_recovery import database_exists, dr_config

pytestmark = pytest.mark.usefixtures("prefect_server")
dr_database = test_disaster_recovery.dr_database  # the DR tests' fixture, used here too

RUNBOOK = Path(__file__).resolve().parents[2] / "shared" / "seed" / "operational-runbooks.md"
NOW = datetime.now(UTC)


def seed_history(url: str) -> None:
    """Two incidents (MTTD 3 and 4 min, MTTR 20 and 25 min, one escalated), two alerts, and 10
    platform health results of which one failed (90 % uptime against the 99.9 % target)."""
    store = HistoryStore(url)
    for i in range(10):
        at = NOW - timedelta(days=20 - 2 * i)
        store.record_run(
            run_id=f"seed-{i}",
            flow="daily-checklist",
            estate="t",
            started_at=at,
            finished_at=at,
            results=[
                CheckResult(
                    check="platform.health",
                    target="fly",
                    component="platforms",
                    status=Status.FAIL if i == 3 else Status.OK,
                    value=120.0,
                    started_at=at,
                )
            ],
        )
    with store.session() as session, session.begin():
        for n, (days, detect, resolve, level) in enumerate([(10, 3, 20, 1), (5, 4, 25, 2)], start=1):
            start = NOW - timedelta(days=days)
            session.add(
                IncidentRow(
                    id=f"INC-{n}",
                    severity="P1",
                    description="api down",
                    component="platforms",
                    state="resolved",
                    started_at=start,
                    opened_at=start + timedelta(minutes=detect),
                    resolved_at=start + timedelta(minutes=resolve),
                    escalation_level=level,
                )
            )
        for target in ("fly", "render"):
            session.add(
                AlertRow(
                    fingerprint=f"platform.health|{target}",
                    check="platform.health",
                    target=target,
                    component="platforms",
                    alert_type="infrastructure",
                    severity="P1",
                    state="resolved",
                    status="ok",
                    message="",
                    labels={},
                    count=1,
                    first_seen=NOW - timedelta(days=3),
                    last_seen=NOW - timedelta(days=3),
                    resolved_at=NOW - timedelta(days=3),
                )
            )
    load(store, growing(NOW, days=30, every=timedelta(minutes=30)), "host.cpu_pct")


def runbook_for(tmp_path: Path) -> tuple[Path, bool]:
    """The real runbook when the checkout sits beside it, else a two-step one with one step unmapped."""
    if RUNBOOK.exists():
        return RUNBOOK, True
    path = tmp_path / "runbook.md"
    path.write_text(
        '#### Weekly Monitoring System Check\n```bash\necho "1. Checking monitoring system health..."\n'
        'echo "2. Polishing the pager..."\n```\n'
    )
    return path, False


def test_monthly_audit_runs_every_section_and_judges_kpis(tmp_path: Path) -> None:
    history = f"sqlite:///{tmp_path / 'h.db'}"
    seed_history(history)
    runbook, real = runbook_for(tmp_path)
    last_month = NOW.replace(day=1) - timedelta(days=1)
    export = write_export(
        tmp_path / "focus.csv", month_rows(last_month.year, last_month.month, {"Compute": 10.0, "Storage": 2.5})
    )
    auth = tmp_path / "auth.log"
    auth.write_text(
        f"{NOW - timedelta(minutes=5):%b %e %H:%M:%S} web1 sshd[7]: Accepted publickey for deploy "
        "from 192.0.2.1 port 22 ssh2\n"
    )
    cpu = {"name": "cpu", "metric": "host.cpu_pct", "unit": "%"}
    with LoopbackServer({"/h": lambda r: Reply.json({"ok": True})}) as server:
        config = write_config(
            tmp_path,
            {
                "estate": "monthly test",
                "history": {"url": history},
                "reports": {"directory": str(tmp_path / "reports")},
                "http": {"timeout_s": 2, "retries": 0},
                "platforms": [{"name": "fly", "url": server.url("/h")}],
                "maintenance": {"runbook_path": str(runbook)},
                "security": {"auth_logs": [str(auth)]},
                "analytics": {
                    "performance": {"series": [cpu]},
                    "capacity": {"resources": [cpu | {"limit": {"warn": 80, "fail": 95}}]},
                },
                "costs": {"exports": [str(export)]},
            },
        )
        state = monthly_audit(config_path=str(config), return_state=True)
    outcome = state.result(raise_on_failure=False)
    assert isinstance(outcome, ChecklistOutcome), outcome
    by_check = {r.check: r for r in outcome.results}

    # The daily checks re-run, once each (the reviews are their own sections).
    assert by_check["platform.health"].status is Status.OK
    assert [r.check for r in outcome.results].count("platform.health") == 1
    assert by_check["performance.review"].status is not Status.ERROR, by_check["performance.review"].message
    assert by_check["security.auth_failures"].status is Status.OK
    assert by_check["capacity.projection"].target == "cpu"
    assert (
        by_check["cost.export_gate"].status is Status.OK and by_check["cost.month_total"].value == 12.5 * last_month.day
    )
    # KPIs against the runbook's targets, from the seeded incidents, alerts and results.
    uptime = by_check["kpi.uptime"]
    assert uptime.value == 90.0 and uptime.threshold == 99.9 and uptime.status is Status.WARN
    mttd, mttr = by_check["kpi.mttd"], by_check["kpi.mttr"]
    assert (mttd.value, mttd.threshold, mttd.status) == (3.5, 5, Status.OK)
    assert (mttr.value, mttr.threshold, mttr.status) == (22.5, 30, Status.OK)
    assert by_check["kpi.escalation_rate"].value == 50.0
    assert by_check["kpi.alert_accuracy"].status is Status.SKIPPED  # no alert is marked true/false
    # Runbook coverage, with the real runbook when it is there.
    coverage = by_check["runbook.coverage"]
    if real:
        assert coverage.target == RUNBOOK.name and coverage.value >= 50
        assert (
            "Monthly System Optimization / Performing comprehensive system health audit" in coverage.details["covered"]
        )
    else:
        assert coverage.value == 50.0 and coverage.details["uncovered"] == [
            "Weekly Monitoring System Check / Polishing the pager: not mapped"
        ]

    html = outcome.report_path.read_text()
    # The coverage step lists what is not fully automated, with the reason.
    assert "Runbook steps not fully automated" in html
    gap = "network utilisation is not measured" if real else "Weekly Monitoring System Check / Polishing the pager"
    assert gap in html
    for title in (
        "Platform health",
        "Performance review",
        "Security review",
        "Capacity planning update",
        "Runbook coverage",
        "Cost review",
        "Operational KPIs, last 30 days",
    ):
        assert title in html, title
    assert outcome.report_path.name.startswith("monthly-")
    assert HistoryStore(history).get_run(outcome.run_id).flow == "monthly-audit"
    artifacts, _ = read_back(outcome.run_id)
    assert "monthly-report" in {a.key for a in artifacts}


@pytest.fixture(scope="module")
def source(postgres_admin_url: str) -> Iterator[str]:
    with source_database(postgres_admin_url) as url:
        yield url


@pytest.mark.postgres
def test_monthly_audit_drills_disaster_recovery_without_switching_over(
    tmp_path: Path, source: str, postgres_admin_url: str, dr_database: str
) -> None:
    marker = tmp_path / "switched"
    config = dr_config(tmp_path, source, postgres_admin_url, dr_database, marker)
    state = monthly_audit(config_path=str(config), return_state=True)
    outcome = state.result(raise_on_failure=False)
    assert isinstance(outcome, ChecklistOutcome), outcome
    drill = {r.check: r for r in outcome.results if r.check.startswith("dr.")}
    assert drill["dr.restore"].status is Status.OK and "scratch database" in drill["dr.restore"].message
    assert drill["dr.validate"].status is Status.OK
    # A drill: no switch-over action ran and the DR target was never created.
    assert not marker.exists() and not database_exists(postgres_admin_url, dr_database)
    # The daily backup checks and the drill's share no (check, target): every result was stored.
    stored = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}").get_run(outcome.run_id)
    assert len(stored.results) == len(outcome.results)
    assert "Disaster recovery test (drill)" in outcome.report_path.read_text()
    # The drill is kept with the backup verifications, as the standalone DR flow keeps its own.
    [kept] = verifications(f"sqlite:///{tmp_path / 'history.db'}", kind="dr-drill")
    assert kept.run_id == outcome.run_id and kept.status == "ok" and kept.scratch_database
    assert kept.restore_seconds is not None and kept.rpo_seconds is not None
