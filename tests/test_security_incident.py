"""The security incident flow: evidence from real logs, dry run, blocklist, approval, history."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from opsbook.config import parse_config
from opsbook.flows.security_incident import SecurityIncidentOutcome, SecurityIncidentParams, security_incident_response
from opsbook.tasks.security.incident import apply_block, ip_timeline, plan_block, security_incidents
from tests.helpers import write_config
from tests.test_security_logs import OPENSSH, _need

pytestmark = pytest.mark.usefixtures("prefect_server")

IP = "203.0.113.9"


def _config(tmp_path: Path, **security: object) -> Path:
    now = datetime.now(UTC)
    auth = tmp_path / "auth.log"
    lines = [
        f"{now - timedelta(minutes=20) + timedelta(seconds=i):%b %e %H:%M:%S} web1 sshd[7]: "
        f"Failed password for root from {IP} port {i} ssh2"
        for i in range(12)
    ]
    lines.append(
        f"{now - timedelta(minutes=5):%b %e %H:%M:%S} web1 sshd[7]: Failed password for bob from 198.51.100.1 "
        "port 1 ssh2"
    )
    auth.write_text("\n".join(lines) + "\n")
    access = tmp_path / "access.log"
    access.write_text(
        f'{IP} - - [{now - timedelta(minutes=1):%d/%b/%Y:%H:%M:%S +0000}] "POST /login HTTP/1.1" 401 0 "-" "curl"\n'
    )
    return write_config(
        tmp_path,
        {
            "history": {"url": f"sqlite:///{tmp_path / 'history.db'}"},
            "reports": {"directory": str(tmp_path / "reports")},
            "security": {"auth_logs": [str(auth)], "access_logs": [str(access)], **security},
        },
    )


def _run(params: SecurityIncidentParams):
    state = security_incident_response(params=params, return_state=True)
    outcome = state.result(raise_on_failure=False)
    assert isinstance(outcome, SecurityIncidentOutcome), outcome
    return state, outcome


def test_dry_run_gathers_evidence_records_history_and_changes_nothing(tmp_path: Path) -> None:
    blocklist = tmp_path / "blocklist.conf"
    config = _config(tmp_path, blocklist=str(blocklist))
    state, outcome = _run(SecurityIncidentParams(incident_type="brute_force", source_ip=IP, config_path=str(config)))
    assert state.is_completed()
    assert not blocklist.exists()
    record = outcome.record
    assert record.evidence["events"] == 13  # 12 ssh failures and one web login, nothing of the other IP
    assert record.evidence["by_kind"] == {"failure": 12, "http 401": 1}
    assert "would add `deny 203.0.113.9;`" in record.actions["block"] and record.dry_run
    (stored,) = security_incidents(f"sqlite:///{tmp_path / 'history.db'}", IP)
    assert stored.reference == record.reference and stored.evidence_events == 13 and stored.blocked is False
    assert stored.severity == "P1" and stored.escalation_level == 2


def test_applied_block_writes_a_deny_line_once(tmp_path: Path) -> None:
    blocklist = tmp_path / "blocklist.conf"
    blocklist.write_text("deny 192.0.2.1;")  # an existing include without a final newline
    config = _config(tmp_path, blocklist=str(blocklist))
    params = SecurityIncidentParams(
        incident_type="brute_force", source_ip=IP, dry_run=False, require_approval=False, config_path=str(config)
    )
    state, outcome = _run(params)
    assert state.is_completed() and outcome.record.blocked
    text = blocklist.read_text()
    assert re.findall(r"^deny (\S+);$", text, re.MULTILINE) == ["192.0.2.1", IP]
    _, again = _run(params)
    assert "already denied" in again.record.actions["block"] and not again.record.blocked
    assert blocklist.read_text() == text
    assert len(security_incidents(f"sqlite:///{tmp_path / 'history.db'}", IP)) == 2


def test_block_waits_for_approval_in_the_prefect_ui(tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.flow_runs import resume_flow_run

    blocklist = tmp_path / "blocklist.conf"
    config = _config(tmp_path, blocklist=str(blocklist))
    params = SecurityIncidentParams(
        incident_type="brute_force", source_ip=IP, dry_run=False, approval_timeout_s=60, config_path=str(config)
    )
    box: dict[str, object] = {}
    runner = threading.Thread(
        target=lambda: box.update(state=security_incident_response(params=params, return_state=True))
    )
    runner.start()

    async def paused_run_id() -> str | None:
        async with get_client() as client:
            runs = await client.read_flow_runs()
            return next((str(r.id) for r in runs if r.state and r.state.is_paused()), None)

    import asyncio

    run_id = None
    for _ in range(120):
        run_id = asyncio.run(paused_run_id())
        if run_id or not runner.is_alive():
            break
        time.sleep(0.5)
    assert run_id, "the flow never paused for approval"
    assert not blocklist.exists()  # nothing changes before the approval
    resume_flow_run(run_id, run_input={"approve": True, "approver": "alice"})
    runner.join(timeout=60)
    outcome = box["state"].result(raise_on_failure=False)
    assert outcome.record.blocked and f"deny {IP};" in blocklist.read_text()
    assert "approved by alice" in blocklist.read_text()


def test_data_breach_is_p0_with_executive_escalation(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _, outcome = _run(SecurityIncidentParams(incident_type="data_breach", severity="low", config_path=str(config)))
    assert (outcome.record.severity, outcome.record.escalation_level, outcome.record.executive_escalation) == (
        "P0",
        4,
        True,
    )
    assert "executives" in outcome.record.actions["escalate"]
    # The general incident is opened too: a P0 at level 4 (high business impact), with its timeline.
    from opsbook.incidents import get_incident
    from opsbook.store import HistoryStore

    incident = get_incident(HistoryStore(f"sqlite:///{tmp_path / 'history.db'}"), outcome.record.incident_ref)
    assert incident.severity == "P0" and incident.escalation_level == 4 and incident.component == "security"
    assert outcome.record.reference in incident.description


def test_parameters_are_validated() -> None:
    with pytest.raises(ValidationError, match="source_ip"):
        SecurityIncidentParams(incident_type="brute_force", source_ip="not-an-ip")
    with pytest.raises(ValidationError, match="source_ip is required"):
        SecurityIncidentParams(incident_type="brute_force")
    assert SecurityIncidentParams(incident_type="other").dry_run is True


def test_loopback_is_never_blocked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="refusing"):
        plan_block(tmp_path / "b.conf", "127.0.0.1")
    plan = plan_block(tmp_path / "missing-dir" / "b.conf", "2001:db8::1")
    with pytest.raises(FileNotFoundError):
        apply_block(plan, "test")


def test_timeline_of_the_real_top_attacker_matches_grep(tmp_path: Path) -> None:
    path = _need(OPENSSH)
    config = parse_config({"security": {"auth_logs": [str(path)]}}, base_dir=tmp_path)
    until = datetime(2026, 1, 1, tzinfo=UTC)
    timeline = ip_timeline(config, "183.62.140.253", until - timedelta(days=60), until)
    lines = [line for line in path.read_text().splitlines() if "183.62.140.253" in line]
    expected = sum(int(m.group(1)) if (m := re.search(r"message repeated (\d+) times", line)) else 1 for line in lines)
    assert sum("from 183.62.140.253" in line for line in lines) == 580  # the data README's figure
    assert len(timeline) == expected
    assert timeline["ts"].is_monotonic_increasing
