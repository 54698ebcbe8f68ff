"""Re-scoring jobs and their chunks (resumable ``signalering rescore``).

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rescore_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("model_path", sa.Text(), nullable=True),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("posts", sa.Integer(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rescore_jobs")),
        sa.UniqueConstraint("model_version", name=op.f("uq_rescore_jobs_model_version")),
    )
    op.create_table(
        "rescore_chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("first_pk", sa.Integer(), nullable=False),
        sa.Column("last_pk", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("posts", sa.Integer(), nullable=True),
        sa.Column("done_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["rescore_jobs.id"],
            name=op.f("fk_rescore_chunks_job_id_rescore_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rescore_chunks")),
        sa.UniqueConstraint("job_id", "first_pk", name=op.f("uq_rescore_chunks_job_id_first_pk")),
    )
    op.create_index(
        "ix_rescore_chunks_job_id_status", "rescore_chunks", ["job_id", "status"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_rescore_chunks_job_id_status", table_name="rescore_chunks")
    op.drop_table("rescore_chunks")
    op.drop_table("rescore_jobs")
