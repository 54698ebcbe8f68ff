"""Mark posts whose entities were extracted: ``posts.extracted_at``.

An extraction that finds nothing leaves no entity rows, so without a marker such a post
cannot be told from one never extracted, and every re-score extracted it again. The
store now sets ``extracted_at`` whenever it writes a post's entities (even none).
Backfilled with the migration time for posts that have entity rows; stored posts with
an empty extraction stay unmarked, so the next re-score extracts them once more and
marks them.

Revision ID: 0006
Revises: 0005
Create Date: 2025-01-06
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("posts", sa.Column("extracted_at", TS, nullable=True))
    posts = sa.table("posts", sa.column("id"), sa.column("extracted_at", TS))
    entities = sa.table("entities", sa.column("post_id"))
    # SQLite keeps naive UTC (as UTCDateTime does); PostgreSQL a timestamptz.
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    has_entities = sa.exists().where(entities.c.post_id == posts.c.id)
    op.execute(posts.update().where(has_entities).values(extracted_at=now))


def downgrade() -> None:
    # Native DROP COLUMN (SQLite 3.35+): batch mode would rebuild posts and lose the
    # full-text triggers of 0005.
    op.drop_column("posts", "extracted_at")
