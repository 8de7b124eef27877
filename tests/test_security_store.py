"""Security incidents in the history store, on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opsbook.tasks.security.incident import SecurityIncidentRecord, record_security_incident, security_incidents


def test_security_incidents_round_trip_and_rewrite_per_run(history_url: str) -> None:
    opened = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    record = SecurityIncidentRecord(
        id="run-1",
        reference="SEC-20261127-080000",
        opened_at=opened,
        incident_type="brute_force",
        severity="P1",
        source_ip="203.0.113.9",
        escalation_level=2,
        executive_escalation=False,
        evidence={"events": 3, "timeline": [["2026-11-27T07:59:00+00:00", "auth.log", "failure", "user root"]]},
        actions={"block": "would add `deny 203.0.113.9;`"},
        dry_run=True,
    )
    record_security_incident(history_url, record)
    record.actions = {"block": "added `deny 203.0.113.9;`"}
    record.blocked, record.dry_run = True, False
    record_security_incident(history_url, record)  # same flow run: rewritten, not duplicated
    other = SecurityIncidentRecord(
        id="run-2",
        reference="SEC-20261127-090000",
        opened_at=opened + timedelta(hours=1),
        incident_type="data_breach",
        severity="P0",
        source_ip=None,
        escalation_level=4,
        executive_escalation=True,
        evidence={"events": 0},
        actions={},
        dry_run=True,
    )
    record_security_incident(history_url, other)
    newest, oldest = security_incidents(history_url)
    assert (newest.id, oldest.id) == ("run-2", "run-1")
    assert oldest.blocked and oldest.evidence_events == 3 and oldest.opened_at == opened
    assert oldest.evidence["timeline"][0][2] == "failure"
    assert [i.id for i in security_incidents(history_url, "203.0.113.9")] == ["run-1"]
