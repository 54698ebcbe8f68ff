"""Current score flag, review-queue indexes, and SQLite full-text search (FTS5).

``scores.is_current`` marks each post's latest score (backfilled: the highest id per
post, which is what "latest" meant before), so the queue ranks by an index instead
of a per-post subquery. On SQLite, ``posts_fts`` is an external-content FTS5 table
over ``posts.text`` kept in step by triggers; PostgreSQL keeps its GIN index from 0001.

Revision ID: 0005
Revises: 0004
Create Date: 2025-01-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# unicode61 splits on spaces and punctuation in every script (Arabic, Persian ...);
# remove_diacritics 2 lets "cafe" find "café". Words match whole, like PostgreSQL's.
FTS_TOKENIZE = "unicode61 remove_diacritics 2"

SQLITE_FTS = [
    f"""CREATE VIRTUAL TABLE posts_fts USING fts5(
        text, content='posts', content_rowid='id', tokenize='{FTS_TOKENIZE}')""",
    """CREATE TRIGGER posts_fts_insert AFTER INSERT ON posts BEGIN
        INSERT INTO posts_fts(rowid, text) VALUES (new.id, new.text);
    END""",
    """CREATE TRIGGER posts_fts_delete AFTER DELETE ON posts BEGIN
        INSERT INTO posts_fts(posts_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END""",
    """CREATE TRIGGER posts_fts_update AFTER UPDATE OF text ON posts BEGIN
        INSERT INTO posts_fts(posts_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO posts_fts(rowid, text) VALUES (new.id, new.text);
    END""",
    "INSERT INTO posts_fts(posts_fts) VALUES ('rebuild')",
]


def upgrade() -> None:
    op.add_column(
        "scores",
        sa.Column("is_current", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    scores = sa.table("scores", sa.column("id"), sa.column("post_id"), sa.column("is_current"))
    latest = sa.select(sa.func.max(scores.c.id)).group_by(scores.c.post_id)
    op.execute(scores.update().where(scores.c.id.in_(latest)).values(is_current=sa.true()))
    op.create_index(
        "ix_scores_current_rank", "scores", ["is_current", "flagged", "score", "post_id"]
    )
    op.create_index(
        "ix_scores_current_label_rank",
        "scores",
        ["is_current", "flagged", "label", "score", "post_id"],
    )
    op.create_index(
        "uq_scores_current_post_id",
        "scores",
        ["post_id"],
        unique=True,
        # As SQLAlchemy renders Score.is_current on SQLite: only then may the planner use it.
        sqlite_where=sa.text("is_current = 1"),
        postgresql_where=sa.text("is_current"),
    )
    op.create_index("ix_entities_post_id_platform", "entities", ["post_id", "platform"])
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("posts_fts_insert", "posts_fts_delete", "posts_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS posts_fts")
    op.drop_index("ix_entities_post_id_platform", table_name="entities")
    op.drop_index("uq_scores_current_post_id", table_name="scores")
    op.drop_index("ix_scores_current_label_rank", table_name="scores")
    op.drop_index("ix_scores_current_rank", table_name="scores")
    with op.batch_alter_table("scores") as batch:
        batch.drop_column("is_current")
