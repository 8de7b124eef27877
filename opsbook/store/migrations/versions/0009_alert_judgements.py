"""alert judgements: true or false positive, per firing episode

Revision ID: 0009_alert_judgements
Revises: 0008_incidents
Create Date: 2026-11-27 08:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_alert_judgements"
down_revision = "0008_incidents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_judgements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fingerprint", sa.String(length=450), nullable=False),
        sa.Column("check", sa.String(length=100), nullable=False),
        sa.Column("episode_started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("episode_resolved", sa.DateTime(timezone=True), nullable=True),
        sa.Column("true_positive", sa.Boolean(), nullable=False),
        sa.Column("judged_by", sa.String(length=100), nullable=False),
        sa.Column("judged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fingerprint", "episode_started", name="uq_alert_judgements_episode"),
    )
    with op.batch_alter_table("alert_judgements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_judgements_fingerprint"), ["fingerprint"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alert_judgements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_judgements_fingerprint"))
    op.drop_table("alert_judgements")
