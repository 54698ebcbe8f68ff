"""Embedding cache, repost clusters and candidate networks (the embed and link stages).

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "embeddings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("encoder", sa.String(200), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_embeddings")),
        sa.UniqueConstraint(
            "content_hash", "encoder", name=op.f("uq_embeddings_content_hash_encoder")
        ),
    )
    op.create_table(
        "post_clusters",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("cluster", sa.String(64), nullable=True),
        sa.Column("network", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_post_clusters_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("post_id", name=op.f("pk_post_clusters")),
    )
    op.create_index(op.f("ix_post_clusters_cluster"), "post_clusters", ["cluster"])
    op.create_index(op.f("ix_post_clusters_network"), "post_clusters", ["network"])
    op.create_table(
        "networks",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("posts", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_networks")),
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_post_clusters_network"), table_name="post_clusters")
    op.drop_index(op.f("ix_post_clusters_cluster"), table_name="post_clusters")
    for table in ("networks", "post_clusters", "embeddings"):
        op.drop_table(table)
