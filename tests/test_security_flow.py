"""The security health check and the daily checklist's security step, on a real Prefect server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsbook.demo.server import LoopbackServer, Reply
from opsbook.demo.tls import TlsServer, issue
from opsbook.flows.checklist import ChecklistOutcome
from opsbook.flows.daily import daily_checklist
from opsbook.flows.security import security_health_check
from opsbook.results import Status, Verdict
from opsbook.store import HistoryStore
from tests.helpers import write_config
from tests.test_daily_flow import read_back

pytestmark = pytest.mark.usefixtures("prefect_server")


def _estate(tmp_path: Path, attack_minutes_ago: int = 30) -> dict:
    """A brute force `attack_minutes_ago` (under way within the hour: fail; older: warn) and an attacked web log."""
    now = datetime.now(UTC)
    auth = tmp_path / "auth.log"
    lines = [
        f"{now - timedelta(minutes=attack_minutes_ago) + timedelta(seconds=i):%b %e %H:%M:%S} web1 sshd[7]: "
        f"Failed password for root from 203.0.113.9 port {i} ssh2"
        for i in range(15)
    ]
    auth.write_text("\n".join(lines) + "\n")
    access = tmp_path / "access.log"
    access.write_text(
        f"203.0.113.50 - - [{now - timedelta(minutes=5):%d/%b/%Y:%H:%M:%S +0000}] "
        '"GET /item?id=1%20OR%201=1 HTTP/1.1" 200 10 "-" "sqlmap/1.7"\n'
    )
    return {
        "estate": "sec test",
        "history": {"url": f"sqlite:///{tmp_path / 'history.db'}"},
        "reports": {"directory": str(tmp_path / "reports")},
        "http": {"timeout_s": 2, "retries": 0},
        "security": {"auth_logs": [str(auth)], "access_logs": [str(access)]},
    }


def test_security_flow_writes_report_history_and_artifacts(tmp_path: Path) -> None:
    ca = issue(tmp_path / "pki", "ca", ["test CA"], ca=True)
    cert = issue(tmp_path / "pki", "app", ["app.test"], days_left=5, issuer=ca)
    with TlsServer(cert) as tls, LoopbackServer({"/": lambda _r: Reply(200, "ok")}) as web:
        data = _estate(tmp_path)
        data["security"] |= {
            "certificates": [{"endpoint": tls.endpoint, "server_name": "app.test"}],
            "certificate_policy": {"ca_bundle": str(ca.cert_path)},
            "headers": {"urls": [web.url("/")]},
        }
        state = security_health_check(config_path=str(write_config(tmp_path, data)), return_state=True)
    outcome = state.result(raise_on_failure=False)
    assert isinstance(outcome, ChecklistOutcome)
    assert state.is_completed() and outcome.verdict is Verdict.RED
    by_check = {r.check: r for r in outcome.results}
    auth = by_check["security.auth_failures"]
    assert auth.status is Status.FAIL and "BRUTE FORCE UNDER WAY (last 60 min)" in auth.message
    assert by_check["security.suspicious_activity"].status is Status.WARN
    assert by_check["security.certificate"].status is Status.FAIL
    assert by_check["security.headers"].status is Status.FAIL
    assert by_check["security.vulnerabilities"].status is Status.SKIPPED
    html = outcome.report_path.read_text()
    assert outcome.report_path.name.startswith("security-")
    assert "Brute force" in html and "203.0.113.9" in html and "Lines read" in html
    assert "in the last 60 min" in html  # the auth log says whether its brute force is under way
    assert "expires in 5 days" in html
    stored = HistoryStore(data["history"]["url"]).get_run(outcome.run_id)
    assert stored.flow == "security-health-check" and len(stored.results) == len(outcome.results)
    artifacts, _ = read_back(outcome.run_id)
    assert "security-report" in {a.key for a in artifacts}


def test_daily_checklist_has_a_security_status_step(tmp_path: Path) -> None:
    with LoopbackServer({"/h": lambda _r: Reply(200, "ok")}) as server:
        data = _estate(tmp_path, attack_minutes_ago=120) | {"platforms": [{"name": "fly", "url": server.url("/h")}]}
        state = daily_checklist(config_path=str(write_config(tmp_path, data)), return_state=True)
    outcome = state.result(raise_on_failure=False)
    assert state.is_completed() and outcome.verdict is Verdict.AMBER  # a brute force 2 h ago and attacks warn
    html = outcome.report_path.read_text()
    assert "Security status" in html
    checks = {r.check for r in outcome.results}
    assert {"platform.health", "security.auth_failures", "security.suspicious_activity"} <= checks
    assert "security.headers" not in checks  # platform headers are opt-in
