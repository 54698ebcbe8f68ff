"""SQLAlchemy models of the store: posts, their history, scores, entities and the audit trail.

The schema is created by the Alembic migrations in ``migrations/versions``; these
models describe the same tables for the ORM (a test checks that both agree).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from signalering.post import Post

# Named constraints keep migrations portable (SQLite batch mode needs names).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

DECISION_ACTIONS = ("confirm", "correct", "escalate", "dismiss")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on every engine.

    PostgreSQL stores ``timestamptz``; SQLite has no zones, so the value is stored
    as naive UTC and the zone is put back on read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str | None] = mapped_column(String(50))
    url: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    first_crawled: Mapped[datetime | None]
    last_crawled: Mapped[datetime | None]


class PostRow(Base):
    __tablename__ = "posts"
    __table_args__ = (
        # A post id is unique within its source; posts without one dedupe on url + hash.
        Index(
            "uq_posts_source_post_id",
            "source",
            "post_id",
            unique=True,
            sqlite_where=text("post_id IS NOT NULL"),
            postgresql_where=text("post_id IS NOT NULL"),
        ),
        Index("ix_posts_url_content_hash", "url", "content_hash"),
        Index("ix_posts_fetched_at", "fetched_at"),
        Index("ix_posts_source", "source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str | None] = mapped_column(String(50))
    url: Mapped[str | None] = mapped_column(Text)
    post_id: Mapped[str | None] = mapped_column(String(200))
    author: Mapped[str | None] = mapped_column(Text)  # clear, analyst-only
    author_pseudonym: Mapped[str | None] = mapped_column(String(64))
    posted_at: Mapped[datetime | None]
    fetched_at: Mapped[datetime]
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    lang: Mapped[str | None] = mapped_column(String(16))
    lang_confidence: Mapped[float | None] = mapped_column(Float)
    extras: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    removed_at: Mapped[datetime | None]
    # When entities were last stored for the post, even none found; null: never extracted
    # (re-score extracts only those, since an empty extraction leaves no entity rows).
    extracted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PostVersion(Base):
    """An earlier text of an edited post (the current text lives in ``posts``)."""

    __tablename__ = "post_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    fetched_at: Mapped[datetime]


class Score(Base):
    """One model version's verdict on a post; re-scoring adds rows, old versions stay.

    ``is_current`` marks each post's latest score (the one the queue ranks by); the
    store keeps exactly one per scored post, in the transaction that writes scores.
    """

    __tablename__ = "scores"
    __table_args__ = (
        UniqueConstraint("post_id", "model_version"),
        Index("ix_scores_queue", "model_version", "flagged", "score"),
        # The review queue: current flagged scores by rank, with and without a label.
        Index("ix_scores_current_rank", "is_current", "flagged", "score", "post_id"),
        Index("ix_scores_current_label_rank", "is_current", "flagged", "label", "score", "post_id"),
        # At most one current score per post, even with two writers at once (PostgreSQL).
        Index(
            "uq_scores_current_post_id",
            "post_id",
            unique=True,
            # Written as SQLAlchemy renders ``Score.is_current`` on SQLite, so the planner
            # sees that the query implies it and looks up current scores by post here.
            sqlite_where=text("is_current = 1"),
            postgresql_where=text("is_current"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    model_version: Mapped[str] = mapped_column(String(100))
    label: Mapped[str | None] = mapped_column(String(50))
    score: Mapped[float | None] = mapped_column(Float)  # probability of the label, for ranking
    probabilities: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    evidence: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Entity(Base):
    __tablename__ = "entities"
    __table_args__ = (
        Index("ix_entities_kind_value_pseudonym", "kind", "value_pseudonym"),
        Index("ix_entities_post_id_platform", "post_id", "platform"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # a kind of signalering.entities
    value: Mapped[str | None] = mapped_column(Text)
    value_pseudonym: Mapped[str | None] = mapped_column(String(64))
    platform: Mapped[str | None] = mapped_column(String(50))
    amount: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(3))
    start: Mapped[int | None] = mapped_column(Integer)
    end: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
    # The kind's own fields (EntityKind.fields): a place's role and country, a price's per.
    fields: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Decision(Base):
    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    user: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))  # confirm|correct|escalate|dismiss
    label: Mapped[str | None] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class CrawlRun(Base):
    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(200), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    pages: Mapped[int] = mapped_column(Integer, default=0)
    posts_new: Mapped[int] = mapped_column(Integer, default=0)
    posts_updated: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="running")
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)


def all_models() -> MetaData:
    """``Base.metadata`` with the tables of every module in the store package registered.

    Other modules (accounts, links, ...) add their tables to ``Base``; they count only
    once imported, so Alembic and the schema test call this instead of using
    ``Base.metadata`` directly.
    """
    import importlib
    import pkgutil

    import signalering.store as package

    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_") and module.name != "migrations":
            importlib.import_module(f"{package.__name__}.{module.name}")
    return Base.metadata


def post_of(row: Any, **more: Any) -> Post:
    """A Post from a stored row (a PostRow, or a select of its columns: text, id, source,
    kind, url, post_id, extras, lang, lang_confidence); ``more`` adds fields. The crawler's
    ``truncated`` marker moves from the extras to the post."""
    extras = dict(row.extras or {})
    truncated = bool(extras.pop("truncated", False)) or None
    return Post(
        text=row.text,
        id=str(row.id),
        source=row.source,
        kind=row.kind,
        url=row.url,
        post_id=row.post_id,
        extras=extras,
        lang=row.lang,
        lang_confidence=row.lang_confidence,
        truncated=truncated,
        **more,
    )
