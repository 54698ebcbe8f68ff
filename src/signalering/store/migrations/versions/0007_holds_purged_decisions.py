"""Holds that keep a post from the retention purge, and decisions kept after a purge.

``holds``: one row per post an analyst put on hold for an investigation; the purge
skips it until the hold is lifted. ``purged_decisions``: what remains of a decision
once its post was purged — the action, the label, who and when — without the post,
its text, the note or any contact.

Revision ID: 0007
Revises: 0006
Create Date: 2025-01-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "holds",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_holds_post_id_posts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("post_id", name=op.f("pk_holds")),
    )
    op.create_table(
        "purged_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("label", sa.String(50), nullable=True),
        sa.Column("decided_at", TS, nullable=False),
        sa.Column("purged_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purged_decisions")),
    )


def downgrade() -> None:
    op.drop_table("purged_decisions")
    op.drop_table("holds")
