"""Keep each entity kind's own fields: ``entities.fields`` (JSON).

The entities table had columns only for what every kind shares (value, platform,
amount, currency, offsets), so a store round-trip dropped a place's ``role`` and
``country`` and a price's ``per`` — and with them the route a post names. The
fields each kind keeps are declared in ``signalering/data/entity_kinds.yaml``.
Rows written before this migration have none (NULL); the next re-score of a post
writes them.

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


def downgrade() -> None:
    # Native DROP COLUMN (SQLite 3.35+), like 0006.
    op.drop_column("entities", "fields")
