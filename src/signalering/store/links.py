"""Store tables of the embed and link stages: the embedding cache, repost clusters, networks.

Registered on the same ``Base`` as the core models and created by migration 0002; their
queries are the Store's (``LinkQueries``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    delete,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from signalering.store.models import Base, utcnow

if TYPE_CHECKING:
    from signalering.store import Store

_READ_CHUNK = 500  # hashes per IN (...) list


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


class LinkQueries:
    """Reads and writes of the embedding cache, clusters and networks (mixed into ``Store``)."""

    def cached_vectors(self: Store, hashes: list[str], encoder: str) -> dict[str, bytes]:  # type: ignore[misc]
        """The cached float32 vectors (bytes) of ``hashes`` under ``encoder``; missing ones absent."""
        found: dict[str, bytes] = {}
        with self._session() as session:
            for start in range(0, len(hashes), _READ_CHUNK):
                chunk = hashes[start : start + _READ_CHUNK]
                rows = session.execute(
                    select(EmbeddingRow.content_hash, EmbeddingRow.vector).where(
                        EmbeddingRow.encoder == encoder, EmbeddingRow.content_hash.in_(chunk)
                    )
                )
                for key, blob in rows:
                    found[key] = blob
        return found

    def cache_vectors(self: Store, vectors: dict[str, tuple[int, bytes]], encoder: str) -> None:  # type: ignore[misc]
        """Write ``hash -> (dim, float32 bytes)``; one another process wrote meanwhile is kept."""
        if not vectors:
            return
        with self._session(write=True) as session:
            present = set(
                session.scalars(
                    select(EmbeddingRow.content_hash).where(
                        EmbeddingRow.encoder == encoder,
                        EmbeddingRow.content_hash.in_(list(vectors)),
                    )
                )
            )
            session.add_all(
                EmbeddingRow(content_hash=key, encoder=encoder, dim=dim, vector=blob)
                for key, (dim, blob) in vectors.items()
                if key not in present
            )

    def replace_links(  # type: ignore[misc]
        self: Store,
        memberships: Iterable[tuple[int, str | None, str | None]],
        networks: Iterable[dict[str, Any]],
    ) -> None:
        """Replace the last linking run: ``(post id, cluster, network)`` rows and network
        summaries (each with ``id`` and ``posts``), in one transaction."""
        with self._session(write=True) as session:
            session.execute(delete(PostCluster))
            session.execute(delete(NetworkRow))
            session.add_all(
                PostCluster(post_id=pk, cluster=cluster, network=network)
                for pk, cluster, network in memberships
            )
            session.add_all(NetworkRow(id=n["id"], posts=n["posts"], summary=n) for n in networks)

    def networks(self: Store, *, limit: int = 50) -> list[dict[str, Any]]:  # type: ignore[misc]
        """Stored network summaries, largest first."""
        query = select(NetworkRow).order_by(NetworkRow.posts.desc(), NetworkRow.id).limit(limit)
        with self._session() as session:
            return [dict(row.summary) for row in session.scalars(query)]

    def post_links(self: Store, post_pk: int) -> dict[str, Any]:  # type: ignore[misc]
        """The cluster and network of a stored post, and the other posts of its cluster."""
        with self._session() as session:
            row = session.get(PostCluster, int(post_pk))
            if row is None:
                return {"cluster": None, "network": None, "cluster_posts": []}
            others = []
            if row.cluster is not None:
                others = list(
                    session.scalars(
                        select(PostCluster.post_id).where(
                            PostCluster.cluster == row.cluster, PostCluster.post_id != row.post_id
                        )
                    )
                )
            return {"cluster": row.cluster, "network": row.network, "cluster_posts": others}
