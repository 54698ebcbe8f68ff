"""Store tables of the embed and link stages: the embedding cache, repost clusters, networks.

Registered on the same ``Base`` as the core models and created by migration 0002.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from signalering.store.models import Base, utcnow


class EmbeddingRow(Base):
    """One text's vector under one encoder (float32 bytes), keyed by content hash."""

    __tablename__ = "embeddings"
    __table_args__ = (UniqueConstraint("content_hash", "encoder"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    encoder: Mapped[str] = mapped_column(String(200))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PostCluster(Base):
    """The repost cluster and candidate network a stored post belongs to (latest linking run)."""

    __tablename__ = "post_clusters"

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    cluster: Mapped[str | None] = mapped_column(String(64), index=True)
    network: Mapped[str | None] = mapped_column(String(64), index=True)


class NetworkRow(Base):
    """A candidate network: connected posts with their summary (counts, sources, routes, dates)."""

    __tablename__ = "networks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    posts: Mapped[int] = mapped_column(Integer)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
