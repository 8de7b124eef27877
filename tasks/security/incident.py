"""The security incident runbook's pieces: evidence, priority, the blocklist, the history record.

The blocklist is an nginx include of `deny <ip>;` lines. It is only ever appended to, written
atomically (temp file, then rename), and an IP already denied is left alone, so repeating the
action is harmless.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from opsbook.config import EstateConfig
from opsbook.secrets import redact
from opsbook.store import open_store
from opsbook.store.security_models import SecurityIncident
from opsbook.tasks.security.accesslog import parse_access_log
from opsbook.tasks.security.authlog import parse_auth_log
from opsbook.tasks.security.findings import in_window

TIMELINE_ROWS = 50

# Runbook severities and their priorities; the escalation levels follow the escalation matrix
# for an incident that has just been opened (high impact for critical ones).
PRIORITY = {"critical": "P0", "high": "P1", "medium": "P2", "low": "P3"}
ESCALATION_LEVEL = {"P0": 4, "P1": 2, "P2": 1, "P3": 1}


def priority_of(incident_type: str, severity: str) -> tuple[str, int, bool]:
    """(priority, escalation level, executive escalation). A data breach is always P0 to executives."""
    if incident_type == "data_breach":
        return "P0", 4, True
    priority = PRIORITY[severity]
    return priority, ESCALATION_LEVEL[priority], False


def ip_timeline(config: EstateConfig, ip: str, since: datetime, until: datetime) -> pd.DataFrame:
    """Everything one IP did in the configured auth and access logs, oldest first."""
    security = config.security
    frames = []
    for path in security.auth_logs:
        if path.exists():
            events = in_window(parse_auth_log(path, until, security.syslog_timezone).events, since, until)
            mine = events.loc[events["ip"] == ip]
            frames.append(
                pd.DataFrame(
                    {
                        "ts": mine["ts"],
                        "source": str(path),
                        "kind": mine["kind"],
                        "detail": "user " + mine["user"].fillna("?") + " via " + mine["method"].fillna("?"),
                    }
                )
            )
    for path in security.access_logs:
        if path.exists():
            requests = in_window(parse_access_log(path).events, since, until)
            mine = requests.loc[requests["ip"] == ip]
            frames.append(
                pd.DataFrame(
                    {
                        "ts": mine["ts"],
                        "source": str(path),
                        "kind": "http " + mine["status"].astype(str),
                        "detail": mine["method"].fillna("") + " " + mine["path"],
                    }
                )
            )
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=["ts", "source", "kind", "detail"])
    return pd.concat(frames, ignore_index=True).sort_values("ts", kind="stable").reset_index(drop=True)


def evidence_of(timeline: pd.DataFrame) -> dict[str, Any]:
    """The timeline as evidence: size, span, counts by kind and the first rows."""
    if timeline.empty:
        return {"events": 0, "by_kind": {}, "first": None, "last": None, "timeline": []}
    rows = timeline.head(TIMELINE_ROWS)
    return {
        "events": len(timeline),
        "by_kind": timeline["kind"].value_counts().to_dict(),
        "first": timeline["ts"].min().isoformat(),
        "last": timeline["ts"].max().isoformat(),
        "timeline": [
            [ts.isoformat(), source, kind, detail[:200]] for ts, source, kind, detail in rows.itertuples(index=False)
        ],
    }


@task(name="gather-ip-timeline", timeout_seconds=600, cache_policy=NO_CACHE)
def gather_ip_timeline(config: EstateConfig, ip: str, since: datetime, until: datetime) -> dict[str, Any]:
    """The runbook's first step: what did this IP do? (evidence for the incident)."""
    return evidence_of(ip_timeline(config, ip, since, until))


# --- blocklist ---------------------------------------------------------------------------------


@dataclass
class BlockPlan:
    path: Path
    ip: str
    already_blocked: bool
    line: str
    applied: bool = False
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if self.already_blocked:
            return f"{self.ip} is already denied in {self.path}"
        verb = "added" if self.applied else "would add"
        return f"{verb} `{self.line}` to {self.path}"


def _denies(text: str, ip: str) -> bool:
    return re.search(rf"^\s*deny\s+{re.escape(ip)}\s*;", text, re.MULTILINE) is not None


def plan_block(path: Path, ip: str) -> BlockPlan:
    """What blocking `ip` would change; reads the file, never writes it."""
    address = ipaddress.ip_address(ip)  # raises on anything that is not an IP
    if address.is_loopback or address.is_unspecified:
        raise ValueError(f"refusing to block {address}: it would cut off this host")
    text = path.read_text() if path.exists() else ""
    return BlockPlan(path, str(address), _denies(text, str(address)), f"deny {address};")


def apply_block(plan: BlockPlan, reason: str) -> BlockPlan:
    """Append the deny line atomically (a reader sees the old or the new file, never half)."""
    if plan.already_blocked:
        return plan
    if not plan.path.parent.is_dir():
        raise FileNotFoundError(f"blocklist folder {plan.path.parent} does not exist")
    current = plan.path.read_text() if plan.path.exists() else ""
    if current and not current.endswith("\n"):
        current += "\n"
    comment = "# " + redact(reason).replace("\n", " ")[:200]
    fd, temp = tempfile.mkstemp(dir=plan.path.parent, prefix=".blocklist-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{current}{comment}\n{plan.line}\n")
        os.chmod(temp, 0o644)
        os.replace(temp, plan.path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    plan.applied = True
    return plan


# --- records -------------------------------------------------------------------------------------


@dataclass
class SecurityIncidentRecord:
    """One handled security incident, as the history keeps it."""

    id: str
    reference: str
    opened_at: datetime
    incident_type: str
    severity: str
    source_ip: str | None
    escalation_level: int
    executive_escalation: bool
    evidence: dict[str, Any]
    actions: dict[str, Any]
    dry_run: bool
    blocked: bool = False
    incident_ref: str | None = None
    summary: str = ""


def record_security_incident(history_url: str, record: SecurityIncidentRecord) -> None:
    """Write (or rewrite, for the same flow run) one security incident in the history."""
    store = open_store(history_url)
    with store.session() as session, session.begin():
        row = session.get(SecurityIncident, record.id) or SecurityIncident(id=record.id)
        for name, value in record.__dict__.items():
            if name != "id":
                setattr(row, name, redact(value) if isinstance(value, (str, dict)) else value)
        row.evidence_events = int(record.evidence.get("events", 0))
        session.add(row)


def security_incidents(history_url: str, source_ip: str | None = None) -> list[SecurityIncident]:
    """Stored security incidents, newest first (optionally for one IP)."""
    from sqlalchemy import select

    store = open_store(history_url)
    query = select(SecurityIncident).order_by(SecurityIncident.opened_at.desc())
    if source_ip:
        query = query.where(SecurityIncident.source_ip == source_ip)
    with store.session() as session:
        return list(session.scalars(query))


def open_general_incident(history_url: str, record: SecurityIncidentRecord) -> str:
    """Open the general INC- incident for a security incident (timeline, escalation, KPIs); return its id."""
    from opsbook.incidents import open_incident

    source = f" from {record.source_ip}" if record.source_ip else ""
    incident = open_incident(
        open_store(history_url),
        severity=record.severity,
        component="security",
        alert_type="security",
        description=f"Security incident {record.reference}: {record.incident_type}{source}",
        business_impact="high" if record.executive_escalation else "normal",
        now=record.opened_at,
    )
    return incident.id
