"""security incidents

Revision ID: 0007_security_incidents
Revises: 0006_backup_verifications
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_security_incidents"
down_revision = "0006_backup_verifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "security_incidents",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("incident_type", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=4), nullable=False),
        sa.Column("source_ip", sa.String(length=45), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("executive_escalation", sa.Boolean(), nullable=False),
        sa.Column("evidence_events", sa.Integer(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("incident_ref", sa.String(length=40), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("security_incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_security_incidents_reference"), ["reference"], unique=False)
        batch_op.create_index(batch_op.f("ix_security_incidents_opened_at"), ["opened_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_security_incidents_incident_type"), ["incident_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_security_incidents_source_ip"), ["source_ip"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("security_incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_incidents_source_ip"))
        batch_op.drop_index(batch_op.f("ix_security_incidents_incident_type"))
        batch_op.drop_index(batch_op.f("ix_security_incidents_opened_at"))
        batch_op.drop_index(batch_op.f("ix_security_incidents_reference"))
    op.drop_table("security_incidents")
