"""Keep each entity kind's own fields: ``entities.fields`` (JSON).

The entities table had columns only for what every kind shares (value, platform,
amount, currency, offsets), so a store round-trip dropped a place's ``role`` and
``country`` and a price's ``per`` — and with them the route a post names. The
fields each kind keeps are declared in ``signalering/data/entity_kinds.yaml``.
Rows written before this migration have none (NULL), so posts with a stored place or
price lose their ``extracted_at`` mark: the next re-score extracts them once more
(replacing their entity rows, fields included) and marks them again.

Revision ID: 0008
Revises: 0007
Create Date: 2025-01-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("entities", sa.Column("fields", sa.JSON(), nullable=True))
    posts = sa.table("posts", sa.column("id"), sa.column("extracted_at"))
    entities = sa.table("entities", sa.column("post_id"), sa.column("kind"))
    with_fields = sa.exists().where(
        entities.c.post_id == posts.c.id, entities.c.kind.in_(("place", "price"))
    )
    op.execute(posts.update().where(with_fields).values(extracted_at=None))


def downgrade() -> None:
    # Native DROP COLUMN (SQLite 3.35+), like 0006.
    op.drop_column("entities", "fields")
