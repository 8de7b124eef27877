"""History of security incidents: what was seen, what was decided, what was done.

One row per run of the security incident flow (the Prefect flow-run id makes the write
idempotent). The general incident (an INC- record of opsbook.incidents) is linked by `incident_ref` when one was opened.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer
from sqlalchemy.orm import Mapped, mapped_column

from opsbook.store.models import Base
from opsbook.store.types import BoundedString, CleanText


class SecurityIncident(Base):
    __tablename__ = "security_incidents"

    id: Mapped[str] = mapped_column(BoundedString(64), primary_key=True, doc="the flow-run id that handled it")
    reference: Mapped[str] = mapped_column(BoundedString(40), index=True, doc="SEC-YYYYMMDD-HHMMSS, for people")
    opened_at: Mapped[datetime] = mapped_column(index=True)
    incident_type: Mapped[str] = mapped_column(BoundedString(40), index=True)
    severity: Mapped[str] = mapped_column(BoundedString(4), doc="P0..P3")
    source_ip: Mapped[str | None] = mapped_column(BoundedString(45), index=True)
    escalation_level: Mapped[int] = mapped_column(Integer)
    executive_escalation: Mapped[bool] = mapped_column(Boolean, default=False)
    evidence_events: Mapped[int] = mapped_column(Integer, default=0)
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="timeline summary and first events")
    actions: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="what was done or would be done")
    dry_run: Mapped[bool] = mapped_column(Boolean, default=True)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False, doc="the blocklist file was changed")
    incident_ref: Mapped[str | None] = mapped_column(BoundedString(40), doc="the general incident, when one was opened")
    summary: Mapped[str] = mapped_column(CleanText, default="")
