"""backup verification records

Revision ID: 0006_backup_verifications
Revises: 0001_foundation
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_backup_verifications"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backup_verifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("repository", sa.String(length=200), nullable=False),
        sa.Column("backup", sa.String(length=500), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("restore_seconds", sa.Float(), nullable=True),
        sa.Column("rpo_seconds", sa.Float(), nullable=True),
        sa.Column("scratch_database", sa.String(length=100), nullable=True),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("backup_verifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_backup_verifications_run_id"), ["run_id"], unique=False)
        batch_op.create_index("ix_backup_verifications_repo_verified", ["repository", "verified_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("backup_verifications", schema=None) as batch_op:
        batch_op.drop_index("ix_backup_verifications_repo_verified")
        batch_op.drop_index(batch_op.f("ix_backup_verifications_run_id"))
    op.drop_table("backup_verifications")
